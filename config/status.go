package config

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusRange is the HTTP status a health check expects: one code (200), a
// class ("2xx") or a range ("200-399"). Like Duration, a value that does not
// parse is kept with its error for validation to report with its line.
type StatusRange struct {
	Min, Max int
	bad      string
}

// UnmarshalTOML reads an integer or a string.
func (s *StatusRange) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		s.Min, s.Max, s.bad = int(v), int(v), ""
	case string:
		s.parse(v)
	default:
		s.bad = fmt.Sprint(v)
	}
	return nil
}

func (s *StatusRange) parse(v string) {
	v = strings.TrimSpace(v)
	s.bad = v
	if len(v) == 3 && strings.HasSuffix(strings.ToLower(v), "xx") && v[0] >= '1' && v[0] <= '5' {
		s.Min = int(v[0]-'0') * 100
		s.Max = s.Min + 99
		s.bad = ""
		return
	}
	lo, hi, isRange := strings.Cut(v, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := a, error(nil)
	if isRange {
		b, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 == nil && err2 == nil && a <= b {
		s.Min, s.Max, s.bad = a, b, ""
	}
}

// Contains reports whether status is in the range.
func (s StatusRange) Contains(status int) bool { return s.Min <= status && status <= s.Max }

func (s StatusRange) String() string {
	if s.Min == s.Max {
		return strconv.Itoa(s.Min)
	}
	return fmt.Sprintf("%d-%d", s.Min, s.Max)
}

func (s StatusRange) err() error {
	if s.bad != "" {
		return fmt.Errorf("%q is not a status, a class such as \"2xx\" or a range such as \"200-399\"", s.bad)
	}
	if s.Min < 100 || s.Max > 599 {
		return fmt.Errorf("%s is not an HTTP status", s)
	}
	return nil
}
