package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSendTimeoutResets: a client that reads nothing of a large answer is
// cut off after send_timeout with a reset (the README's promise: the
// kernel drops what it still held for that client), through the
// connection wrappers quill serves on.
func TestSendTimeoutResets(t *testing.T) {
	big := strings.Repeat("x", 16<<20)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
	}))
	t.Cleanup(backend.Close)
	addr := freeAddr(t)
	startProxy(t, fmt.Sprintf(`[global]
send_timeout = "1s"

[vips.web]
listen = [%q]
  [[vips.web.routes]]
  pool = "app"

[pools.app]
servers = [{ address = %q }]
`, addr, backend.Listener.Addr().String()))

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(3 * time.Second) // more than send_timeout, reading nothing
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if n >= int64(len(big)) {
		t.Fatalf("the client got the whole answer (%d bytes)", n)
	}
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("the client read %d bytes, then %v; want a reset", n, err)
	}
}
