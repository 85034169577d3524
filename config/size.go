package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a number of bytes in the file: an integer, or a string of one
// with a binary unit, "512", "64KiB", "1MiB", "1GiB" (nginx's "64k" and
// "1m" too). A value that does not parse is kept with its error, so that
// validation can report it with its line.
type Size struct {
	Bytes int64
	set   bool
	bad   string
}

// UnmarshalTOML takes an integer or a string.
func (s *Size) UnmarshalTOML(v any) error {
	s.set, s.bad = true, ""
	switch v := v.(type) {
	case int64:
		if v < 0 {
			s.bad = strconv.FormatInt(v, 10)
			return nil
		}
		s.Bytes = v
	case string:
		n, ok := parseSize(v)
		if !ok {
			s.bad = v
			return nil
		}
		s.Bytes = n
	default:
		s.bad = fmt.Sprint(v)
	}
	return nil
}

// MarshalText writes the size back as a number of bytes.
func (s Size) MarshalText() ([]byte, error) { return strconv.AppendInt(nil, s.Bytes, 10), nil }

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"k", 1 << 10}, {"K", 1 << 10}, {"m", 1 << 20}, {"M", 1 << 20}, {"g", 1 << 30}, {"G", 1 << 30},
	{"B", 1},
}

func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, false
	}
	return n * mult, true
}

// err reports a value that did not parse.
func (s Size) err() error {
	if s.bad == "" {
		return nil
	}
	return fmt.Errorf("%q is not a size (use bytes or a unit: \"512\", \"64KiB\", \"1MiB\")", s.bad)
}

// Or returns s, or def when the file did not set it.
func (s Size) Or(def int64) Size {
	if !s.set {
		return Size{Bytes: def, set: true}
	}
	return s
}
