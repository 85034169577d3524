package e2e

import (
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestH2GracefulStop: HTTP/2 connections, served through quill's reset
// guard, still stop gracefully: on TERM a request in flight is answered
// in full, the client gets GOAWAY (NO_ERROR), and quill exits.
func TestH2GracefulStop(t *testing.T) {
	arrived := make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		time.Sleep(time.Second)
		w.Write([]byte("done\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	e := startH2Env(t, "", ln.Addr().String())
	c := dialH2(t, e.vip, e.ca)
	id, err := c.get("/slow")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the backend")
	}
	e.q.signal(syscall.SIGTERM)
	a, g, err := c.readUntil(t, id, time.Now().Add(10*time.Second))
	if err != nil || a.status != "200" || string(a.body) != "done\n" || !a.ended {
		t.Fatalf("request in flight at TERM: %+v, %v; want 200 done", a, err)
	}
	if g == nil || g.code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %+v, want NO_ERROR before the stream ended", g)
	}
	if err := e.q.wait(t, 10*time.Second); err != nil {
		t.Fatalf("quill exited with %v", err)
	}
}
