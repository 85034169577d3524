package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"quill/proxyproto"
)

// ppSetup is a proxy with PROXY protocol VIPs in front of two backends that
// answer with their name and the X-Forwarded-For they got.
type ppSetup struct {
	p                *testProxy
	plain, tls, deny string // listen addresses: plain and TLS VIPs that take 127.0.0.1's headers, one that takes nobody's
	log              string // the access log
	logs             *observer.ObservedLogs
}

func newPPSetup(t *testing.T, readHeaderTimeout string) *ppSetup {
	t.Helper()
	dir := t.TempDir()
	var backends []string
	for _, name := range []string{"a", "b"} {
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.Header.Get("X-Forwarded-For"))
		}))
		t.Cleanup(b.Close)
		backends = append(backends, fmt.Sprintf("{ address = %q }", b.Listener.Addr()))
	}
	cert := newTestCert(t, dir, "pp")
	s := &ppSetup{plain: freeAddr(t), tls: freeAddr(t), deny: freeAddr(t), log: filepath.Join(dir, "access.log")}
	src := fmt.Sprintf(`[global]
read_header_timeout = %q
[access_log]
path = %q
window = "10ms"
[vips.pp]
listen = [%q]
proxy_protocol = true
proxy_protocol_from = ["10.9.9.9", "127.0.0.0/8"]
  [[vips.pp.routes]]
  pool = "app"
[vips.pptls]
listen = [%q]
proxy_protocol = true
proxy_protocol_from = ["127.0.0.1"]
  [vips.pptls.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.pptls.routes]]
  pool = "app"
[vips.deny]
listen = [%q]
proxy_protocol = true
proxy_protocol_from = ["192.0.2.0/24"]
  [[vips.deny.routes]]
  pool = "app"
[pools.app]
servers = [%s]
  [pools.app.sticky]
  mode = "ip"
`, readHeaderTimeout, s.log, s.plain, s.tls, cert.cert, cert.key, s.deny, strings.Join(backends, ", "))
	path := filepath.Join(dir, "quill.toml")
	writeTestFile(t, path, []byte(src))
	core, logs := observer.New(zapcore.DebugLevel)
	p, err := New(parseConfig(t, path, src, nil), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	p.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	s.p, s.logs = &testProxy{Proxy: p, path: path}, logs
	return s
}

// header is the PROXY header of a connection from client to addr (for an
// IPv6 client, to an IPv6 address of the balancer).
func header(t *testing.T, version int, client, addr string) []byte {
	t.Helper()
	src, dst := netip.MustParseAddrPort(client), netip.MustParseAddrPort(addr)
	if src.Addr().Is6() {
		dst = netip.MustParseAddrPort("[2001:db8::ffff]:443")
	}
	h := proxyproto.Header{Version: version, Command: proxyproto.Proxy, Source: src, Destination: dst}
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ppDial connects to addr as an L4 balancer would: header first.
func ppDial(t *testing.T, addr string, hdr []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(hdr); err != nil {
		t.Fatal(err)
	}
	return c
}

// get sends one HTTP/1.1 request on c (plain or TLS) and returns the body.
func get(t *testing.T, c net.Conn) string {
	t.Helper()
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: quill.test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func tlsOver(t *testing.T, c net.Conn, protos ...string) *tls.Conn {
	t.Helper()
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "quill.test", NextProtos: protos})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake after the PROXY header: %v", err)
	}
	return tc
}

