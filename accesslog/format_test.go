package accesslog

import (
	"bytes"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin without relying on the host's zoneinfo
)

func TestFormatString(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		want string
	}{
		{name: "common", f: Common, want: "common"},
		{name: "combined", f: Combined, want: "combined"},
		{name: "unknown", f: Format(7), want: "Format(7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// stamp is 10 Oct 2024 13:55:36 UTC, the time most cases log.
var stamp = time.Date(2024, time.October, 10, 13, 55, 36, 0, time.UTC)

func TestAppendCLF(t *testing.T) {
	get := Entry{
		Time: stamp, Client: "192.0.2.7", Method: "GET", URI: "/index.html", Proto: "HTTP/1.1",
		Status: 200, Bytes: 2326,
	}
	with := func(f func(e *Entry)) Entry {
		e := get
		f(&e)
		return e
	}
	tests := []struct {
		name   string
		entry  Entry
		format Format
		want   string
	}{
		{
			name: "common", entry: get, format: Common,
			want: `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326` + "\n",
		},
		{
			name: "authuser", entry: with(func(e *Entry) { e.User = "frank" }), format: Common,
			want: `192.0.2.7 - frank [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326` + "\n",
		},
		{
			name: "zero bytes print a dash", entry: with(func(e *Entry) { e.Status, e.Bytes = 304, 0 }), format: Common,
			want: `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 304 -` + "\n",
		},
		{
			name: "no status prints a dash", entry: with(func(e *Entry) { e.Status, e.Bytes = 0, 0 }), format: Common,
			want: `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" - -` + "\n",
		},
		{
			name: "combined",
			entry: with(func(e *Entry) {
				e.Referer, e.UserAgent = "http://www.example.com/start.html", "Mozilla/4.08 [en] (Win98; I ;Nav)"
			}),
			format: Combined,
			want: `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326 ` +
				`"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"` + "\n",
		},
		{
			name: "combined without referer and agent", entry: get, format: Combined,
			want: `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "-"` + "\n",
		},
		{
			name:  "common ignores referer and agent",
			entry: with(func(e *Entry) { e.Referer, e.UserAgent = "r", "ua" }), format: Common,
			want: `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326` + "\n",
		},
		{
			name: "request that never parsed", entry: with(func(e *Entry) { e.Method, e.URI, e.Proto, e.Status, e.Bytes = "", "", "", 408, 0 }),
			format: Common,
			want:   `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "-" 408 -` + "\n",
		},
		{
			name: "request line without protocol", entry: with(func(e *Entry) { e.Proto = "" }), format: Common,
			want: `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html" 200 2326` + "\n",
		},
		{
			name: "quote and forged line in the URI",
			entry: with(func(e *Entry) {
				e.URI = "/x\" 200 1\r\n6.6.6.6 - - [10/Oct/2024:13:55:37 +0000] \"GET /forged"
			}),
			format: Common,
			want:   `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /x\" 200 1\r\n6.6.6.6 - - [10/Oct/2024:13:55:37 +0000] \"GET /forged HTTP/1.1" 200 2326` + "\n",
		},
		{
			name:   "backslash is doubled",
			entry:  with(func(e *Entry) { e.URI = `/a\b\"` }),
			format: Common,
			want:   `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /a\\b\\\" HTTP/1.1" 200 2326` + "\n",
		},
		{
			name:   "NUL, DEL and other controls as hex",
			entry:  with(func(e *Entry) { e.URI = "/\x00\x7f\x1b\x01" }),
			format: Common,
			want:   `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /\x00\x7f\x1b\x01 HTTP/1.1" 200 2326` + "\n",
		},
		{
			name:   "named controls as Apache writes them",
			entry:  with(func(e *Entry) { e.URI = "/\b\t\v\n\r" }),
			format: Common,
			want:   `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /\b\t\v\n\r HTTP/1.1" 200 2326` + "\n",
		},
		{
			name:   "UTF-8 bytes as hex",
			entry:  with(func(e *Entry) { e.URI = "/café/日" }),
			format: Common,
			want:   `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "GET /caf\xc3\xa9/\xe6\x97\xa5 HTTP/1.1" 200 2326` + "\n",
		},
		{
			name: "hostile user, referer and agent",
			entry: with(func(e *Entry) {
				e.User, e.Referer, e.UserAgent = "a\"b", "r\n", "ua\"\\"
			}),
			format: Combined,
			want:   `192.0.2.7 - a\"b [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326 "r\n" "ua\"\\"` + "\n",
		},
		{
			name:   "hostile method",
			entry:  with(func(e *Entry) { e.Method = "G\"ET\n" }),
			format: Common,
			want:   `192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "G\"ET\n /index.html HTTP/1.1" 200 2326` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendCLF(nil, &tt.entry, tt.format, time.UTC))
			if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAppendCLFZones(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		loc  *time.Location
		want string
	}{
		{name: "india", at: time.Date(2023, 12, 31, 18, 40, 5, 0, time.UTC), loc: time.FixedZone("IST", 5*3600+1800),
			want: "[01/Jan/2024:00:10:05 +0530]"},
		{name: "pacific over a leap day", at: time.Date(2024, 3, 1, 5, 0, 0, 0, time.UTC), loc: time.FixedZone("PST", -8*3600),
			want: "[29/Feb/2024:21:00:00 -0800]"},
		{name: "berlin summer", at: time.Date(2024, 7, 4, 10, 0, 0, 0, time.UTC), loc: berlin,
			want: "[04/Jul/2024:12:00:00 +0200]"},
		{name: "berlin winter", at: time.Date(2024, 11, 4, 10, 0, 0, 0, time.UTC), loc: berlin,
			want: "[04/Nov/2024:11:00:00 +0100]"},
		{name: "berlin last second of summer time", at: time.Date(2024, 10, 27, 0, 59, 59, 0, time.UTC), loc: berlin,
			want: "[27/Oct/2024:02:59:59 +0200]"},
		{name: "berlin first second of winter time", at: time.Date(2024, 10, 27, 1, 0, 0, 0, time.UTC), loc: berlin,
			want: "[27/Oct/2024:02:00:00 +0100]"},
		{name: "zone of the entry is ignored", at: time.Date(2024, 5, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)), loc: time.UTC,
			want: "[02/May/2024:02:04:05 +0000]"},
	}
	for m := time.January; m <= time.December; m++ {
		tests = append(tests, struct {
			name string
			at   time.Time
			loc  *time.Location
			want string
		}{
			name: "month " + m.String(), at: time.Date(2025, m, 9, 8, 7, 6, 0, time.UTC), loc: time.UTC,
			want: "[09/" + m.String()[:3] + "/2025:08:07:06 +0000]",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Entry{Time: tt.at, Client: "192.0.2.1", Method: "GET", URI: "/", Proto: "HTTP/1.0", Status: 200, Bytes: 1}
			got := string(appendCLF(nil, &e, Common, tt.loc))
			if !strings.Contains(got, " - - "+tt.want+" ") {
				t.Fatalf("got %q, want stamp %s", got, tt.want)
			}
		})
	}
}

// TestAppendCLFLocal checks that AppendCLF formats in time.Local, whatever
// zone the entry's time carries.
func TestAppendCLFLocal(t *testing.T) {
	tests := []struct {
		name  string
		local *time.Location
		want  string
	}{
		{name: "east", local: time.FixedZone("NPT", 5*3600+45*60), want: "[10/Oct/2024:19:40:36 +0545]"},
		{name: "west", local: time.FixedZone("NST", -(3*3600 + 30*60)), want: "[10/Oct/2024:10:25:36 -0330]"},
		{name: "utc", local: time.UTC, want: "[10/Oct/2024:13:55:36 +0000]"},
	}
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			time.Local = tt.local
			e := Entry{Time: stamp.In(time.FixedZone("other", 7200)), Client: "192.0.2.1", Method: "GET", URI: "/", Proto: "HTTP/1.1", Status: 200}
			got := string(AppendCLF(nil, &e, Common))
			if !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, want stamp %s", got, tt.want)
			}
		})
	}
}

