package accesslog

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		name   string
		line   string
		want   time.Time
		wantOK bool
	}{
		{name: "utc", line: `192.0.2.1 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 1`,
			want: utc(2024, 10, 10, 13, 55, 36), wantOK: true},
		{name: "east of utc", line: `h - - [01/Jan/2024:00:10:05 +0530] "GET /"`,
			want: utc(2023, 12, 31, 18, 40, 5), wantOK: true},
		{name: "west of utc", line: `h - - [29/Feb/2024:21:00:00 -0800] "GET /"`,
			want: utc(2024, 3, 1, 5, 0, 0), wantOK: true},
		{name: "lower-case month as mergelog accepts", line: `h - - [10/oct/2024:13:55:36 +0000] x`,
			want: utc(2024, 10, 10, 13, 55, 36), wantOK: true},
		{name: "bracket before the stamp", line: `[::1] - [x] [05/Aug/2023:07:08:09 +0200] "GET /"`,
			want: utc(2023, 8, 5, 5, 8, 9), wantOK: true},
		{name: "stamp at the very end", line: `[31/Dec/1999:23:59:59 +0000]`,
			want: utc(1999, 12, 31, 23, 59, 59), wantOK: true},
		{name: "before 1970", line: `h - - [20/Jul/1969:20:17:40 +0000]`,
			want: utc(1969, 7, 20, 20, 17, 40), wantOK: true},
		{name: "leap day of 2000", line: `h - - [29/Feb/2000:12:00:00 +0000]`,
			want: utc(2000, 2, 29, 12, 0, 0), wantOK: true},
		{name: "leap second rolls over", line: `h - - [31/Dec/2016:23:59:60 +0000]`,
			want: utc(2017, 1, 1, 0, 0, 0), wantOK: true},
		{name: "no bracket", line: `h - - 10/Oct/2024:13:55:36 +0000 "GET /"`},
		{name: "empty", line: ``},
		{name: "unknown month", line: `h - - [10/Foo/2024:13:55:36 +0000]`},
		{name: "day 32", line: `h - - [32/Oct/2024:13:55:36 +0000]`},
		{name: "day 0", line: `h - - [00/Oct/2024:13:55:36 +0000]`},
		{name: "30 February", line: `h - - [30/Feb/2024:13:55:36 +0000]`},
		{name: "29 February of 2023", line: `h - - [29/Feb/2023:13:55:36 +0000]`},
		{name: "29 February of 1900", line: `h - - [29/Feb/1900:13:55:36 +0000]`},
		{name: "31 April", line: `h - - [31/Apr/2024:13:55:36 +0000]`},
		{name: "hour 24", line: `h - - [10/Oct/2024:24:00:00 +0000]`},
		{name: "minute 60", line: `h - - [10/Oct/2024:23:60:00 +0000]`},
		{name: "no zone", line: `h - - [10/Oct/2024:13:55:36] "GET /"`},
		{name: "zone without sign", line: `h - - [10/Oct/2024:13:55:36 00000]`},
		{name: "zone minutes 75", line: `h - - [10/Oct/2024:13:55:36 +0175]`},
		{name: "unclosed", line: `h - - [10/Oct/2024:13:55:36 +0000 "GET /"`},
		{name: "truncated", line: `h - - [10/Oct/2024:13:5`},
		{name: "letters for digits", line: `h - - [1O/Oct/2024:13:55:36 +0000]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseTime([]byte(tt.line))
			if ok != tt.wantOK {
				t.Fatalf("ParseTime(%q) ok = %v, want %v", tt.line, ok, tt.wantOK)
			}
			if ok && !got.Equal(tt.want) {
				t.Fatalf("ParseTime(%q) = %v, want %v", tt.line, got, tt.want)
			}
		})
	}
}

// TestParseTimeMatchesFormat round-trips random instants through the
// formatter in random zones, so the hand parser agrees with package time.
func TestParseTimeMatchesFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	zones := []struct {
		name string
		loc  *time.Location
	}{
		{name: "utc", loc: time.UTC},
		{name: "+0530", loc: time.FixedZone("", 5*3600+1800)},
		{name: "-0800", loc: time.FixedZone("", -8*3600)},
		{name: "+1400", loc: time.FixedZone("", 14*3600)},
	}
	for _, z := range zones {
		t.Run(z.name, func(t *testing.T) {
			for range 2000 {
				at := time.Unix(r.Int64N(16e9)-4e9, 0) // 1843 to 2477
				e := Entry{Time: at, Client: "h", Status: 200}
				line := appendCLF(nil, &e, Common, z.loc)
				got, ok := ParseTime(line)
				if !ok || !got.Equal(at) {
					t.Fatalf("ParseTime(%q) = %v, %v; want %v", line, got, ok, at.UTC())
				}
			}
		})
	}
}

func TestParseTimeAllocs(t *testing.T) {
	line := []byte(`192.0.2.1 - - [10/Oct/2024:13:55:36 +0200] "GET / HTTP/1.1" 200 1`)
	if n := testing.AllocsPerRun(100, func() { ParseTime(line) }); n != 0 {
		t.Fatalf("ParseTime allocates %v times per call", n)
	}
}

func BenchmarkParseTime(b *testing.B) {
	line := []byte(`192.0.2.1 - - [10/Oct/2024:13:55:36 +0200] "GET /static/app.js HTTP/1.1" 200 51234`)
	b.ReportAllocs()
	for b.Loop() {
		ParseTime(line)
	}
}
