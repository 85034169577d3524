package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownAnswersFreshConnections: a connection accepted before
// Shutdown that has sent no request yet is not closed as an idle one: its
// client may have the request on the way. It gets freshGrace to send it and
// is answered with Connection: close; one that sends nothing is closed once
// the grace has passed, and Shutdown then returns without waiting for its
// deadline. An idle connection that was served closes at once.
func TestShutdownAnswersFreshConnections(t *testing.T) {
	defer func(g time.Duration) { freshGrace = g }(freshGrace)
	freshGrace = time.Second
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("done")) })
	s, addr := startEngine(t, forwardTo{u})

	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	idle := dial()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idleReader := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleReader, nil); err != nil || body(resp) != "done" {
		t.Fatalf("first request: %v", err)
	}
	fresh, silent := dial(), dial()
	deadline := time.Now().Add(5 * time.Second)
	for s.Conns() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections registered, want 3", s.Conns())
		}
		time.Sleep(5 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()

	idle.SetReadDeadline(time.Now().Add(freshGrace / 2))
	if _, err := idleReader.ReadByte(); err == nil || isTimeoutErr(err) {
		t.Fatalf("the idle connection was not closed at once: %v", err)
	}
	time.Sleep(freshGrace / 4)
	io.WriteString(fresh, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
	fresh.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(fresh), nil)
	if err != nil {
		t.Fatalf("a request sent on a fresh connection during the shutdown: %v", err)
	}
	if got := body(resp); got != "done" || !resp.Close {
		t.Fatalf("fresh connection got %q close=%v; want done and Connection: close", got, resp.Close)
	}
	silent.SetReadDeadline(time.Now().Add(5 * freshGrace))
	if n, err := silent.Read(make([]byte, 1)); err == nil || isTimeoutErr(err) {
		t.Fatalf("the connection that sent nothing is still open after the grace: %d bytes, %v", n, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(5 * freshGrace):
		t.Fatal("shutdown did not return once every connection was closed")
	}
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
