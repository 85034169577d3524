package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestAddressChangesProtocol moves one address between HTTP and HTTPS, and
// to another VIP, while a client connects to it without pause: the socket
// is shared from the running listener to the new one, so no connection is
// ever refused, and after the last move the process holds as many
// listening descriptors as before the first.
func TestAddressChangesProtocol(t *testing.T) {
	dir := t.TempDir()
	cert := newTestCert(t, dir, "a")
	web := newTestBackend(t, "web1")
	addr, admin := freeAddr(t), freeAddr(t)
	config := func(vip string, tls bool) string {
		s := fmt.Sprintf("[admin]\nlisten = %q\n[vips.%s]\nlisten = [%q]\n", admin, vip, addr)
		if tls {
			s += fmt.Sprintf("  [vips.%s.tls]\n  certificates = [{ cert = %q, key = %q }]\n", vip, cert.cert, cert.key)
		}
		return s + fmt.Sprintf("  [[vips.%s.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = %q }]\n", vip, web.addr())
	}
	tp := startProxy(t, config("web", false))
	listening := listeningSockets(t)

	var refused, dials atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			dials.Add(1)
			if errors.Is(err, syscall.ECONNREFUSED) {
				refused.Add(1)
			}
			if err == nil {
				c.Close()
			}
			time.Sleep(time.Millisecond)
		}
	}()

	steps := []struct {
		name string
		vip  string
		tls  bool
	}{
		{"HTTP to HTTPS", "web", true},
		{"HTTPS to HTTP", "web", false},
		{"to another VIP", "site", false},
		{"to HTTPS on another VIP", "web", true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			// The dialer must be at work across every move, however
			// slowly a loaded machine runs it.
			before := dials.Load()
			waitFor(t, 10*time.Second, "dials before the move", func() bool { return dials.Load() >= before+3 })
			if err := tp.reload(t, config(s.vip, s.tls), nil); err != nil {
				t.Fatal(err)
			}
			scheme := "http"
			if s.tls {
				scheme = "https"
				if !sameLeaf(servedLeaf(t, addr), cert.leaf) {
					t.Error("not the configured certificate")
				}
			}
			// Connections the old listener accepted just before it
			// closed may still get the old protocol; new ones the new.
			waitFor(t, 5*time.Second, "the address speaks "+scheme, func() bool {
				resp, err := client.Get(scheme + "://" + addr + "/")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
		})
	}
	close(stop)
	wg.Wait()
	if dials.Load() < 10 || refused.Load() != 0 {
		t.Errorf("%d of %d connections were refused during the moves", refused.Load(), dials.Load())
	}
	if err := tp.reload(t, config("web", false), nil); err != nil {
		t.Fatal(err)
	}
	// Each move made a second descriptor of the socket and closed the
	// first: one listening descriptor per address is left, as at start.
	// (Goroutines and descriptors as a whole count backend connections
	// too, which the pools keep as they see fit.)
	waitFor(t, 5*time.Second, "as many listening descriptors as at start", func() bool {
		return listeningSockets(t) == listening
	})
}

// TestRefusedProtocolChange: a reload that would move an address to HTTPS
// but fails later leaves it speaking HTTP, its connections untouched.
func TestRefusedProtocolChange(t *testing.T) {
	dir := t.TempDir()
	cert := newTestCert(t, dir, "a")
	web := newTestBackend(t, "web1")
	addr := freeAddr(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	plain := fmt.Sprintf("[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = %q }]\n", addr, web.addr())
	tp := startProxy(t, plain)

	// A keep-alive connection opened before the reload.
	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	request := func() string {
		open.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(open, "GET / HTTP/1.1\r\nHost: quill.test\r\n\r\n")
		buf := make([]byte, 4096)
		n, _ := open.Read(buf)
		return string(buf[:n])
	}
	if got := request(); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("before: %q", got)
	}
	goroutines, fds := settled(t)

	tlsFile := fmt.Sprintf("[vips.web]\nlisten = [%q, %q]\n  [vips.web.tls]\n  certificates = [{ cert = %q, key = %q }]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = %q }]\n",
		addr, taken.Addr(), cert.cert, cert.key, web.addr())
	if err := tp.reload(t, tlsFile, nil); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("reload error %v, want address already in use", err)
	}
	backTo(t, goroutines, fds)
	if got := request(); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Errorf("the connection opened before the refused reload: %q", got)
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("the address speaks TLS after the refused reload")
	}
	if code, _ := getBody(t, "http://"+addr+"/"); code != http.StatusOK {
		t.Errorf("a new HTTP connection gets %d", code)
	}
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1:80", "127.0.0.1:80", true},
		{"127.0.0.1:80", "127.0.0.1:81", false},
		{"0.0.0.0:80", "127.0.0.1:80", true},
		{":80", "192.0.2.1:80", true},
		{"[::]:80", "127.0.0.1:80", true},
		{"[::ffff:127.0.0.1]:80", "127.0.0.1:80", true},
		{"127.0.0.1:80", "127.0.0.2:80", false},
		{"localhost:80", "localhost:80", true},
		{"not an address", "127.0.0.1:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			if got := overlaps(tt.a, tt.b); got != tt.want {
				t.Errorf("overlaps = %v, want %v", got, tt.want)
			}
		})
	}
}
