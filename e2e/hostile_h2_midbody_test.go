package e2e

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// startDyingBackend answers every request with a head announcing
// Content-Length: 100000, then sends sent bytes of body and, after linger,
// closes the connection.
func startDyingBackend(t *testing.T, sent int, linger time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"))
				c.Write([]byte(strings.Repeat("x", sent)))
				time.Sleep(linger)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestH2BackendDiesMidBody: a backend that announces 100000 bytes and dies
// after 1000. The HTTP/2 client must get the status and the 1000 bytes,
// then RST_STREAM, never END_STREAM; the access log must record the status
// as sent and the 1000 bytes, and the process log the reason.
func TestH2BackendDiesMidBody(t *testing.T) {
	const sent = 1000
	e := startH2Env(t, "", startDyingBackend(t, sent, 0))
	c := dialH2(t, e.vip, e.ca)
	id, err := c.get("/big")
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := c.readUntil(t, id, time.Now().Add(20*time.Second))
	if err != nil {
		t.Fatalf("stream %d: %v (answer so far %+v)", id, err, a)
	}
	if a.status != "200" {
		t.Fatalf("status %q, want the backend's 200", a.status)
	}
	if len(a.body) != sent {
		t.Fatalf("%d body bytes, want the %d the backend sent", len(a.body), sent)
	}
	if a.ended || !a.wasRST || a.reset != http2.ErrCodeInternal {
		t.Fatalf("the stream ended (END_STREAM %v, RST_STREAM %v %v), want an abort by RST_STREAM INTERNAL_ERROR", a.ended, a.wasRST, a.reset)
	}

	var line string
	eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(e.access)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "GET /big HTTP/2.0") {
				line = l
			}
		}
		return line != ""
	})
	if !strings.HasSuffix(line, `" 200 1000`) {
		t.Fatalf("access log line %q, want status 200 and 1000 bytes", line)
	}
	if log := e.q.out.String(); !strings.Contains(log, "response aborted") || !strings.Contains(log, "/big") {
		t.Fatalf("the process log does not give the reason of the abort:\n%s", log)
	}

	// The connection survives the abort of one of its streams.
	id, err = c.get("/big")
	if err != nil {
		t.Fatal(err)
	}
	if a, _, err := c.readUntil(t, id, time.Now().Add(20*time.Second)); err != nil || a.status != "200" {
		t.Fatalf("next stream on the connection: %+v, %v", a, err)
	}
}

// TestH2ClientLeavesMidBody: a client that resets its stream mid-body
// aborts the response too, but that is not the backend's fault: no
// warning in the process log, and the access log records the bytes sent.
func TestH2ClientLeavesMidBody(t *testing.T) {
	// More than net/http buffers, so that some reaches the client while
	// the backend still holds the response open.
	e := startH2Env(t, "", startDyingBackend(t, 60<<10, 3*time.Second))
	c := dialH2(t, e.vip, e.ca)
	id, err := c.get("/left")
	if err != nil {
		t.Fatal(err)
	}
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for got := 0; got < 16<<10; {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := f.(*http2.DataFrame); ok && d.StreamID == id {
			got += len(d.Data())
		}
	}
	if err := c.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(e.access)
		return strings.Contains(string(b), "GET /left HTTP/2.0")
	})
	if log := e.q.out.String(); strings.Contains(log, "response aborted") {
		t.Fatalf("a client that left is logged as an abort by the backend:\n%s", log)
	}
}
