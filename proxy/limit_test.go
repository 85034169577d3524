package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestMaxConnections: with max_connections = N, N keep-alive connections
// are served; the next one is accepted by the kernel but not by quill, and
// is served as soon as one of the N closes.
func TestMaxConnections(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("max %d", n), func(t *testing.T) {
			web := newTestBackend(t, "web1")
			vip := freeAddr(t)
			startProxy(t, fmt.Sprintf("[global]\nmax_connections = %d\n[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = %q }]\n",
				n, vip, web.addr()))

			var held []net.Conn
			for i := 0; i < n; i++ {
				c := dialVIP(t, vip)
				if err := roundTrip(c, time.Second); err != nil {
					t.Fatalf("connection %d of %d: %v", i+1, n, err)
				}
				held = append(held, c)
			}
			extra := dialVIP(t, vip)
			done := make(chan error, 1)
			go func() { done <- roundTrip(extra, 10*time.Second) }()
			select {
			case err := <-done:
				t.Fatalf("connection %d was served while %d were held: %v", n+1, n, err)
			case <-time.After(300 * time.Millisecond):
			}
			held[0].Close()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("connection %d after one closed: %v", n+1, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("connection %d still waits after one of the %d closed", n+1, n)
			}
			for _, c := range held[1:] {
				if err := roundTrip(c, time.Second); err != nil {
					t.Errorf("a held connection broke: %v", err)
				}
			}
		})
	}
}

func dialVIP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends one keep-alive GET on c and reads the whole answer.
func roundTrip(c net.Conn, within time.Duration) error {
	c.SetDeadline(time.Now().Add(within))
	if _, err := fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: quill.test\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
