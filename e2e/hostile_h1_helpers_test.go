package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hostileBackend is a web server of the test's own that misbehaves on
// request: by the last segment of the path it dies in the middle of its
// answer (/dies, /dies-chunked), stalls in it (/stalls) or sends 32 MiB
// (/big) or 1 MiB (/mib); any other path reads the body and answers its length. It counts
// the connections it accepted and logs every request body as it ended.
type hostileBackend struct {
	ln       net.Listener
	addr     string
	accepted atomic.Int32
	done     chan struct{}

	mu     sync.Mutex
	bodies []string // "PATH LENGTH ok" or "PATH LENGTH broken"
}

var (
	bigAnswer = bytes.Repeat([]byte("z"), 32<<20)
	mibAnswer = bytes.Repeat([]byte("m"), 1<<20)
)

func startHostileBackend(t *testing.T) *hostileBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &hostileBackend{ln: ln, addr: ln.Addr().String(), done: make(chan struct{})}
	var wg sync.WaitGroup
	t.Cleanup(func() { close(b.done); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				go func() { <-b.done; c.Close() }()
				br := bufio.NewReader(c)
				for b.serve(c, br) {
				}
			}()
		}
	}()
	return b
}

func (b *hostileBackend) serve(c net.Conn, br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	n, err := io.Copy(io.Discard, req.Body)
	b.mu.Lock()
	if err != nil {
		b.bodies = append(b.bodies, fmt.Sprintf("%s %d broken", req.URL.Path, n))
	} else {
		b.bodies = append(b.bodies, fmt.Sprintf("%s %d ok", req.URL.Path, n))
	}
	b.mu.Unlock()
	if err != nil {
		return false
	}
	switch path.Base(req.URL.Path) {
	case "dies":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100))
		return false
	case "dies-chunked":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n"+strings.Repeat("x", 100)+"\r\n")
		return false
	case "stalls":
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
		select {
		case <-b.done:
		case <-time.After(20 * time.Second):
		}
		return false
	case "mib":
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(mibAnswer))
		_, err := c.Write(mibAnswer)
		return err == nil
	case "big":
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(bigAnswer))
		_, err := c.Write(bigAnswer)
		return err == nil
	}
	body := strconv.FormatInt(n, 10)
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return true
}

// bodiesSeen is the log of request bodies.
func (b *hostileBackend) bodiesSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.bodies...)
}

// hostileEnv is quill in front of one hostileBackend, with short timeouts:
// /stream/ goes to a pool that holds no request body (buffer_request 0),
// /part/ to one that holds 1 KiB of it, anything else to one that holds
// the default 64 KiB.
type hostileEnv struct {
	q       *quill
	b       *hostileBackend
	vip     string
	admin   string
	logPath string
}

func startHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	b := startHostileBackend(t)
	e := &hostileEnv{b: b, vip: freeAddr(t), admin: freeAddr(t), logPath: filepath.Join(t.TempDir(), "access.log")}
	cfg := fmt.Sprintf(`[global]
shutdown_timeout = "2s"
body_timeout = "1s"
send_timeout = "1s"

[admin]
listen = %[1]q

[access_log]
path = %[2]q
window = "10ms"

[vips.plain]
listen = [%[3]q]
  [[vips.plain.routes]]
  path = "/stream/"
  pool = "streamed"
  [[vips.plain.routes]]
  path = "/part/"
  pool = "part"
  [[vips.plain.routes]]
  pool = "held"

[pools.held]
timeout = "1s"
servers = [{ name = "held", address = %[4]q }]

[pools.streamed]
timeout = "1s"
buffer_request = "0"
servers = [{ name = "streamed", address = %[4]q }]

[pools.part]
timeout = "1s"
buffer_request = "1KiB"
servers = [{ name = "part", address = %[4]q }]
`, e.admin, e.logPath, e.vip, b.addr)
	e.q = startQuill(t, cfg, e.vip, e.admin)
	return e
}

// server is a server's line of /api/servers.
type apiServer struct {
	Pool     string `json:"pool"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Failures uint64 `json:"failures"`
}

// checkNoFailures fails the test when a server has a failure counted or is
// not up: what a client did must never be held against a server.
func (e *hostileEnv) checkNoFailures(t *testing.T) {
	t.Helper()
	var servers []apiServer
	if err := json.Unmarshal([]byte(mustCurl(t, "http://"+e.admin+"/api/servers")), &servers); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if s.Failures != 0 || s.State != "up" {
			t.Errorf("server %s of pool %s: %d failures, %s; want none, up", s.Name, s.Pool, s.Failures, s.State)
		}
	}
}

// logged waits for the access log line of the request for target and
// returns its status and byte count.
func (e *hostileEnv) logged(t *testing.T, target string) (status int, bytes int64) {
	t.Helper()
	var line string
	eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(e.logPath)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, " "+target+" HTTP/") {
				line = l
				return true
			}
		}
		return false
	})
	f := strings.Fields(line[strings.LastIndexByte(line, '"')+1:])
	if len(f) < 2 {
		t.Fatalf("access log line %q", line)
	}
	status, _ = strconv.Atoi(f[0])
	bytes, _ = strconv.ParseInt(f[1], 10, 64)
	return status, bytes
}

// processLog waits for a line of quill's own log that holds every one of
// subs.
func (e *hostileEnv) processLog(t *testing.T, subs ...string) string {
	t.Helper()
	var found string
	eventually(t, 10*time.Second, func() bool {
		for _, l := range strings.Split(e.q.out.String(), "\n") {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(l, s)
			}
			if all {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// dial opens a plain connection to the VIP, bounded in time.
func (e *hostileEnv) dial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", e.vip, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}
