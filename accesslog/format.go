package accesslog

import (
	"strconv"
	"time"
)

// Format selects the line layout. Both are read by webalizer, AWStats and
// every other CLF tool without configuration.
type Format int

const (
	// Common is the Common Log Format (Apache's "common").
	Common Format = iota
	// Combined is Common followed by the quoted Referer and User-Agent
	// (Apache's "combined").
	Combined
)

// String returns the configuration spelling, so a Format prints as it is
// written in quill's config.
func (f Format) String() string {
	switch f {
	case Common:
		return "common"
	case Combined:
		return "combined"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Entry is one request, filled by the proxy when the response is done.
type Entry struct {
	// Time is when the request arrived; the local zone is applied when
	// formatting, as Apache does.
	Time time.Time
	// Client is the real client IP, already decided by the proxy.
	Client string
	// User is the authenticated user; "" prints "-".
	User string
	// Method, URI and Proto make up the request line. All three empty (a
	// request that never parsed) prints "-" as Apache does.
	Method, URI, Proto string
	// Status is the response status; zero or less prints "-".
	Status int
	// Bytes counts response body bytes; zero prints "-" as CLF requires.
	Bytes int64
	// Referer and UserAgent appear in the Combined format only; "" prints "-".
	Referer, UserAgent string
}

var monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

const hexDigits = "0123456789abcdef"

// AppendCLF appends e as one log line, newline included, in format f.
// It allocates nothing beyond the growth of dst, so the proxy can format
// in the request goroutine into a pooled buffer.
func AppendCLF(dst []byte, e *Entry, f Format) []byte {
	return appendCLF(dst, e, f, time.Local)
}

// appendCLF formats with the zone loc; AppendCLF passes time.Local.
func appendCLF(dst []byte, e *Entry, f Format, loc *time.Location) []byte {
	dst = appendField(dst, e.Client)
	dst = append(dst, " - "...)
	dst = appendField(dst, e.User)
	dst = append(dst, " ["...)
	dst = appendStamp(dst, e.Time.In(loc))
	dst = append(dst, "] \""...)
	dst = appendRequest(dst, e)
	dst = append(dst, "\" "...)
	if e.Status > 0 {
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, ' ')
	if e.Bytes > 0 {
		dst = strconv.AppendInt(dst, e.Bytes, 10)
	} else {
		dst = append(dst, '-')
	}
	if f == Combined {
		dst = append(dst, " \""...)
		dst = appendField(dst, e.Referer)
		dst = append(dst, "\" \""...)
		dst = appendField(dst, e.UserAgent)
		dst = append(dst, '"')
	}
	return append(dst, '\n')
}

// appendStamp writes dd/Mon/yyyy:HH:MM:SS -0700 with the offset in force
// at t, so lines across a daylight-saving change stay unambiguous.
func appendStamp(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	_, off := t.Zone()
	dst = append2(dst, day)
	dst = append(dst, '/')
	dst = append(dst, monthNames[month-1]...)
	dst = append(dst, '/')
	if year < 0 {
		dst = append(dst, '-')
		year = -year
	}
	dst = append2(dst, year/100%100)
	dst = append2(dst, year%100)
	dst = append(dst, ':')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, minute)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	dst = append(dst, ' ')
	if off < 0 {
		dst = append(dst, '-')
		off = -off
	} else {
		dst = append(dst, '+')
	}
	off /= 60
	dst = append2(dst, off/60)
	return append2(dst, off%60)
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10%10), byte('0'+n%10))
}

// appendRequest writes the request line from its non-empty parts, or "-"
// when there is none (a request that timed out or never parsed), which is
// what Apache writes for %r in that case.
func appendRequest(dst []byte, e *Entry) []byte {
	start := len(dst)
	for _, part := range [3]string{e.Method, e.URI, e.Proto} {
		if part == "" {
			continue
		}
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		dst = appendEscaped(dst, part)
	}
	if len(dst) == start {
		dst = append(dst, '-')
	}
	return dst
}

// appendField writes s escaped, or "-" when it is empty.
func appendField(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	return appendEscaped(dst, s)
}

// appendEscaped escapes s as Apache's ap_escape_logitem does, so a hostile
// request can neither end its quoted field nor forge a second line: `"` and
// `\` get a backslash, \b \n \r \t \v are written as such, and every other
// byte outside printable ASCII (controls, 0x7f and all of 0x80-0xff,
// multi-byte UTF-8 included) becomes \xhh.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20 && c < 0x7f:
			dst = append(dst, c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\v':
			dst = append(dst, '\\', 'v')
		default:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return dst
}
