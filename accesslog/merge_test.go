package accesslog

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// clf returns one CLF line for host at second sec past 10 Oct 2024
// 13:00:00 in the zone "+hhmm" or "-hhmm" given as offset.
func clf(host string, sec int, offset string) string {
	return fmt.Sprintf("%s - - [10/Oct/2024:13:%02d:%02d %s] \"GET /%s%d HTTP/1.1\" 200 1\n", host, sec/60, sec%60, offset, host, sec)
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMerge(t *testing.T) {
	long := "h - - [10/Oct/2024:13:00:05 +0000] \"GET /" + strings.Repeat("x", 3*mergeReadSize) + "\" 200 1\n"
	tests := []struct {
		name   string
		inputs []string
		want   string
		stats  MergeStats
	}{
		{
			name:   "interleave",
			inputs: []string{clf("a", 1, "+0000") + clf("a", 4, "+0000"), clf("b", 2, "+0000") + clf("b", 3, "+0000")},
			want:   clf("a", 1, "+0000") + clf("b", 2, "+0000") + clf("b", 3, "+0000") + clf("a", 4, "+0000"),
			stats:  MergeStats{Lines: 4},
		},
		{
			name: "equal timestamps keep input order then line order",
			inputs: []string{
				clf("a", 5, "+0000") + clf("a", 5, "+0000") + clf("a", 6, "+0000"),
				clf("b", 4, "+0000") + clf("b", 5, "+0000") + clf("b", 6, "+0000"),
				clf("c", 5, "+0000") + clf("c", 6, "+0000"),
			},
			want: clf("b", 4, "+0000") + clf("a", 5, "+0000") + clf("a", 5, "+0000") + clf("b", 5, "+0000") +
				clf("c", 5, "+0000") + clf("a", 6, "+0000") + clf("b", 6, "+0000") + clf("c", 6, "+0000"),
			stats: MergeStats{Lines: 8},
		},
		{
			name: "different offsets compare as instants",
			// a's 14:00:10 +0100 is 13:00:10 UTC; b's 12:00:05 -0100 is 13:00:05 UTC.
			inputs: []string{
				"a - - [10/Oct/2024:14:00:10 +0100] \"GET /a\" 200 1\n",
				"b - - [10/Oct/2024:12:00:05 -0100] \"GET /b1\" 200 1\nb - - [10/Oct/2024:12:00:15 -0100] \"GET /b2\" 200 1\n",
			},
			want: "b - - [10/Oct/2024:12:00:05 -0100] \"GET /b1\" 200 1\n" +
				"a - - [10/Oct/2024:14:00:10 +0100] \"GET /a\" 200 1\n" +
				"b - - [10/Oct/2024:12:00:15 -0100] \"GET /b2\" 200 1\n",
			stats: MergeStats{Lines: 3},
		},
		{
			name: "malformed line follows the line before it",
			inputs: []string{
				clf("a", 1, "+0000") + "garbage\n" + "\n" + clf("a", 9, "+0000"),
				clf("b", 0, "+0000") + clf("b", 1, "+0000") + clf("b", 2, "+0000"),
			},
			want: clf("b", 0, "+0000") + clf("a", 1, "+0000") + "garbage\n" + "\n" + clf("b", 1, "+0000") +
				clf("b", 2, "+0000") + clf("a", 9, "+0000"),
			stats: MergeStats{Lines: 7, Unparsed: 2},
		},
		{
			name: "malformed first lines sort first in input order",
			inputs: []string{
				clf("a", 1, "+0000"),
				"header b\n" + clf("b", 0, "+0000"),
				"header c\n" + clf("c", 2, "+0000"),
			},
			want:  "header b\nheader c\n" + clf("b", 0, "+0000") + clf("a", 1, "+0000") + clf("c", 2, "+0000"),
			stats: MergeStats{Lines: 5, Unparsed: 2},
		},
		{
			name:   "line out of order within its input",
			inputs: []string{clf("a", 1, "+0000") + clf("a", 9, "+0000") + clf("a", 3, "+0000"), clf("b", 5, "+0000")},
			want:   clf("a", 1, "+0000") + clf("b", 5, "+0000") + clf("a", 9, "+0000") + clf("a", 3, "+0000"),
			stats:  MergeStats{Lines: 4},
		},
		{
			name:   "empty input among others",
			inputs: []string{"", clf("b", 2, "+0000"), ""},
			want:   clf("b", 2, "+0000"),
			stats:  MergeStats{Lines: 1},
		},
		{
			name:   "only empty inputs",
			inputs: []string{"", ""},
			want:   "",
		},
		{
			name: "no inputs",
			want: "",
		},
		{
			name:   "last line without newline gets one",
			inputs: []string{strings.TrimSuffix(clf("a", 3, "+0000"), "\n"), clf("b", 1, "+0000") + clf("b", 5, "+0000")},
			want:   clf("b", 1, "+0000") + clf("a", 3, "+0000") + clf("b", 5, "+0000"),
			stats:  MergeStats{Lines: 3},
		},
		{
			name:   "carriage returns are kept",
			inputs: []string{strings.ReplaceAll(clf("a", 3, "+0000"), "\n", "\r\n"), clf("b", 1, "+0000")},
			want:   clf("b", 1, "+0000") + strings.ReplaceAll(clf("a", 3, "+0000"), "\n", "\r\n"),
			stats:  MergeStats{Lines: 2},
		},
		{
			name:   "line longer than the read buffer",
			inputs: []string{clf("a", 1, "+0000") + long + clf("a", 9, "+0000"), clf("b", 3, "+0000") + clf("b", 7, "+0000")},
			want:   clf("a", 1, "+0000") + clf("b", 3, "+0000") + long + clf("b", 7, "+0000") + clf("a", 9, "+0000"),
			stats:  MergeStats{Lines: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inputs []io.Reader
			for _, s := range tt.inputs {
				inputs = append(inputs, strings.NewReader(s))
			}
			var out bytes.Buffer
			st, err := Merge(&out, inputs)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Fatalf("got\n%.2000s\nwant\n%.2000s", got, tt.want)
			}
			if st != tt.stats {
				t.Fatalf("stats = %+v, want %+v", st, tt.stats)
			}
		})
	}
}

