package accesslog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// logBatch logs n lines /<prefix>/<i> that are due at once.
func logBatch(l *Logger, prefix string, n int) {
	old := time.Now().Add(-time.Minute)
	for i := range n {
		l.Log(entry(fmt.Sprintf("/%s/%d", prefix, i), old))
	}
}

// countURIs counts each URI over the given files; a missing file counts
// as empty.
func countURIs(t *testing.T, paths ...string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, p := range paths {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			continue
		}
		for _, u := range uris(t, readLines(t, p)) {
			seen[u]++
		}
	}
	return seen
}

// wantOnce checks that every line of the batches appears exactly once.
func wantOnce(t *testing.T, seen map[string]int, batches map[string]int) {
	t.Helper()
	total := 0
	for prefix, n := range batches {
		total += n
		for i := range n {
			u := fmt.Sprintf("/%s/%d", prefix, i)
			if seen[u] != 1 {
				t.Errorf("%s written %d times", u, seen[u])
			}
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct lines, want %d", len(seen), total)
	}
}

// TestReopenAfterRename is logrotate's rotation: rename, then SIGUSR1.
func TestReopenAfterRename(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
	}{
		{name: "short window", window: 10 * time.Millisecond},
		// Lines still in the window at Reopen go to the new file.
		{name: "lines held across the reopen", window: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			l, err := Open(Options{Path: path, Window: tt.window})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			logBatch(l, "before", 50)
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			logBatch(l, "renamed", 50)
			if err := l.Reopen(); err != nil {
				t.Fatalf("Reopen: %v", err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("Reopen did not create the file: %v", err)
			}
			logBatch(l, "after", 50)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			wantOnce(t, countURIs(t, path, path+".1"), map[string]int{"before": 50, "renamed": 50, "after": 50})
			if n := countURIs(t, path)["/after/49"]; n != 1 {
				t.Fatalf("the last line is not in the new file")
			}
		})
	}
}

// TestReopenDirectoryGone removes the log's directory: Reopen fails, lines
// wait in memory, and they land once the directory is back.
func TestReopenDirectoryGone(t *testing.T) {
	tests := []struct {
		name string
		// back brings the file back after the directory is restored.
		back func(t *testing.T, l *Logger)
	}{
		{name: "writer retries on its own", back: func(t *testing.T, l *Logger) {
			waitFor(t, "the held lines", func() bool { return l.Stats().Lines == 20 })
		}},
		{name: "second Reopen succeeds", back: func(t *testing.T, l *Logger) {
			if err := l.Reopen(); err != nil {
				t.Fatalf("Reopen with the directory back: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "logs")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "access.log")
			l, err := Open(Options{Path: path, Window: 10 * time.Millisecond, Buffer: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			logBatch(l, "first", 10)
			waitFor(t, "the first lines", func() bool { return l.Stats().Lines == 10 })

			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
			err = l.Reopen()
			if err == nil || !strings.Contains(err.Error(), `access log "`+path+`": reopen: `) {
				t.Fatalf("Reopen with the directory gone: %v", err)
			}
			logBatch(l, "held", 10)
			waitFor(t, "failed retries", func() bool { return l.Stats().WriteErrors >= 2 })
			if st := l.Stats(); st.Lines != 10 || st.Dropped != 0 {
				t.Fatalf("stats while the directory is gone: %+v", st)
			}

			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.back(t, l)
			logBatch(l, "last", 10)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			wantOnce(t, countURIs(t, path, filepath.Join(dir+".old", "access.log")),
				map[string]int{"first": 10, "held": 10, "last": 10})
			if n := len(readLines(t, path)); n != 20 {
				t.Fatalf("new file holds %d lines, want the 20 held and last ones", n)
			}
		})
	}
}

// TestCloseWithDirectoryGone reports the lines it could not write instead
// of hanging.
func TestCloseWithDirectoryGone(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "access.log")
	l, err := Open(Options{Path: path, Window: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("Reopen with the directory gone succeeded")
	}
	logBatch(l, "lost", 3)
	err = l.Close()
	if err == nil || !strings.Contains(err.Error(), "3 lines not written") {
		t.Fatalf("Close error = %v, want 3 lines not written", err)
	}
}
