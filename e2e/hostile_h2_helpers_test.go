package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Env is quill with one TLS VIP in front of one backend, for the
// HTTP/2 probes.
type h2Env struct {
	q      *quill
	vip    string // host:port of the TLS VIP
	admin  string
	ca     *testCA
	access string // the access log file
	cfg    string // the config quill runs
}

// startH2Env starts quill with globalExtra added to [global] in front of
// the backend at backendAddr.
func startH2Env(t *testing.T, globalExtra, backendAddr string) *h2Env {
	t.Helper()
	ca := newTestCA(t)
	dir := t.TempDir()
	cert := ca.pair(t, dir, "vip", leafSpec{cn: "localhost", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	e := &h2Env{vip: freeAddr(t), admin: freeAddr(t), ca: ca, access: dir + "/access.log"}
	cfg := fmt.Sprintf(`[global]
shutdown_timeout = "5s"
%s
[admin]
listen = %q

[access_log]
path = %q

[vips.secure]
listen = [%q]
  [vips.secure.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
timeout = "20s"
servers = [{ name = "web", address = %q }]
`, globalExtra, e.admin, e.access, e.vip, cert.cert, cert.key, backendAddr)
	e.q = startQuill(t, cfg, e.vip, e.admin)
	e.cfg = cfg
	return e
}

// countingBackend answers every request with 200 and its body, "ok\n"
// unless set, and counts them.
type countingBackend struct {
	addr     string
	requests atomic.Int64
}

func startCountingBackend(t *testing.T, body ...string) *countingBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBackend{addr: ln.Addr().String()}
	reply := "ok\n"
	if len(body) > 0 {
		reply = body[0]
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		w.Write([]byte(reply))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

// h2Client is a raw HTTP/2 connection to a VIP: frames are written and
// read one by one with x/net's Framer, so that a test can send what no
// well-behaved client would.
type h2Client struct {
	conn   *tls.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	next   uint32 // next client stream ID
}

// dialH2 opens a TLS connection with ALPN h2 and sends the preface and an
// empty SETTINGS frame.
func dialH2(t *testing.T, addr string, ca *testCA) *h2Client {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN chose %q, want h2", p)
	}
	c := &h2Client{conn: conn, fr: http2.NewFramer(conn, conn), next: 1}
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// headers encodes a GET of path, with extra fields (name, value pairs).
func (c *h2Client) headers(path string, extra ...string) []byte {
	c.encBuf.Reset()
	fields := append([]string{":method", "GET", ":scheme", "https", ":authority", "127.0.0.1", ":path", path}, extra...)
	for i := 0; i+1 < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(c.encBuf.Bytes())
}

// get opens a stream with a GET of path and returns its ID.
func (c *h2Client) get(path string, extra ...string) (uint32, error) {
	id := c.next
	c.next += 2
	return id, c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.headers(path, extra...), EndStream: true, EndHeaders: true})
}

// h2Answer is what came back on one stream.
type h2Answer struct {
	status string
	body   []byte
	ended  bool          // END_STREAM received
	reset  http2.ErrCode // RST_STREAM code, if reset
	wasRST bool
}

// h2GoAway is a GOAWAY frame received.
type h2GoAway struct {
	code       http2.ErrCode
	lastStream uint32
	debug      string
}

// readUntil reads frames until the stream ends or is reset, the
// connection ends, or the deadline passes; it answers SETTINGS and PING as
// a client must. It returns the stream's answer and any GOAWAY seen.
func (c *h2Client) readUntil(t *testing.T, stream uint32, deadline time.Time) (a h2Answer, goAway *h2GoAway, err error) {
	t.Helper()
	c.conn.SetReadDeadline(deadline)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return a, goAway, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				c.fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			goAway = &h2GoAway{code: f.ErrCode, lastStream: f.LastStreamID, debug: string(f.DebugData())}
		case *http2.MetaHeadersFrame:
			if f.StreamID == stream {
				if s := f.PseudoValue("status"); s != "" {
					a.status = s
				}
				if f.StreamEnded() {
					a.ended = true
					return a, goAway, nil
				}
			}
		case *http2.DataFrame:
			if f.StreamID == stream {
				a.body = append(a.body, f.Data()...)
				if f.StreamEnded() {
					a.ended = true
					return a, goAway, nil
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == stream {
				a.wasRST, a.reset = true, f.ErrCode
				return a, goAway, nil
			}
		}
	}
}

// metric reads one sample of quill's /metrics ("name{labels}"), 0 if absent.
func adminMetric(t *testing.T, admin, sample string) string {
	t.Helper()
	for _, line := range strings.Split(mustCurl(t, "http://"+admin+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return "0"
}