// TestMergeMany merges ten inputs with colliding times and checks the
// result against a stable sort of all lines by (instant, input, line).
func TestMergeMany(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	type rec struct {
		sec  int
		in   int
		text string
	}
	var all []rec
	var inputs []io.Reader
	for in := range 10 {
		var b strings.Builder
		sec := r.IntN(5)
		for range 200 + r.IntN(100) {
			sec += r.IntN(3)
			host := fmt.Sprintf("in%d-%d", in, b.Len())
			line := clf(host, sec, "+0000")
			b.WriteString(line)
			all = append(all, rec{sec: sec, in: in, text: line})
		}
		inputs = append(inputs, strings.NewReader(b.String()))
	}
	slices.SortStableFunc(all, func(a, b rec) int {
		if a.sec != b.sec {
			return a.sec - b.sec
		}
		return a.in - b.in
	})
	var want strings.Builder
	for _, x := range all {
		want.WriteString(x.text)
	}
	var out bytes.Buffer
	st, err := Merge(&out, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Fatalf("merge of ten inputs differs from the stable sort")
	}
	if st.Lines != len(all) || st.Unparsed != 0 {
		t.Fatalf("stats = %+v, want %d lines", st, len(all))
	}
}

func TestMergeFiles(t *testing.T) {
	dir := t.TempDir()
	a := clf("a", 1, "+0000") + clf("a", 4, "+0000")
	b := clf("b", 2, "+0000") + clf("b", 5, "+0000")
	c := clf("c", 3, "+0000")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Names lie on purpose: detection goes by the magic bytes.
	plainA := write("a.log.gz", []byte(a))
	gzB := write("b.log", gzipped(t, b))
	// Two gzip members in one file, as `cat x.gz y.gz` makes.
	twoMembers := write("c.log.1", append(gzipped(t, c[:len(c)/2]), gzipped(t, c[len(c)/2:])...))
	stdin := write("stdin.log", []byte(clf("s", 0, "+0000")))
	broken := write("broken.gz", gzipped(t, a)[:20])

	tests := []struct {
		name    string
		paths   []string
		stdin   string
		want    string
		wantErr string
	}{
		{name: "plain and gzip", paths: []string{plainA, gzB},
			want: clf("a", 1, "+0000") + clf("b", 2, "+0000") + clf("a", 4, "+0000") + clf("b", 5, "+0000")},
		{name: "concatenated gzip members", paths: []string{twoMembers, plainA},
			want: clf("a", 1, "+0000") + c + clf("a", 4, "+0000")},
		{name: "dash is standard input", paths: []string{gzB, "-"}, stdin: stdin,
			want: clf("s", 0, "+0000") + b},
		{name: "missing file names its path", paths: []string{plainA, filepath.Join(dir, "nope.log")},
			wantErr: `merge "` + filepath.Join(dir, "nope.log") + `"`},
		{name: "truncated gzip names its path", paths: []string{broken},
			wantErr: `merge "` + broken + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.stdin != "" {
				f, err := os.Open(tt.stdin)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				saved := os.Stdin
				os.Stdin = f
				defer func() { os.Stdin = saved }()
			}
			var out bytes.Buffer
			_, err := MergeFiles(&out, tt.paths)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

// failWriter fails every write, as a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestMergeWriteError(t *testing.T) {
	big := strings.Repeat(clf("a", 1, "+0000"), 2*mergeWriteSize/len(clf("a", 1, "+0000")))
	_, err := Merge(failWriter{}, []io.Reader{strings.NewReader(big)})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error = %v, want the write error", err)
	}
}

// benchLog builds n bytes of log lines a second apart, starting at start.
func benchLog(n int, host string, start time.Time) []byte {
	b := make([]byte, 0, n+256)
	e := Entry{Client: host, Method: "GET", Proto: "HTTP/1.1", Status: 200, Bytes: 4312,
		Referer: "https://www.example.com/", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
	for i := 0; len(b) < n; i++ {
		e.Time = start.Add(time.Duration(i) * time.Second)
		e.URI = "/static/img/" + host + ".png"
		b = appendCLF(b, &e, Combined, time.UTC)
	}
	return b
}

func BenchmarkMerge(b *testing.B) {
	start := time.Date(2024, 10, 10, 0, 0, 0, 0, time.UTC)
	x := benchLog(4<<20, "192.0.2.10", start)
	y := benchLog(4<<20, "198.51.100.20", start.Add(time.Second/2))
	b.SetBytes(int64(len(x) + len(y)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(io.Discard, []io.Reader{bytes.NewReader(x), bytes.NewReader(y)}); err != nil {
			b.Fatal(err)
		}
	}
}
