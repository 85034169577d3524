package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// pathsEnv is quill with a /static/ pool and a catch-all pool, each one
// recording backend, on four VIPs: plain and TLS (HTTP/2), each forwarding
// the target as sent and with forward_normalized = true.
type pathsEnv struct {
	static, app *recBackend
	vips        map[string]string // name: address
	ca          *testCA
	q           *quill
	accessLog   string
}

func startPaths(t *testing.T) *pathsEnv {
	t.Helper()
	e := &pathsEnv{static: startRecBackend(t, "127.0.0.1:0"), app: startRecBackend(t, "127.0.0.1:0"),
		vips: map[string]string{}, ca: newTestCA(t), accessLog: filepath.Join(t.TempDir(), "access.log")}
	cert := e.ca.pair(t, t.TempDir(), "vip", leafSpec{cn: "localhost", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[global]\nshutdown_timeout = \"5s\"\n")
	for _, v := range []struct {
		name      string
		tls, norm bool
	}{{"plain", false, false}, {"plainnorm", false, true}, {"secure", true, false}, {"securenorm", true, true}} {
		addr := freeAddr(t)
		e.vips[v.name] = addr
		fmt.Fprintf(&cfg, "\n[vips.%s]\nlisten = [%q]\nforward_normalized = %v\n", v.name, addr, v.norm)
		if v.tls {
			fmt.Fprintf(&cfg, "  [vips.%s.tls]\n  certificates = [{ cert = %q, key = %q }]\n", v.name, cert.cert, cert.key)
		}
		fmt.Fprintf(&cfg, "  [[vips.%s.routes]]\n  path = \"/static/\"\n  pool = \"static\"\n", v.name)
		fmt.Fprintf(&cfg, "  [[vips.%s.routes]]\n  pool = \"app\"\n", v.name)
	}
	fmt.Fprintf(&cfg, "\n[pools.static]\nservers = [{ address = %q }]\n", e.static.addr)
	fmt.Fprintf(&cfg, "\n[pools.app]\nservers = [{ address = %q }]\n", e.app.addr)
	cfg.WriteString(accessLogTable(e.accessLog, `window = "100ms"`))
	addrs := make([]string, 0, len(e.vips))
	for _, a := range e.vips {
		addrs = append(addrs, a)
	}
	e.q = startQuill(t, cfg.String(), addrs...)
	return e
}

// pathCase is one target and where it must end up.
type pathCase struct {
	target     string
	pool       string // "static", "app", or "" for a 400 from quill
	asSent     string // the target the backend gets; "" for the target itself
	normalized string // the target the backend gets with forward_normalized
	h1Only     bool   // absolute form: HTTP/2's :path has none
}

var pathCases = []pathCase{
	{target: "/static/x", pool: "static", normalized: "/static/x"},
	// The probes that bypassed the /static/ prefix before.
	{target: "/static/../app", pool: "app", normalized: "/app"},
	{target: "/static/%2e%2e/app", pool: "app", normalized: "/app"},
	{target: "/app/../static/x", pool: "static", normalized: "/static/x"},
	{target: "/./static/x", pool: "static", normalized: "/static/x"},
	{target: "//static/x", pool: "static", normalized: "/static/x"},
	{target: "/%2e%2e/"},
	{target: "/a%00b"},
	{target: "/static/x#frag"},
	// More of the same.
	{target: "/static/%2e%2e/app?x=1", pool: "app", normalized: "/app?x=1"},
	{target: "/static/%2E%2E/static/y?a=1", pool: "static", normalized: "/static/y?a=1"},
	{target: "/static/./x/", pool: "static", normalized: "/static/x/"},
	{target: "/static/..", pool: "app", normalized: "/"},
	{target: "/static/.", pool: "static", normalized: "/static/"},
	{target: "/static%2f..%2fapp", pool: "app", normalized: "/static%2f..%2fapp"},
	{target: "/app?next=/static/../x&p=%2e%2e", pool: "app", normalized: "/app?next=/static/../x&p=%2e%2e"},
	{target: "/x?a#frag"},
	{target: "/.."},
	{target: "/static/../../etc/passwd"},
	{target: "/static/x%00.png"},
	{target: "http://127.0.0.1/static/../app?z=1", pool: "app", asSent: "/static/../app?z=1", normalized: "/app?z=1", h1Only: true},
	{target: "http://127.0.0.1//static/x", pool: "static", asSent: "//static/x", normalized: "/static/x", h1Only: true},
}

// TestHostilePaths sends each target as raw bytes, over TCP and over TLS
// with HTTP/1.1 and HTTP/2, and checks which backend got it and the target
// it saw, or that quill answered 400 and forwarded nothing, and that
// every request has its access-log line.
func TestHostilePaths(t *testing.T) {
	e := startPaths(t)
	tlsConf := &tls.Config{RootCAs: e.ca.pool, ServerName: "127.0.0.1"}
	type sender struct {
		name string
		vip  string
		h2   bool
		tls  *tls.Config
	}
	var senders []sender
	for _, norm := range []string{"", "norm"} {
		senders = append(senders,
			sender{"HTTP/1.1 over TCP", "plain" + norm, false, nil},
			sender{"HTTP/1.1 over TLS", "secure" + norm, false, tlsConf},
			sender{"HTTP/2", "secure" + norm, true, tlsConf})
	}
	var logged []string // request lines the access log must hold, with their status
	forwarded := 0      // requests the backends must have seen, in all
	for _, s := range senders {
		for _, c := range pathCases {
			if s.h2 && c.h1Only {
				continue
			}
			name := fmt.Sprintf("%s %s %s", s.vip, s.name, c.target)
			staticBefore, appBefore := len(e.static.requests()), len(e.app.requests())
			var status int
			var err error
			if s.h2 {
				status, err = h2Get(e.vips[s.vip], tlsConf, c.target)
			} else {
				status, err = h1Get(e.vips[s.vip], s.tls, c.target)
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			proto := "HTTP/1.1"
			if s.h2 {
				proto = "HTTP/2.0"
			}
			logged = append(logged, fmt.Sprintf("%q %d", "GET "+c.target+" "+proto, status))
			newStatic, newApp := e.static.requests()[staticBefore:], e.app.requests()[appBefore:]
			if c.pool == "" {
				if status != 400 || len(newStatic)+len(newApp) != 0 {
					t.Errorf("%s: status %d, backends got\n%s%s; want 400 and nothing forwarded", name, status, logText(newStatic), logText(newApp))
				}
				continue
			}
			got, other := newStatic, newApp
			if c.pool == "app" {
				got, other = newApp, newStatic
			}
			forwarded++
			if status != 200 || len(got) != 1 || len(other) != 0 {
				t.Errorf("%s: status %d; pool %s got:\n%sthe other pool got:\n%s", name, status, c.pool, logText(got), logText(other))
				continue
			}
			want := c.target
			if c.asSent != "" {
				want = c.asSent
			}
			if strings.HasSuffix(s.vip, "norm") {
				want = c.normalized
			}
			if seen := sentTarget(got[0]); seen != want {
				t.Errorf("%s: backend %s got target %q, want %q", name, c.pool, seen, want)
			}
		}
	}
	termQuill(t, e.q)
	// A refused request forwarded all the same would show here.
	if n := len(e.static.requests()) + len(e.app.requests()); n != forwarded {
		t.Errorf("backends saw %d requests, want %d:\n%s%s", n, forwarded, logText(e.static.requests()), logText(e.app.requests()))
	}
	log, err := os.ReadFile(e.accessLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logged {
		if n := bytes.Count(log, []byte(l)); n < 1 {
			t.Errorf("access log has no line with %s", l)
		}
	}
	if t.Failed() {
		t.Logf("access log:\n%s", log)
	}
}

// sentTarget is the target of the request line the backend received, as
// it came (net/http's parser, which the log's Target comes from, refuses
// some that quill forwards as sent).
func sentTarget(r seenReq) string {
	line, _, _ := strings.Cut(r.Head, "\r\n")
	parts := strings.Split(line, " ")
	if len(parts) != 3 {
		return line
	}
	return parts[1]
}

// h1Get sends "GET target" as raw bytes on a connection of its own and
// returns the status of the answer.
func h1Get(addr string, tlsConf *tls.Config, target string) (int, error) {
	if tlsConf != nil {
		tlsConf = tlsConf.Clone()
		tlsConf.NextProtos = []string{"http/1.1"}
	}
	c, err := dialVIP(addr, tlsConf)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err
	}
	res := readResponses(c, bufio.NewReader(c), []string{"GET"}, time.Now().Add(10*time.Second))
	if len(res.got) != 1 {
		return 0, fmt.Errorf("no answer: closed %v, %v", res.closed, res.err)
	}
	return res.got[0].status, nil
}

// h2Get sends one GET with the :path given, byte for byte (Go's client
// and curl clean some paths up), on an HTTP/2 connection of its own, and
// returns the :status of the answer.
func h2Get(addr string, tlsConf *tls.Config, path string) (int, error) {
	tlsConf = tlsConf.Clone()
	tlsConf.NextProtos = []string{"h2"}
	c, err := dialVIP(addr, tlsConf)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if p := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		return 0, fmt.Errorf("ALPN chose %q, not h2", p)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return 0, err
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		return 0, err
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "127.0.0.1"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		return 0, err
	}
	status := 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, fmt.Errorf("reading frames (status %d so far): %w", status, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && status == 0 {
				fmt.Sscan(f.PseudoValue("status"), &status)
			}
			if f.StreamID == 1 && f.StreamEnded() {
				return status, nil
			}
		case *http2.DataFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return status, nil
			}
		case *http2.RSTStreamFrame:
			return 0, fmt.Errorf("stream reset: %v", f.ErrCode)
		case *http2.GoAwayFrame:
			return 0, fmt.Errorf("GOAWAY: %v", f.ErrCode)
		}
	}
}

