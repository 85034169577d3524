package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lines the access log must not lose: to a reopen under load, to logrotate,
// to TERM while lines are held, and to TERM right after a reload.

func TestAccessLogReopenUnderLoadLosesNoLine(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	rotated := logPath + ".1"
	// Lines are due 100ms after their request, so that the rotated file
	// gets the lines of the requests well before the reopen, and the new
	// file those just before it (still held) and after it.
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, `window = "100ms"`), vip)

	ld := startLoad("http://"+vip, 4, 300, 2*time.Millisecond, 15*time.Second, false)
	// logrotate's way: rename, then signal, while requests keep coming.
	ld.waitOK(t, 400)
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	q.signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "access logs reopened") })
	atReopen := ld.ok.Load()
	ld.wait()
	termQuill(t, q)

	if len(ld.failed) > 0 || len(ld.other) > 0 {
		t.Errorf("while rotating: %d requests failed (%v), %d not 200 (%v)", len(ld.failed), ld.failed, len(ld.other), ld.other)
	}
	old, cur := readAccessLog(t, rotated), readAccessLog(t, logPath)
	t.Logf("%d requests answered 200: %d lines in the rotated file, %d in the new one; %d answered at reopen", len(ld.paths), len(old), len(cur), atReopen)
	if len(old) == 0 || len(cur) == 0 || atReopen >= int64(len(ld.paths)) {
		t.Errorf("rotation did not happen under load: %d lines before, %d after, %d of %d requests answered at reopen", len(old), len(cur), atReopen, len(ld.paths))
	}
	if len(old)+len(cur) != len(ld.paths) {
		t.Errorf("%d + %d lines for %d requests answered 200", len(old), len(cur), len(ld.paths))
	}
	logged := byPath(t, append(old, cur...))
	for _, p := range ld.paths {
		if _, ok := logged[p]; !ok {
			t.Errorf("%s answered 200 but not logged", p)
		}
	}
}

func TestAccessLogTermUnderLoadLosesNoLine(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	// Each line is held a second, so TERM comes while many are held.
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, `window = "1s"`), vip)

	// TERM once the first lines are written, so that the file holds those
	// and quill holds the lines of the last second.
	ld := startLoad("http://"+vip, 4, 500, 5*time.Millisecond, 15*time.Second, true)
	ld.waitOK(t, 100)
	eventually(t, 10*time.Second, func() bool { return countLines(t, logPath) > 0 })
	answered := ld.ok.Load()
	written := countLines(t, logPath)
	q.signal(syscall.SIGTERM)
	if err := q.wait(t, 20*time.Second); err != nil {
		t.Fatalf("quill exited with %v", err)
	}
	ld.wait()

	if written == 0 || int64(written) >= answered {
		t.Errorf("%d lines were written for %d answered requests before TERM; want some written and some held", written, answered)
	}
	lines := readAccessLog(t, logPath)
	t.Logf("before TERM: %d answers, %d lines in the file; in all: %d answered 200, %d other answers, %d without answer, %d lines",
		answered, written, len(ld.paths), len(ld.other), len(ld.failed), len(lines))
	logged := byPath(t, lines)
	for _, p := range ld.paths {
		if _, ok := logged[p]; !ok {
			t.Errorf("%s answered 200 but not logged", p)
		}
	}
	sent := len(ld.paths) + len(ld.other) + len(ld.failed)
	if len(lines) < len(ld.paths) || len(lines) > sent {
		t.Errorf("%d lines for %d requests sent, %d answered 200", len(lines), sent, len(ld.paths))
	}
}

// TestAccessLogTermRightAfterReloadLosesNoLine stops quill while a logger
// that a reload replaced still holds lines: TERM must flush it too.
func TestAccessLogTermRightAfterReloadLosesNoLine(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.log"), filepath.Join(dir, "after.log")
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(before, `window = "1s"`), vip)
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			if code, _, err := get(client, fmt.Sprintf("http://%s/%s/%d", vip, prefix, i)); err != nil || code != 200 {
				t.Fatalf("request %s %d: %d %v", prefix, i, code, err)
			}
		}
	}
	send("before", 10)
	// A reload that moves the log elsewhere, then TERM while the old log
	// still holds the lines of its last second.
	q.rewrite(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(after, `window = "1s"`))
	q.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "config reloaded") })
	send("after", 5)
	termQuill(t, q)

	for _, tt := range []struct {
		file string
		want int
	}{{before, 10}, {after, 5}} {
		if got := len(readAccessLog(t, tt.file)); got != tt.want {
			t.Errorf("%s: %d lines, want %d", filepath.Base(tt.file), got, tt.want)
		}
	}
}

// TestLogrotateConfig checks configs/logrotate.quill with the real
// logrotate, where it is installed: it must parse without error, and a
// copy aimed at a temporary directory, signalling the quill of this test,
// must rotate the access log without losing a line.
func TestLogrotateConfig(t *testing.T) {
	requireTool(t, "logrotate")
	shipped := filepath.Join("..", "configs", "logrotate.quill")
	state := filepath.Join(t.TempDir(), "state")
	out, err := exec.Command("logrotate", "-d", "-s", state, shipped).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("error:")) {
		t.Fatalf("logrotate -d %s: %v\n%s", shipped, err, out)
	}

	web := startBackend(t, "web")
	vip := freeAddr(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, `window = "50ms"`), vip)
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for old, repl := range map[string]string{
		"/var/log/quill/*.log": filepath.Join(dir, "*.log"),
		"systemctl kill -s USR1 quill.service 2>/dev/null || pkill -USR1 -x quill || true": fmt.Sprintf("kill -USR1 %d", q.cmd.Process.Pid),
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("%s lacks %q", shipped, old)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	confPath := filepath.Join(t.TempDir(), "quill")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	sent := 0
	send := func(k int) {
		t.Helper()
		for range k {
			if code, _, err := get(client, fmt.Sprintf("http://%s/r/%d", vip, sent)); err != nil || code != 200 {
				t.Fatalf("request %d: %d %v", sent, code, err)
			}
			sent++
		}
		eventually(t, 5*time.Second, func() bool { return countLines(t, logPath) == k })
	}
	rotate := func(round int) {
		t.Helper()
		out, err := exec.Command("logrotate", "-f", "-s", state, confPath).CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("error:")) {
			t.Fatalf("logrotate -f: %v\n%s", err, out)
		}
		eventually(t, 5*time.Second, func() bool {
			return strings.Count(q.out.String(), "access logs reopened") == round
		})
	}
	send(5)
	rotate(1)
	send(4)
	rotate(2)
	send(3)
	termQuill(t, q)

	// delaycompress: the newest rotation stays plain, the one before is gzipped.
	var lines []logLine
	lines = append(lines, readGzipLog(t, logPath+".2.gz")...)
	lines = append(lines, readAccessLog(t, logPath+".1")...)
	lines = append(lines, readAccessLog(t, logPath)...)
	if len(lines) != sent {
		t.Errorf("%d lines across the rotated files for %d requests", len(lines), sent)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("/r/%d", i); l.path() != want {
			t.Errorf("line %d is %s, want %s", i+1, l.path(), want)
		}
	}
	if fi, err := os.Stat(logPath); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o640 {
		t.Errorf("new log file has mode %v, want 0640 from logrotate's create", fi.Mode().Perm())
	}
}