// TestAppendCLFOneLine feeds every byte value through every text field and
// checks that the result stays one line whose quotes are all escaped.
func TestAppendCLFOneLine(t *testing.T) {
	fields := []struct {
		name string
		set  func(e *Entry, s string)
	}{
		{name: "client", set: func(e *Entry, s string) { e.Client = s }},
		{name: "user", set: func(e *Entry, s string) { e.User = s }},
		{name: "method", set: func(e *Entry, s string) { e.Method = s }},
		{name: "uri", set: func(e *Entry, s string) { e.URI = s }},
		{name: "proto", set: func(e *Entry, s string) { e.Proto = s }},
		{name: "referer", set: func(e *Entry, s string) { e.Referer = s }},
		{name: "user agent", set: func(e *Entry, s string) { e.UserAgent = s }},
	}
	for _, f := range fields {
		t.Run(f.name, func(t *testing.T) {
			for c := 0; c < 256; c++ {
				e := Entry{Time: stamp, Client: "c", Method: "GET", URI: "/", Proto: "HTTP/1.1", Status: 200}
				f.set(&e, "a"+string([]byte{byte(c)})+"b")
				got := AppendCLF(nil, &e, Combined)
				if bytes.IndexByte(got, '\n') != len(got)-1 {
					t.Fatalf("byte %#x: not one line: %q", c, got)
				}
				for i, b := range got {
					if b < 0x20 && b != '\n' || b >= 0x7f {
						t.Fatalf("byte %#x: raw byte %#x at %d in %q", c, b, i, got)
					}
				}
				// Outside the escapes, exactly the six delimiting quotes remain.
				if n := bytes.Count(bytes.ReplaceAll(bytes.ReplaceAll(got, []byte(`\\`), nil), []byte(`\"`), nil), []byte(`"`)); n != 6 {
					t.Fatalf("byte %#x: %d bare quotes in %q", c, n, got)
				}
			}
		})
	}
}

func TestAppendCLFAllocs(t *testing.T) {
	e := Entry{Time: stamp, Client: "192.0.2.7", User: "u", Method: "GET", URI: "/a\"b\n", Proto: "HTTP/1.1",
		Status: 200, Bytes: 99, Referer: "http://x/", UserAgent: "curl/8"}
	buf := make([]byte, 0, 512)
	for _, f := range []Format{Common, Combined} {
		t.Run(f.String(), func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { buf = AppendCLF(buf[:0], &e, f) }); n != 0 {
				t.Fatalf("AppendCLF allocates %v times per call", n)
			}
		})
	}
}

func BenchmarkAppendCLF(b *testing.B) {
	e := Entry{Time: stamp, Client: "192.0.2.7", Method: "GET", URI: "/static/app.js?v=12", Proto: "HTTP/1.1",
		Status: 200, Bytes: 51234, Referer: "https://example.com/", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCLF(buf[:0], &e, Combined)
	}
	b.SetBytes(int64(len(buf)))
}
