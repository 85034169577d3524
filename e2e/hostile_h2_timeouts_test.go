package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// bodyReadingBackend reads each request body whole before it answers, and
// counts the bodies that came whole.
func bodyReadingBackend(t *testing.T) (addr string, whole *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	whole = new(atomic.Int64)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		whole.Add(1)
		io.WriteString(w, strings.Repeat("z", 1<<20))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), whole
}

// postHeaders encodes a POST of path announcing length body bytes.
func (c *h2Client) postHeaders(path, length string) []byte {
	c.encBuf.Reset()
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", "127.0.0.1"},
		{":path", path}, {"content-length", length}} {
		c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return bytes.Clone(c.encBuf.Bytes())
}

// TestH2BodyTimeout: an HTTP/2 request whose body does not come within
// body_timeout gets 408, logged as such, and is not the server's failure.
func TestH2BodyTimeout(t *testing.T) {
	backend, whole := bodyReadingBackend(t)
	e := startH2Env(t, `body_timeout = "1s"`, backend)
	c := dialH2(t, e.vip, e.ca)
	id := c.next
	c.next += 2
	block := c.postHeaders("/upload", "100")
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteData(id, false, []byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a, _, err := c.readUntil(t, id, time.Now().Add(15*time.Second))
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	if a.status != "408" {
		t.Fatalf("stalled body: status %q (RST %v), want 408", a.status, a.reset)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("408 came after %v, body_timeout is 1s", d)
	}
	eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(e.access)
		return strings.Contains(string(b), `"POST /upload HTTP/2.0" 408`)
	})
	if !strings.Contains(e.q.out.String(), "request body timed out") {
		t.Errorf("process log has no line for the timed-out body:\n%s", e.q.out.String())
	}
	if got := adminMetric(t, e.admin, `quill_server_failures_total{pool="app",server="`+backend+`"}`); got != "0" && got != "" {
		t.Errorf("a client's stalled body counted as the server's failure: %s", got)
	}
	if whole.Load() != 0 {
		t.Errorf("the backend got %d whole bodies, want 0", whole.Load())
	}
}

// TestH2SendTimeout: a client that opens no flow-control window for the
// answer reads nothing of it; after send_timeout its stream is reset and
// the access log has the status as sent and the bytes that went out.
func TestH2SendTimeout(t *testing.T) {
	backend, _ := bodyReadingBackend(t)
	e := startH2Env(t, `send_timeout = "1s"`, backend)
	c := dialH2(t, e.vip, e.ca)
	id, err := c.get("/big")
	if err != nil {
		t.Fatal(err)
	}
	// readUntil answers SETTINGS and PING but sends no WINDOW_UPDATE: the
	// answer stops at the initial window of 64 KiB.
	a, _, err := c.readUntil(t, id, time.Now().Add(15*time.Second))
	if err != nil {
		t.Fatalf("the stalled stream was not reset: %v (got %d bytes)", err, len(a.body))
	}
	if !a.wasRST || a.ended || a.status != "200" {
		t.Fatalf("stalled stream: status %q, %d bytes, RST %v, ended %v; want 200, then RST_STREAM", a.status, len(a.body), a.wasRST, a.ended)
	}
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(e.q.out.String(), "client read nothing in send_timeout")
	})
	eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(e.access)
		return strings.Contains(string(b), `"GET /big HTTP/2.0" 200`)
	})
}
