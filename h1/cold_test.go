package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// An idle keep-alive connection gives up its goroutine (and exchange)
// after hotWait and is served again, with its client's address, when the
// client sends; past the idle timeout it closes.
func TestIdleConnectionParked(t *testing.T) {
	if !coldParking() {
		t.Skip("no epoll here")
	}
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
			http.Error(w, "X-Forwarded-For "+xff, 500)
			return
		}
		w.Write([]byte("ok"))
	})
	s, addr := startEngineWith(t, forwardTo{u}, func(s *Server) { s.IdleTimeout = hotWait + 2*time.Second })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b := body(resp); b != "ok" {
			t.Fatalf("body %q", b)
		}
	}
	get()
	busy := runtime.NumGoroutine()
	deadline := time.Now().Add(hotWait + 3*time.Second)
	for runtime.NumGoroutine() >= busy && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n >= busy {
		t.Fatalf("goroutines %d after %s idle, %d while serving: the idle connection kept its goroutine", n, hotWait, busy)
	}
	get() // a parked connection is served again
	get()
	// Quiet past the idle timeout: closed.
	c.SetReadDeadline(time.Now().Add(s.IdleTimeout + 3*time.Second))
	start := time.Now()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection sent bytes unasked")
	}
	if d := time.Since(start); d < s.IdleTimeout-time.Second {
		t.Fatalf("closed after %s, before the idle timeout %s", d, s.IdleTimeout)
	}
	// The connection is forgotten just after its socket closed.
	for i := 0; i < 100 && s.Conns() != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.Conns(); n != 0 {
		t.Fatalf("%d connections tracked after the idle one closed", n)
	}
}

// Shutdown closes parked connections at once.
func TestShutdownClosesParked(t *testing.T) {
	if !coldParking() {
		t.Skip("no epoll here")
	}
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	s, addr := startEngine(t, forwardTo{u})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(hotWait + 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a parked connection stayed open through shutdown")
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
