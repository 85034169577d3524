package e2e

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Binary upgrades (USR2): the new process takes the listening sockets,
// the old one finishes its requests and exits, and no client notices.

// upgradeEnv is a quill with an HTTP VIP, an HTTPS VIP, an admin listener,
// a pid file and an access log, run from a binary of its own that a test
// may replace.
type upgradeEnv struct {
	q                   *quill
	bin                 string // the path quill was started from
	plain, secure       string
	admin, pidFile, log string
	ca                  *testCA
	pids                []int // every quill process of the test, in order
}

func startUpgradeEnv(t *testing.T) *upgradeEnv {
	t.Helper()
	web := startBackend(t, "web")
	dir := t.TempDir()
	ca := newTestCA(t)
	cert := ca.pair(t, dir, "vip", leafSpec{cn: "localhost", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	e := &upgradeEnv{bin: filepath.Join(dir, "quill"), plain: freeAddr(t), secure: freeAddr(t), admin: freeAddr(t),
		pidFile: filepath.Join(dir, "quill.pid"), log: filepath.Join(dir, "access.log"), ca: ca}
	copyFile(t, quillBin, e.bin)
	cfg := fmt.Sprintf(`[global]
shutdown_timeout = "10s"
pid_file = %q

[admin]
listen = %q

[vips.plain]
listen = [%q]
  [[vips.plain.routes]]
  pool = "app"

[vips.secure]
listen = [%q]
  [vips.secure.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ name = "web", address = %q }]

[access_log]
path = %q
window = "100ms"
`, e.pidFile, e.admin, e.plain, e.secure, cert.cert, cert.key, web.addr, e.log)
	path := filepath.Join(dir, "quill.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout := &syncBuffer{}
	e.q = &quill{proc: start(t, stdout, e.bin, "run", "-c", path), config: path, stdout: stdout}
	// The processes after the first are children of the one before, then
	// orphans: killed here, before the harness waits for the first one,
	// whose output pipe they share.
	t.Cleanup(func() {
		for i, pid := range e.pids {
			if i > 0 {
				killQuill(pid, e.bin)
			}
		}
	})
	for _, a := range []string{e.plain, e.secure, e.admin} {
		waitListening(t, a, e.q.proc)
	}
	e.pids = []int{e.q.cmd.Process.Pid}
	eventually(t, 10*time.Second, func() bool { return readPid(e.pidFile) == e.pids[0] })
	return e
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	// A new file, not a rewrite: the running binary's inode stays intact,
	// as a package manager's rename leaves it.
	tmp := to + ".new"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// readPid is the pid in a pid file, 0 when there is none.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// exited reports whether pid is gone or a zombie nobody reaped yet.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// killQuill kills pid if it is still a process of bin: a pid the test
// read from the pid file, never another process that reused it.
func killQuill(pid int, bin string) {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || exited(pid) || !strings.HasPrefix(string(cmdline), bin+"\x00") {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// upgrade sends USR2 to the process in the pid file and waits until the
// pid file names a new process that serves, and the old one has exited.
func (e *upgradeEnv) upgrade(t *testing.T) int {
	t.Helper()
	old := e.pids[len(e.pids)-1]
	if err := syscall.Kill(old, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	var pid int
	eventually(t, 60*time.Second, func() bool {
		pid = readPid(e.pidFile)
		return pid != 0 && pid != old
	})
	e.pids = append(e.pids, pid)
	deadline := time.Now().Add(30 * time.Second)
	for !exited(old) {
		if time.Now().After(deadline) {
			syscall.Kill(old, syscall.SIGQUIT)
			time.Sleep(2 * time.Second)
			t.Fatalf("old process %d still running", old)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if exited(pid) {
		t.Fatalf("new process %d is gone:\n%s", pid, e.q.out.String())
	}
	if got := readPid(e.pidFile); got != pid {
		t.Fatalf("once the old process exited, the pid file holds %d, want %d", got, pid)
	}
	return pid
}

// upgradeLoad is the clients that keep sending while the binary is
// upgraded: to each VIP over kept-alive connections and over a new
// connection per request, and HTTP/2 to the HTTPS VIP; and one that asks
// the admin listener. Every request has a path of its own.
type upgradeLoad struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	sent    atomic.Int64
	refused atomic.Int64
	mu      sync.Mutex
	paths   []string // answered 200
	failed  []string // no answer, another status, or HTTP/2 not spoken
	admin   atomic.Int64
	adminKO []string
}

func startUpgradeLoad(e *upgradeEnv, perWorker int, limit time.Duration) *upgradeLoad {
	l := &upgradeLoad{stop: make(chan struct{})}
	deadline := time.Now().Add(limit)
	h1TLS := &tls.Config{RootCAs: e.ca.pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}
	h1Only := map[string]func(string, *tls.Conn) http.RoundTripper{}
	clients := []struct {
		name, base string
		tr         *http.Transport
		h2         bool
	}{
		{"plain-kept", "http://" + e.plain, &http.Transport{MaxIdleConnsPerHost: 1}, false},
		{"plain-new", "http://" + e.plain, &http.Transport{DisableKeepAlives: true}, false},
		{"plain-new2", "http://" + e.plain, &http.Transport{DisableKeepAlives: true}, false},
		{"tls-kept", "https://" + e.secure, &http.Transport{TLSClientConfig: h1TLS, TLSNextProto: h1Only, MaxIdleConnsPerHost: 1}, false},
		{"tls-new", "https://" + e.secure, &http.Transport{TLSClientConfig: h1TLS, TLSNextProto: h1Only, DisableKeepAlives: true}, false},
		{"h2", "https://" + e.secure, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.pool, ServerName: "127.0.0.1"}, ForceAttemptHTTP2: true}, true},
	}
	for _, c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			client := &http.Client{Transport: c.tr, Timeout: 20 * time.Second}
			defer c.tr.CloseIdleConnections()
			for i := 0; i < perWorker && time.Now().Before(deadline); i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				path := fmt.Sprintf("/up/%s/%d", c.name, i)
				l.sent.Add(1)
				resp, err := client.Get(c.base + path)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				l.mu.Lock()
				switch {
				case err != nil:
					if errors.Is(err, syscall.ECONNREFUSED) {
						l.refused.Add(1)
					}
					l.failed = append(l.failed, fmt.Sprintf("%s: %v", path, err))
				case resp.StatusCode != http.StatusOK:
					l.failed = append(l.failed, fmt.Sprintf("%s: %s", path, resp.Status))
				case c.h2 && resp.ProtoMajor != 2:
					l.failed = append(l.failed, fmt.Sprintf("%s: answered over %s, not HTTP/2", path, resp.Proto))
				default:
					l.paths = append(l.paths, path)
				}
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		client := &http.Client{Timeout: 20 * time.Second}
		for i := 0; i < perWorker && time.Now().Before(deadline); i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			code, _, err := get(client, "http://"+e.admin+"/healthz")
			l.admin.Add(1)
			if err != nil || code != http.StatusOK {
				l.mu.Lock()
				l.adminKO = append(l.adminKO, fmt.Sprintf("healthz: %d %v", code, err))
				l.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return l
}

// waitSent waits until n more requests were sent.
func (l *upgradeLoad) waitSent(t *testing.T, n int64) {
	t.Helper()
	from := l.sent.Load()
	eventually(t, 30*time.Second, func() bool { return l.sent.Load() >= from+n })
}

func (l *upgradeLoad) finish() {
	close(l.stop)
	l.wg.Wait()
}

// notifyListener stands in for systemd's $NOTIFY_SOCKET and records each
// message with the pid of its sender, as the kernel gives it.
type notifyListener struct {
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []notifyMsg
	done chan struct{}
}

type notifyMsg struct {
	pid  int
	text string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	addr := fmt.Sprintf("@quill-e2e-notify-%d-%d", os.Getpid(), time.Now().UnixNano())
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	raw.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", addr)
	n := &notifyListener{conn: c, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		b, oob := make([]byte, 4096), make([]byte, 1024)
		for {
			m, oobn, _, _, err := c.ReadMsgUnix(b, oob)
			if err != nil {
				return
			}
			pid := 0
			if cms, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, cm := range cms {
					if cred, err := syscall.ParseUnixCredentials(&cm); err == nil {
						pid = int(cred.Pid)
					}
				}
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, notifyMsg{pid: pid, text: string(b[:m])})
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-n.done })
	return n
}

func (n *notifyListener) messages() []notifyMsg {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notifyMsg(nil), n.msgs...)
}

// TestUpgradeUnderLoad upgrades the binary five times while clients keep
// sending over HTTP, HTTPS and HTTP/2, new connections and kept-alive
// ones: no connection is refused, no request fails, every answered request
// has its access log line, the admin listener answers throughout, and
// systemd (a stand-in for its notify socket) hears each new process take
// over as the main one, in order, from that process itself.
func TestUpgradeUnderLoad(t *testing.T) {
	notify := listenNotify(t)
	e := startUpgradeEnv(t)
	ld := startUpgradeLoad(e, 4000, 150*time.Second)
	ld.waitSent(t, 200)
	for i := range 5 {
		pid := e.upgrade(t)
		t.Logf("upgrade %d: pid %d serves, pid %d has exited", i+1, pid, e.pids[len(e.pids)-2])
		ld.waitSent(t, 200)
	}
	ld.finish()
	last := e.pids[len(e.pids)-1]
	syscall.Kill(last, syscall.SIGTERM)
	eventually(t, 30*time.Second, func() bool { return exited(last) })
	out := e.q.out.String()

	ld.mu.Lock()
	defer ld.mu.Unlock()
	t.Logf("%d requests sent, %d answered 200, %d failed (%d refused); admin asked %d times, %d not 200",
		ld.sent.Load(), len(ld.paths), len(ld.failed), ld.refused.Load(), ld.admin.Load(), len(ld.adminKO))
	if ld.refused.Load() != 0 {
		t.Errorf("%d connections refused", ld.refused.Load())
	}
	if len(ld.failed) > 0 {
		t.Errorf("%d requests failed: %v", len(ld.failed), ld.failed[:min(len(ld.failed), 10)])
	}
	if len(ld.adminKO) > 0 {
		t.Errorf("the admin listener did not answer 200 %d times: %v", len(ld.adminKO), ld.adminKO[:min(len(ld.adminKO), 10)])
	}
	if got := strings.Count(out, "binary upgraded: the new process serves"); got != 5 {
		t.Errorf("%d upgrades logged, want 5", got)
	}

	lines := readAccessLog(t, e.log)
	if len(lines) != len(ld.paths) {
		t.Errorf("%d access log lines for %d requests answered", len(lines), len(ld.paths))
	}
	logged := byPath(t, lines)
	for _, p := range ld.paths {
		if _, ok := logged[p]; !ok {
			t.Errorf("%s answered but not logged", p)
		}
	}

	msgs := notify.messages()
	if len(msgs) != len(e.pids) {
		t.Errorf("%d notifications for %d processes: %v", len(msgs), len(e.pids), msgs)
	}
	for i, pid := range e.pids {
		if i >= len(msgs) {
			break
		}
		want := notifyMsg{pid: pid, text: fmt.Sprintf("MAINPID=%d\nREADY=1", pid)}
		if msgs[i] != want {
			t.Errorf("notification %d: %+v, want %+v", i+1, msgs[i], want)
		}
	}
}

// TestUpgradeFailureKeepsServing tries upgrades that cannot succeed: the
// running process logs why, keeps serving and keeps its pid file, and a
// later USR2, once the binary and config are right, upgrades.
func TestUpgradeFailureKeepsServing(t *testing.T) {
	e := startUpgradeEnv(t)
	pid := e.pids[0]
	config, err := os.ReadFile(e.q.config)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	serves := func(t *testing.T) {
		t.Helper()
		for _, url := range []string{"http://" + e.plain + "/", "http://" + e.admin + "/healthz"} {
			if code, _, err := get(client, url); err != nil || code != http.StatusOK {
				t.Fatalf("%s: %d %v", url, code, err)
			}
		}
		if got := readPid(e.pidFile); got != pid {
			t.Fatalf("pid file holds %d, want %d", got, pid)
		}
	}
	failures := 0
	failsWith := func(t *testing.T, want ...string) {
		t.Helper()
		failures++
		eventually(t, 30*time.Second, func() bool {
			return strings.Count(e.q.out.String(), "binary upgrade failed; this process keeps serving") == failures
		})
		for _, w := range want {
			if !strings.Contains(e.q.out.String(), w) {
				t.Errorf("log does not say %q:\n%s", w, e.q.out.String())
			}
		}
		serves(t)
	}
	signal := func() { syscall.Kill(pid, syscall.SIGUSR2) }

	t.Run("binary replaced by one that fails", func(t *testing.T) {
		writeScript(t, e.bin, "echo 'quill: broken build' >&2; exit 1")
		signal()
		failsWith(t, "quill: broken build", "exited before it served: exit status 1")
	})
	t.Run("second USR2 while one is under way", func(t *testing.T) {
		writeScript(t, e.bin, "sleep 2; exit 1")
		signal()
		eventually(t, 10*time.Second, func() bool {
			return strings.Count(e.q.out.String(), "binary upgrade: new process started") == failures+1
		})
		signal()
		eventually(t, 10*time.Second, func() bool {
			return strings.Contains(e.q.out.String(), "USR2 refused: a binary upgrade is already under way")
		})
		failsWith(t)
	})
	t.Run("binary missing", func(t *testing.T) {
		os.Remove(e.bin)
		signal()
		failsWith(t, "no such file or directory")
	})
	t.Run("config made invalid", func(t *testing.T) {
		copyFile(t, quillBin, e.bin)
		e.q.rewrite(t, string(config)+"\nbogus = 1\n")
		signal()
		failsWith(t, fmt.Sprintf(`quill.toml:%d: unknown key "access_log.bogus"`, strings.Count(string(config), "\n")+2))
	})
	t.Run("upgrade once all is right again", func(t *testing.T) {
		e.q.rewrite(t, string(config))
		next := e.upgrade(t)
		if code, _, err := get(client, "http://"+e.plain+"/"); err != nil || code != http.StatusOK {
			t.Fatalf("after the upgrade to %d: %d %v", next, code, err)
		}
	})
}

// writeScript replaces path by a shell script running body.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
