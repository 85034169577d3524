package accesslog

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the writer's notion of now, moved by hand so that window
// tests do not sleep through windows.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// entry is a request for uri that arrived at at.
func entry(uri string, at time.Time) *Entry {
	return &Entry{Time: at, Client: "192.0.2.9", Method: "GET", URI: uri, Proto: "HTTP/1.1", Status: 200, Bytes: 5}
}

// readLines returns the lines of the file at path, without newlines.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// uris extracts the request URI of each line.
func uris(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 7 {
			t.Fatalf("not a CLF line: %q", l)
		}
		out = append(out, f[6])
	}
	return out
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "directory missing", opts: Options{Path: filepath.Join(dir, "nope", "access.log")},
			want: `access log "` + filepath.Join(dir, "nope", "access.log") + `": open `},
		{name: "path is a directory", opts: Options{Path: dir},
			want: `access log "` + dir + `": open `},
		{name: "neither file nor syslog", opts: Options{}, want: "no path and no syslog"},
		{name: "unknown format", opts: Options{Path: filepath.Join(dir, "a.log"), Format: Format(7)}, want: "unknown format"},
		{name: "negative window", opts: Options{Path: filepath.Join(dir, "a.log"), Window: -time.Second}, want: "negative window"},
		{name: "negative buffer", opts: Options{Path: filepath.Join(dir, "a.log"), Buffer: -1}, want: "negative buffer"},
		{name: "syslog scheme", opts: Options{Syslog: "tcp://127.0.0.1:514"}, want: `access log syslog "tcp://127.0.0.1:514": want udp://`},
		{name: "syslog udp without port", opts: Options{Syslog: "udp://127.0.0.1"}, want: `access log syslog "udp://127.0.0.1"`},
		{name: "syslog socket missing", opts: Options{Path: filepath.Join(dir, "b.log"), Syslog: "unix://" + filepath.Join(dir, "no.sock")},
			want: `access log syslog "unix://` + filepath.Join(dir, "no.sock") + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(tt.opts)
			if err == nil {
				l.Close()
				t.Fatalf("Open(%+v) succeeded", tt.opts)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestOpenCreatesFile(t *testing.T) {
	tests := []struct {
		name     string
		existing string
		format   Format
		want     []string
	}{
		{name: "new file", format: Common,
			want: []string{`192.0.2.9 - - [10/Oct/2024:13:55:36 +0000] "GET /new HTTP/1.1" 200 5`}},
		{name: "appends to an existing file", existing: "old line\n", format: Combined,
			want: []string{"old line", `192.0.2.9 - - [10/Oct/2024:13:55:36 +0000] "GET /new HTTP/1.1" 200 5 "-" "-"`}},
	}
	saved := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			if tt.existing != "" {
				if err := os.WriteFile(path, []byte(tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			l, err := Open(Options{Path: path, Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("file not created at Open: %v", err)
			}
			if tt.existing == "" && fi.Mode().Perm() != 0o644&^currentUmask() {
				t.Fatalf("mode %v, want 0644 less umask", fi.Mode().Perm())
			}
			l.Log(entry("/new", stamp))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got := readLines(t, path)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("file holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if st := l.Stats(); st != (Stats{Lines: 1}) {
				t.Fatalf("stats = %+v, want one line", st)
			}
		})
	}
}

// currentUmask reads the process umask from the kernel without changing it.
func currentUmask() os.FileMode {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o022
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err == nil {
				return os.FileMode(m)
			}
		}
	}
	return 0o022
}

func TestStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	saved := os.Stdout
	os.Stdout = w
	l, err := Open(Options{Path: "-", Window: 10 * time.Millisecond})
	if err != nil {
		os.Stdout = saved
		t.Fatal(err)
	}
	l.Log(entry("/to-stdout", stamp))
	if err := l.Reopen(); err != nil {
		t.Errorf("Reopen of stdout: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	os.Stdout = saved
	// Close must leave standard output open.
	if _, err := w.Write([]byte("still open\n")); err != nil {
		t.Fatalf("stdout closed by Close: %v", err)
	}
	w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"GET /to-stdout HTTP/1.1"`) || !strings.HasSuffix(string(out), "still open\n") {
		t.Fatalf("stdout got %q", out)
	}
}

func BenchmarkLoggerLog(b *testing.B) {
	path := filepath.Join(b.TempDir(), "access.log")
	l, err := Open(Options{Path: path, Format: Combined, Window: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := Entry{Client: "192.0.2.7", Method: "GET", URI: "/static/app.js?v=12", Proto: "HTTP/1.1",
			Status: 200, Bytes: 51234, Referer: "https://example.com/", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"}
		for pb.Next() {
			e.Time = time.Now()
			l.Log(&e)
		}
	})
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	if st := l.Stats(); st.Dropped != 0 || st.WriteErrors != 0 {
		b.Fatalf("stats = %+v", st)
	}
}
