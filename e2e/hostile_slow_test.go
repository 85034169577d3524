package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// slowEnv is quill in front of a hostileBackend with timeouts longer than
// the slow clients' pauses, so that the clients are slow, not gone.
func startSlowEnv(t *testing.T) *hostileEnv {
	t.Helper()
	b := startHostileBackend(t)
	e := &hostileEnv{b: b, vip: freeAddr(t), admin: freeAddr(t), logPath: filepath.Join(t.TempDir(), "access.log")}
	cfg := fmt.Sprintf(`[global]
shutdown_timeout = "2s"
body_timeout = "10s"
send_timeout = "20s"

[admin]
listen = %q

[vips.plain]
listen = [%q]
  [[vips.plain.routes]]
  pool = "held"

[pools.held]
timeout = "10s"
servers = [{ name = "held", address = %q }]
`, e.admin, e.vip, b.addr)
	e.q = startQuill(t, cfg, e.vip, e.admin)
	return e
}

// slowClients opens n connections to addr, each sending head; the
// connections close at the end of the test.
func slowClients(t *testing.T, addr string, n int, head string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d of %d: %v", len(conns)+1, n, err)
		}
		c.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return conns
}

// normalGets makes count keep-alive GETs on one connection and returns how
// many were answered 200 with their whole body.
func normalGets(t *testing.T, addr string, count int) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	ok := 0
	for range count {
		fmt.Fprintf(c, "GET /normal HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return ok
		}
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode == 200 && string(body) == "0" {
			ok++
		}
	}
	return ok
}

// TestHostileSlowPOSTs: 500 clients trickle small request bodies, a byte
// a second. quill holds them (buffer_request) and takes no server
// connection for any of them; a normal client is served meanwhile; once
// the bodies are whole, every one reaches the server whole.
func TestHostileSlowPOSTs(t *testing.T) {
	const n, length, trickled = 500, 1000, 3
	e := startSlowEnv(t)
	conns := slowClients(t, e.vip, n, fmt.Sprintf("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", length))
	for range trickled {
		for _, c := range conns {
			c.Write([]byte("s"))
		}
		time.Sleep(time.Second)
	}
	if got := normalGets(t, e.vip, 20); got != 20 {
		t.Errorf("a normal client got %d of 20 answers during the slow POSTs", got)
	}
	// The normal client's connection is the only one the server saw.
	if got := e.b.accepted.Load(); got != 1 {
		t.Fatalf("the server accepted %d connections while %d bodies trickled in; want 1 (the normal client's)", got, n)
	}
	rest := bytes.Repeat([]byte("s"), length-trickled)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Write(rest); err != nil {
				errs <- err
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != fmt.Sprint(length) {
				errs <- fmt.Errorf("status %d, the server read %s bytes", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.checkNoFailures(t)
}

// TestHostileSlowReaders: 200 clients ask for 1 MiB and read nothing for
// a while; a normal client is served meanwhile, and each slow client then
// reads its whole answer intact (the relay moved to small buffers for
// them).
func TestHostileSlowReaders(t *testing.T) {
	const n = 200
	e := startSlowEnv(t)
	conns := slowClients(t, e.vip, n, "GET /mib HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(2 * time.Second)
	if got := normalGets(t, e.vip, 50); got != 50 {
		t.Errorf("a normal client got %d of 50 answers during the slow readers", got)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, mibAnswer) {
				errs <- fmt.Errorf("status %d, %d bytes (%v); want 200 and the 1 MiB answer", resp.StatusCode, len(body), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.checkNoFailures(t)
}