// TestHostilePathsCurl puts curl's requests through the same VIPs, over
// HTTP/1.1 and HTTP/2 with --path-as-is (without it curl resolves the dot
// segments itself and quill never sees them).
func TestHostilePathsCurl(t *testing.T) {
	requireTool(t, "curl")
	e := startPaths(t)
	for _, proto := range []string{"--http1.1", "--http2"} {
		for _, c := range []struct{ path, pool, seen string }{
			{"/static/../app", "app", "/static/../app"},
			{"/static/%2e%2e/app", "app", "/static/%2e%2e/app"},
			{"//static/x", "static", "//static/x"},
			{"/%2e%2e/", "", ""},
		} {
			name := proto + " " + c.path
			before := map[*recBackend]int{e.static: len(e.static.requests()), e.app: len(e.app.requests())}
			out := mustCurl(t, proto, "--path-as-is", "--cacert", e.ca.file, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
				"https://127.0.0.1:"+portOf(e.vips["secure"])+c.path)
			wantVersion := map[string]string{"--http1.1": "1.1", "--http2": "2"}[proto]
			if c.pool == "" {
				if out != "400 "+wantVersion {
					t.Errorf("%s: curl says %q, want 400 over HTTP/%s", name, out, wantVersion)
				}
				continue
			}
			if out != "200 "+wantVersion {
				t.Errorf("%s: curl says %q, want 200 over HTTP/%s", name, out, wantVersion)
				continue
			}
			b := map[string]*recBackend{"static": e.static, "app": e.app}[c.pool]
			got := b.requests()[before[b]:]
			if len(got) != 1 || sentTarget(got[0]) != c.seen {
				t.Errorf("%s: pool %s got\n%swant one request for %q", name, c.pool, logText(got), c.seen)
			}
		}
	}
}

// TestForwardNormalizedKeepAlive sends, on one connection, a request
// whose normalized target is forwarded, then one already normal, then one
// normalized again: each backend request carries its own target, never
// the one before.
func TestForwardNormalizedKeepAlive(t *testing.T) {
	e := startPaths(t)
	c, err := dialVIP(e.vips["plainnorm"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	targets := []string{"/static/a/../b?one", "/static/c?two", "/x/./y/../../static/d?three"}
	want := []string{"/static/b?one", "/static/c?two", "/static/d?three"}
	for _, target := range targets {
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	}
	res := readResponses(c, bufio.NewReader(c), []string{"GET", "GET", "GET"}, time.Now().Add(10*time.Second))
	if len(res.got) != 3 {
		t.Fatalf("answers %+v, %v", res.got, res.err)
	}
	got := e.static.requests()
	if len(got) != 3 {
		t.Fatalf("static pool got\n%s", logText(got))
	}
	for i, r := range got {
		if sentTarget(r) != want[i] {
			t.Errorf("request %d: backend got %q, want %q", i+1, sentTarget(r), want[i])
		}
	}
}