// getH2 sends one HTTP/2 request over an h2 TLS connection.
func getH2(t *testing.T, tc *tls.Conn) string {
	t.Helper()
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, not h2", p)
	}
	var protos http.Protocols
	protos.SetHTTP2(true)
	dialed := false
	tr := &http.Transport{Protocols: &protos, DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
		if dialed {
			return nil, errors.New("the test gives the transport one connection")
		}
		dialed = true
		return tc, nil
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://quill.test/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("answered over %s", resp.Proto)
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestProxyProtocolClientAddress: over v1 and v2, plain HTTP/1, TLS HTTP/1
// and TLS HTTP/2, the backend sees the client of the header in
// X-Forwarded-For and the access log names it, not the balancer.
func TestProxyProtocolClientAddress(t *testing.T) {
	s := newPPSetup(t, "5s")
	tests := []struct {
		name    string
		version int
		client  string
		addr    string
		serve   func(*testing.T, net.Conn) string
	}{
		{"v1 plain", 1, "203.0.113.1:40001", s.plain, get},
		{"v2 plain", 2, "203.0.113.2:40002", s.plain, get},
		{"v1 plain ipv6 client", 1, "[2001:db8::3]:40003", s.plain, get},
		{"v2 plain ipv6 client", 2, "[2001:db8::4]:40004", s.plain, get},
		{"v2 mapped ipv4 client", 2, "[::ffff:203.0.113.5]:40005", s.plain, get},
		{"v1 tls h1", 1, "203.0.113.6:40006", s.tls, func(t *testing.T, c net.Conn) string { return get(t, tlsOver(t, c, "http/1.1")) }},
		{"v2 tls h1", 2, "203.0.113.7:40007", s.tls, func(t *testing.T, c net.Conn) string { return get(t, tlsOver(t, c, "http/1.1")) }},
		{"v1 tls h2", 1, "203.0.113.8:40008", s.tls, func(t *testing.T, c net.Conn) string { return getH2(t, tlsOver(t, c, "h2")) }},
		{"v2 tls h2", 2, "203.0.113.9:40009", s.tls, func(t *testing.T, c net.Conn) string { return getH2(t, tlsOver(t, c, "h2")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := netip.MustParseAddrPort(tt.client).Addr().Unmap().String()
			c := ppDial(t, tt.addr, header(t, tt.version, tt.client, tt.addr))
			body := tt.serve(t, c)
			if _, xff, _ := strings.Cut(body, " "); xff != client {
				t.Errorf("backend got X-Forwarded-For %q, want %q", xff, client)
			}
			waitFor(t, 5*time.Second, "the access log line of "+client, func() bool {
				b, _ := os.ReadFile(s.log)
				return strings.Contains("\n"+string(b), "\n"+client+" - - [")
			})
		})
	}
}

// TestProxyProtocolOwnAddress: a v2 LOCAL header (a balancer's health
// check) and a v1 UNKNOWN one keep the connection's own address.
func TestProxyProtocolOwnAddress(t *testing.T) {
	s := newPPSetup(t, "5s")
	for _, h := range []proxyproto.Header{{Version: 2, Command: proxyproto.Local}, {Version: 1, Command: proxyproto.Proxy}} {
		b, err := h.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		body := get(t, ppDial(t, s.plain, b))
		if _, xff, _ := strings.Cut(body, " "); xff != "127.0.0.1" {
			t.Errorf("%q: backend got X-Forwarded-For %q, want the balancer's 127.0.0.1", b, xff)
		}
	}
}

// TestProxyProtocolIPSticky: ip stickiness keys on the client of the
// header. Twenty clients behind one balancer address are spread over both
// servers, and each keeps its own.
func TestProxyProtocolIPSticky(t *testing.T) {
	s := newPPSetup(t, "5s")
	seen := map[string]bool{}
	for i := range 20 {
		client := fmt.Sprintf("198.51.100.%d:5000", i+1)
		var first string
		for j := range 3 {
			body := get(t, ppDial(t, s.plain, header(t, 1+j%2, client, s.plain)))
			server, _, _ := strings.Cut(body, " ")
			if j == 0 {
				first = server
			} else if server != first {
				t.Errorf("client %s went to %s, then to %s", client, first, server)
			}
		}
		seen[first] = true
	}
	if len(seen) != 2 {
		t.Errorf("20 clients all went to %v: stickiness keyed on the balancer, not the client", seen)
	}
}

func refused(s *ppSetup, vip, reason string) float64 {
	return testutil.ToFloat64(s.p.metrics.proxyRefused.WithLabelValues(vip, reason))
}

// assertClosedUnanswered reads c to its end: nothing may come before it.
func assertClosedUnanswered(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if len(b) > 0 || (errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("refused connection answered %q, %v; want closed with nothing", b, err)
	}
}

// TestProxyProtocolRefused: a peer outside proxy_protocol_from, a
// connection without a header, with a malformed one, closed early, or too
// slow is closed unanswered and counted by reason.
func TestProxyProtocolRefused(t *testing.T) {
	s := newPPSetup(t, "1s")
	handshake := func(t *testing.T, c net.Conn) {
		tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake()
	}
	tests := []struct {
		name, vip, reason string
		addr              func() string
		send              func(*testing.T, net.Conn)
	}{
		{"peer outside the list", "deny", refusedSource, func() string { return s.deny },
			func(t *testing.T, c net.Conn) { c.Write(header(t, 2, "203.0.113.1:1", s.deny)) }},
		{"no header", "pp", refusedInvalid, func() string { return s.plain },
			func(t *testing.T, c net.Conn) { io.WriteString(c, "GET / HTTP/1.1\r\nHost: quill.test\r\n\r\n") }},
		{"no header on TLS", "pptls", refusedInvalid, func() string { return s.tls }, handshake},
		{"garbage header", "pp", refusedInvalid, func() string { return s.plain },
			func(t *testing.T, c net.Conn) {
				io.WriteString(c, "PROXY TCP4 203.0.113.1 nowhere 1 2\r\nGET / HTTP/1.1\r\n\r\n")
			}},
		{"v1 line too long", "pp", refusedInvalid, func() string { return s.plain },
			func(t *testing.T, c net.Conn) { io.WriteString(c, "PROXY UNKNOWN "+strings.Repeat("x", 200)) }},
		{"closed at once", "pp", refusedClosed, func() string { return s.plain },
			func(t *testing.T, c net.Conn) { c.(*net.TCPConn).CloseWrite() }},
		{"slow header", "pp", refusedTimeout, func() string { return s.plain },
			func(t *testing.T, c net.Conn) { io.WriteString(c, "PROXY TCP4 203.0.113.1 ") }},
		{"slow header on TLS", "pptls", refusedTimeout, func() string { return s.tls },
			func(t *testing.T, c net.Conn) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := refused(s, tt.vip, tt.reason)
			c, err := net.Dial("tcp", tt.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			tt.send(t, c)
			assertClosedUnanswered(t, c)
			waitFor(t, 5*time.Second, "the refusal counted as "+tt.reason, func() bool {
				return refused(s, tt.vip, tt.reason) == before+1
			})
		})
	}
}

// TestProxyProtocolRefusalLog: refusals log one warning per listen address
// per refusalLogEvery, the rest at debug level; an early close never warns.
func TestProxyProtocolRefusalLog(t *testing.T) {
	s := newPPSetup(t, "5s")
	const n = 6
	for range n {
		c := ppDial(t, s.deny, header(t, 1, "203.0.113.1:1", s.deny))
		assertClosedUnanswered(t, c)
	}
	c, err := net.Dial("tcp", s.plain)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, 5*time.Second, "every refusal logged", func() bool {
		return s.logs.FilterMessageSnippet("PROXY protocol").Len() == n+1
	})
	refusals := s.logs.FilterMessageSnippet("PROXY protocol")
	if w := refusals.FilterLevelExact(zapcore.WarnLevel).All(); len(w) != 1 || w[0].ContextMap()["peer"] == nil || w[0].ContextMap()["reason"] != refusedSource {
		t.Errorf("warnings: %+v; want one, naming the peer and the reason", w)
	}
	if d := refusals.FilterLevelExact(zapcore.DebugLevel).Len(); d != n {
		t.Errorf("%d refusals at debug level, want %d", d, n)
	}
}

// TestProxyProtocolSlowClientBlocksNobody: while connections that send no
// header wait, on the plain and the TLS VIP, other clients are served.
// The header timeout (30 s) is longer than the client's (10 s), so an
// accept loop that waited for the slow ones would fail the test.
func TestProxyProtocolSlowClientBlocksNobody(t *testing.T) {
	s := newPPSetup(t, "30s")
	for _, addr := range []string{s.plain, s.tls} {
		for range 3 {
			slow, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
		}
	}
	if body := get(t, ppDial(t, s.plain, header(t, 1, "203.0.113.20:1", s.plain))); !strings.HasSuffix(body, " 203.0.113.20") {
		t.Errorf("plain VIP answered %q", body)
	}
	if body := get(t, tlsOver(t, ppDial(t, s.tls, header(t, 2, "203.0.113.21:1", s.tls)), "http/1.1")); !strings.HasSuffix(body, " 203.0.113.21") {
		t.Errorf("TLS VIP answered %q", body)
	}
}

// TestProxyProtocolReload: on a kept listener, a reload that drops the
// balancer from proxy_protocol_from refuses its next connection, and one
// that turns the header off serves the next connection without one.
func TestProxyProtocolReload(t *testing.T) {
	s := newPPSetup(t, "5s")
	src, err := os.ReadFile(s.p.path)
	if err != nil {
		t.Fatal(err)
	}
	const from = "proxy_protocol_from = [\"10.9.9.9\", \"127.0.0.0/8\"]\n"
	if !strings.Contains(string(src), "proxy_protocol = true\n"+from) {
		t.Fatal("the test's config changed; fix the edits")
	}
	if err := s.p.reload(t, strings.Replace(string(src), from, "proxy_protocol_from = [\"10.9.9.9\"]\n", 1), nil); err != nil {
		t.Fatal(err)
	}
	before := refused(s, "pp", refusedSource)
	assertClosedUnanswered(t, ppDial(t, s.plain, header(t, 1, "203.0.113.1:1", s.plain)))
	if got := refused(s, "pp", refusedSource); got != before+1 {
		t.Errorf("refused as source: %v, want %v", got, before+1)
	}
	if err := s.p.reload(t, strings.Replace(string(src), "proxy_protocol = true\n"+from, "", 1), nil); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if body := get(t, c); !strings.HasSuffix(body, " 127.0.0.1") {
		t.Errorf("after the reload a direct request got %q", body)
	}
}

// TestProxyProtocolIdleConnectionsPark: idle keep-alive connections of a
// PROXY VIP give up their goroutines as plain ones do (the HTTP/1 engine
// still reads their sockets itself: the header left nothing buffered),
// and are served again with the client of their header.
func TestProxyProtocolIdleConnectionsPark(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("idle connections are parked with epoll")
	}
	s := newPPSetup(t, "5s")
	const n = 20
	type client struct {
		c    net.Conn
		br   *bufio.Reader
		addr string
	}
	request := func(t *testing.T, cl client) {
		t.Helper()
		if _, err := io.WriteString(cl.c, "GET /x HTTP/1.1\r\nHost: quill.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(cl.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasSuffix(string(b), " "+cl.addr) {
			t.Errorf("client %s: answer %q", cl.addr, b)
		}
	}
	var clients []client
	for i := range n {
		addr := fmt.Sprintf("203.0.113.%d", 100+i)
		c := ppDial(t, s.plain, header(t, 1+i%2, addr+":1000", s.plain))
		clients = append(clients, client{c: c, br: bufio.NewReader(c), addr: addr})
		request(t, clients[i])
	}
	busy := runtime.NumGoroutine()
	waitFor(t, 5*time.Second, fmt.Sprintf("%d idle connections to give up their goroutines (%d while serving)", n, busy), func() bool {
		return runtime.NumGoroutine() <= busy-n
	})
	for _, cl := range clients {
		request(t, cl)
	}
}
