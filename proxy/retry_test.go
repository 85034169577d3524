package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// brokenBackend accepts connections on 127.0.0.1 and, for each request,
// does what misbehave says once the request, body included, has arrived.
// It counts the requests it got.
type brokenBackend struct {
	ln   net.Listener
	reqs chan string // method of each request received
}

func newBrokenBackend(t *testing.T, misbehave func(c net.Conn)) *brokenBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &brokenBackend{ln: ln, reqs: make(chan string, 64)}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				b.reqs <- req.Method
				select {
				case <-done:
				default:
					misbehave(c)
				}
			}()
		}
	}()
	return b
}

func (b *brokenBackend) addr() string { return b.ln.Addr().String() }

// hangUp closes the connection without an answer.
func hangUp(net.Conn) {}

// neverAnswer holds the connection open without an answer until the
// backend's deadline.
func neverAnswer(c net.Conn) { io.Copy(io.Discard, c) }

// failoverProxy is a proxy whose pool has first as its only primary and a
// working backup, so that a retry can only go to the backup. The pool's
// buffer_request is bufferRequest, or its default when that is "".
func failoverProxy(t *testing.T, first, timeout, bufferRequest string) (vip, admin string, backup *testBackend) {
	t.Helper()
	backup = newTestBackend(t, "backup")
	vip, admin = freeAddr(t), freeAddr(t)
	buffer := ""
	if bufferRequest != "" {
		buffer = fmt.Sprintf("buffer_request = %q\n", bufferRequest)
	}
	startProxy(t, fmt.Sprintf(`[admin]
listen = %q
[vips.web]
listen = [%q]
  [[vips.web.routes]]
  pool = "app"
[pools.app]
timeout = %q
%sservers = [{ address = %q, name = "first" }, { address = %q, name = "backup", backup = true }]
`, admin, vip, timeout, buffer, first, backup.addr()))
	return vip, admin, backup
}

func send(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRetryAfterRefusedConnect: a server that refuses the connection got
// nothing of the request, so another server is tried, whatever the
// method, and the refusing one is marked down.
func TestRetryAfterRefusedConnect(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			vip, admin, backup := failoverProxy(t, freeAddr(t), "5s", "")
			code, body := send(t, method, "http://"+vip+"/", "payload")
			if code != http.StatusOK || body != "backup\n" {
				t.Errorf("got %d %q, want 200 from the backup", code, body)
			}
			if n := backup.hits.Load(); n != 1 {
				t.Errorf("the backup got %d requests, want 1", n)
			}
			s := apiServers(t, admin)["first"]
			if s.State != "down" || s.Failures < 1 {
				t.Errorf("the refusing server is %+v, want down with a failure", s)
			}
		})
	}
}

// TestRetryAfterRequestReachedServer: a server that got the request and
// hung up without answering is retried elsewhere only for an idempotent
// request whose body can be sent again: none of it was read, or all of it
// was held by buffer_request; a server that does not answer within the
// pool's timeout is not retried elsewhere at all (504).
func TestRetryAfterRequestReachedServer(t *testing.T) {
	tests := []struct {
		name       string
		misbehave  func(net.Conn)
		method     string
		body       string
		buffer     string // the pool's buffer_request
		wantStatus int
		wantBackup int64
	}{
		{"GET hung up on: retried", hangUp, http.MethodGet, "", "", http.StatusOK, 1},
		{"POST hung up on: 502, not retried", hangUp, http.MethodPost, "order=1", "", http.StatusBadGateway, 0},
		{"PUT whose body was held: sent again", hangUp, http.MethodPut, "data", "", http.StatusOK, 1},
		{"PUT whose body was streamed: 502, not retried", hangUp, http.MethodPut, "data", "0", http.StatusBadGateway, 0},
		{"PUT larger than the buffer: 502, not retried", hangUp, http.MethodPut, strings.Repeat("d", 5000), "1KiB", http.StatusBadGateway, 0},
		{"GET never answered: 504, not retried", neverAnswer, http.MethodGet, "", "", http.StatusGatewayTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newBrokenBackend(t, tt.misbehave)
			vip, _, backup := failoverProxy(t, first.addr(), "300ms", tt.buffer)
			start := time.Now()
			code, _ := send(t, tt.method, "http://"+vip+"/", tt.body)
			if code != tt.wantStatus {
				t.Errorf("status %d, want %d", code, tt.wantStatus)
			}
			if n := backup.hits.Load(); n != tt.wantBackup {
				t.Errorf("the backup got %d requests, want %d", n, tt.wantBackup)
			}
			select {
			case m := <-first.reqs:
				if m != tt.method {
					t.Errorf("the first server got %s", m)
				}
			default:
				t.Error("the request never reached the first server")
			}
			if tt.wantStatus == http.StatusGatewayTimeout && time.Since(start) > 5*time.Second {
				t.Errorf("504 after %s, the pool's timeout is 300ms", time.Since(start))
			}
		})
	}
}
