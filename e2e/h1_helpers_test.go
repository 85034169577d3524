package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// h1Env is quill with a plain and a TLS VIP in front of one recording
// backend: what the HTTP/1 contract tests run against.
type h1Env struct {
	backend *recBackend
	plain   string // host:port of the plain VIP
	tls     string // host:port of the TLS VIP, certificate for 127.0.0.1 and localhost
	ca      *testCA
}

func startH1(t *testing.T) *h1Env {
	t.Helper()
	b := startRecBackend(t, "127.0.0.1:0")
	ca := newTestCA(t)
	cert := ca.pair(t, t.TempDir(), "vip", leafSpec{cn: "localhost", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	e := &h1Env{backend: b, plain: freeAddr(t), tls: freeAddr(t), ca: ca}
	cfg := fmt.Sprintf(`[global]
shutdown_timeout = "5s"

[vips.plain]
listen = [%q]
  [[vips.plain.routes]]
  pool = "app"

[vips.secure]
listen = [%q]
  [vips.secure.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
timeout = "20s"
servers = [{ name = "rec", address = %q }]
`, e.plain, e.tls, cert.cert, cert.key, b.addr)
	startQuill(t, cfg, e.plain, e.tls)
	return e
}

// tlsConfig trusts the VIP's certificate and offers HTTP/1.1 only.
func (e *h1Env) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: e.ca.pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}
}

// client is a Go client for the VIPs: HTTP/1.1 only, bounded in time.
func (e *h1Env) client() *http.Client {
	tr := &http.Transport{
		TLSClientConfig:       e.tlsConfig(),
		ForceAttemptHTTP2:     false,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		ExpectContinueTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// dialVIP opens a raw connection to a VIP, through TLS when tlsConf is set.
func dialVIP(addr string, tlsConf *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if tlsConf != nil {
		return tls.DialWithDialer(d, "tcp", addr, tlsConf)
	}
	return d.Dial("tcp", addr)
}

// checkForwarded checks the headers quill adds to every request it
// forwards, for a client on 127.0.0.1.
func checkForwarded(t *testing.T, r seenReq, proto, host string) {
	t.Helper()
	for _, c := range []struct{ name, want string }{
		{"X-Forwarded-For", "127.0.0.1"},
		{"X-Forwarded-Proto", proto},
		{"X-Forwarded-Host", host},
	} {
		if got := strings.Join(r.Header.Values(c.name), ","); got != c.want {
			t.Errorf("%s %s: backend got %s %q, want %q", r.Method, r.Target, c.name, got, c.want)
		}
	}
}

// onlyOne returns the one backend log entry whose target contains sub.
func onlyOne(t *testing.T, b *recBackend, sub string) seenReq {
	t.Helper()
	var got []seenReq
	eventually(t, 5*time.Second, func() bool {
		got = b.matching(sub)
		return len(got) >= 1 && got[len(got)-1].Done
	})
	if len(got) != 1 {
		t.Fatalf("backend saw %d requests for %q, want 1:\n%s", len(got), sub, logText(got))
	}
	return got[0]
}

func logText(reqs []seenReq) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s\n", r)
	}
	return b.String()
}

// rawResponse is one answer read off a raw connection.
type rawResponse struct {
	status  int
	body    string
	header  http.Header
	trailer http.Header
	close   bool // the answer said Connection: close (net/http drops the field)
}

// readResult is what readResponses read, and how the connection ended.
type readResult struct {
	got    []rawResponse
	closed bool // the server closed the connection (FIN or reset)
	reset  bool // by a reset
	err    error
}

// readResponses reads HTTP/1.x responses from br, to requests whose methods
// are given in order, until all came, the server closed, or the deadline
// passed. A reset is a close: on Linux the bytes that came before it are
// still read, so an answer it follows is not lost.
func readResponses(c net.Conn, br *bufio.Reader, methods []string, deadline time.Time) readResult {
	var r readResult
	c.SetReadDeadline(deadline)
	for i := 0; i < len(methods); i++ {
		resp, err := http.ReadResponse(br, &http.Request{Method: methods[i]})
		if err != nil {
			r.closed = err == io.EOF || err == io.ErrUnexpectedEOF || isReset(err)
			r.reset = isReset(err)
			if !r.closed {
				r.err = err
			}
			return r
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.got = append(r.got, rawResponse{status: resp.StatusCode, body: string(body), header: resp.Header, trailer: resp.Trailer, close: resp.Close})
		if isReset(err) && resp.Close && resp.ContentLength < 0 {
			// A body framed by the close, ended by a reset.
			r.closed, r.reset = true, true
			return r
		}
		if err != nil {
			r.err = fmt.Errorf("response %d body: %w", i+1, err)
			return r
		}
		if resp.StatusCode == http.StatusContinue {
			i-- // an interim answer: the final one follows
		}
	}
	return r
}

// waitClosed says whether the server closes the connection (after maybe
// sending more bytes, which are returned) before the deadline, and whether
// by a reset.
func waitClosed(c net.Conn, br *bufio.Reader, deadline time.Time) (closed, reset bool, extra string) {
	c.SetReadDeadline(deadline)
	b, err := io.ReadAll(br)
	return err == nil || isReset(err), isReset(err), string(b)
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// toolTemp is a file path in the test's temporary directory.
func toolTemp(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }

// TestH1RecordingBackend checks the backend the HTTP/1 tests rely on, with
// no proxy in between: a log that missed requests would let every probe
// pass.
func TestH1RecordingBackend(t *testing.T) {
	b := startRecBackend(t, "127.0.0.1:0")
	c, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "\r\nGET /one HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n"+
		"POST /three HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"+
		"GET /four HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy")
	res := readResponses(c, bufio.NewReader(c), []string{"GET", "POST", "POST", "GET"}, time.Now().Add(5*time.Second))
	if len(res.got) != 3 || !res.closed {
		t.Errorf("answers %+v, closed %v, %v; want 3 then a close", res.got, res.closed, res.err)
	}
	got := b.requests()
	want := []string{
		"conn 1 #1: GET /one HTTP/1.1 body=0 status=200",
		"conn 1 #2: POST /two HTTP/1.1 body=5 status=200",
		"conn 1 #3: POST /three HTTP/1.1 body=3 status=200",
	}
	if len(got) != 4 {
		t.Fatalf("log:\n%s", logText(got))
	}
	for i, w := range want {
		if got[i].String() != w {
			t.Errorf("entry %d: %s, want %s", i, got[i], w)
		}
	}
	if tr := got[1].Trailer.Get("X-Sum"); !got[1].Chunked || tr != "5" {
		t.Errorf("chunked %v, trailer %q", got[1].Chunked, tr)
	}
	if got[3].Err == "" || !strings.Contains(got[3].Head, "/four") {
		t.Errorf("a head net/http refuses is logged as %s", got[3])
	}
}
