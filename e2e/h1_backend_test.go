package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// recBackend is the web server behind the proxy in the HTTP/1 contract
// tests. It runs in the test process and reads requests with a loop of its
// own (heads through net/http's parser, bodies framed by hand) rather than
// net/http's server, because a net/http server repairs some framing errors
// (it drops Content-Length beside chunked) and refuses others without
// calling a handler: either way the test would not see what the proxy
// really forwarded. Every request head that arrives is logged, with the
// backend connection it came on; so is every run of bytes that does not
// parse as one.
type recBackend struct {
	ln   net.Listener
	addr string

	mu    sync.Mutex
	log   []*seenReq
	conns map[net.Conn]int // open connections and their numbers
	next  int              // number of the next connection
	gates map[string]chan struct{}
	done  chan struct{} // closed when the test ends
	wg    sync.WaitGroup
}

// seenReq is one entry of the backend's log.
type seenReq struct {
	Conn    int    // backend connection number, from 1, in accept order
	Seq     int    // request number on that connection, from 1
	Head    string // the head as received, for failure messages
	Err     string // set when Head did not parse as a request head
	Method  string
	Target  string // the request target as sent (origin-, absolute- or asterisk-form)
	Proto   string
	Host    string
	Header  http.Header
	Chunked bool
	BodyLen int64  // body bytes received
	BodyErr string // the body ended early or was malformed
	Trailer http.Header
	Status  int  // what the backend answered; 0 if it did not
	Done    bool // the exchange is over
}

// path is the target's path, whatever its form.
func (r seenReq) path() string {
	if i := strings.Index(r.Target, "://"); i >= 0 {
		rest := r.Target[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return r.Target
}

func (r seenReq) String() string {
	if r.Err != "" {
		return fmt.Sprintf("conn %d #%d: unparsable head (%s): %q", r.Conn, r.Seq, r.Err, r.Head)
	}
	s := fmt.Sprintf("conn %d #%d: %s %s %s body=%d status=%d", r.Conn, r.Seq, r.Method, r.Target, r.Proto, r.BodyLen, r.Status)
	if r.BodyErr != "" {
		s += " body error: " + r.BodyErr
	}
	return s
}

// startRecBackend listens on addr ("127.0.0.1:0" for any port) until the
// test ends.
func startRecBackend(t *testing.T, addr string) *recBackend {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	b := &recBackend{ln: ln, addr: ln.Addr().String(), conns: map[net.Conn]int{}, gates: map[string]chan struct{}{}, next: 1, done: make(chan struct{})}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() {
		close(b.done)
		ln.Close()
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *recBackend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		id := b.next
		b.next++
		b.conns[c] = id
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.serve(c, id)
			b.mu.Lock()
			delete(b.conns, c)
			b.mu.Unlock()
			c.Close()
		}()
	}
}

// requests is a copy of the log.
func (b *recBackend) requests() []seenReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]seenReq, len(b.log))
	for i, r := range b.log {
		out[i] = *r
	}
	return out
}

// matching is the part of the log whose target contains sub.
func (b *recBackend) matching(sub string) []seenReq {
	var out []seenReq
	for _, r := range b.requests() {
		if strings.Contains(r.Target, sub) {
			out = append(out, r)
		}
	}
	return out
}

// gate is a channel named by the test and a request (?gate=NAME): one side
// closes it to tell the other that something happened.
func (b *recBackend) gate(name string) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	g, ok := b.gates[name]
	if !ok {
		g = make(chan struct{})
		b.gates[name] = g
	}
	return g
}

func (b *recBackend) update(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
}

// maxHead bounds a request head the backend accepts; the proxy under test
// should have refused anything near it long before.
const maxHead = 1 << 20

// readHead reads up to and including the empty line that ends a head. Empty
// lines before a request line are skipped, as RFC 9112 §2.2 allows.
func readHead(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for len(head) < maxHead {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(head) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return head, err
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			if len(head) == len(line) {
				head = head[:0]
				continue
			}
			return head, nil
		}
	}
	return head, errors.New("head larger than 1 MiB")
}

// bx is one request at the backend and the connection it came on.
type bx struct {
	b       *recBackend
	c       net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	req     *http.Request
	rec     *seenReq
	body    io.Reader // framed body; nil when there is none
	sent100 bool
}

func (b *recBackend) serve(c net.Conn, id int) {
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	for seq := 1; ; seq++ {
		head, err := readHead(br)
		if err != nil {
			if len(head) > 0 {
				b.update(func() { b.log = append(b.log, &seenReq{Conn: id, Seq: seq, Head: string(head), Err: err.Error()}) })
			}
			return
		}
		rec := &seenReq{Conn: id, Seq: seq, Head: string(head)}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			rec.Err = err.Error()
			b.update(func() { b.log = append(b.log, rec) })
			return
		}
		rec.Method, rec.Target, rec.Proto, rec.Host = req.Method, req.RequestURI, req.Proto, req.Host
		rec.Header = req.Header.Clone()
		x := &bx{b: b, c: c, br: br, bw: bw, req: req, rec: rec}
		switch {
		case len(req.TransferEncoding) > 0 && req.TransferEncoding[0] == "chunked":
			rec.Chunked = true
			x.body = httputil.NewChunkedReader(br)
		case req.ContentLength > 0:
			x.body = io.LimitReader(br, req.ContentLength)
		}
		b.update(func() { b.log = append(b.log, rec) })
		keep := x.route()
		if err := x.finishBody(); err != nil {
			keep = false
		}
		if err := bw.Flush(); err != nil {
			keep = false
		}
		b.update(func() { rec.Done = true })
		if !keep || req.Close {
			return
		}
	}
}

// Read reads the request body, first answering 100 Continue when the
// client asked for it, as a server does once its handler reads the body.
func (x *bx) Read(p []byte) (int, error) {
	if x.body == nil {
		return 0, io.EOF
	}
	if !x.sent100 && strings.EqualFold(x.req.Header.Get("Expect"), "100-continue") {
		x.sent100 = true
		io.WriteString(x.bw, "HTTP/1.1 100 Continue\r\n\r\n")
		if err := x.bw.Flush(); err != nil {
			return 0, err
		}
	}
	n, err := x.body.Read(p)
	x.b.update(func() { x.rec.BodyLen += int64(n) })
	if err == io.EOF && x.rec.Chunked {
		tr, terr := textproto.NewReader(x.br).ReadMIMEHeader()
		if terr != nil {
			err = fmt.Errorf("trailer: %w", terr)
		} else if len(tr) > 0 {
			x.b.update(func() { x.rec.Trailer = http.Header(tr) })
		}
	}
	if err == io.EOF {
		x.body = nil
	} else if err != nil {
		x.b.update(func() { x.rec.BodyErr = err.Error() })
	}
	return n, err
}

// finishBody reads what the handler left of the body, so that the next
// request starts where this one ends.
func (x *bx) finishBody() error {
	if x.body == nil {
		return nil
	}
	_, err := io.Copy(io.Discard, x)
	return err
}

// respond writes a whole response framed by Content-Length (the body is
// left out for HEAD, the length kept); headers are "Name: value" lines.
func (x *bx) respond(status int, body []byte, headers ...string) {
	fmt.Fprintf(x.bw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	for _, h := range headers {
		fmt.Fprintf(x.bw, "%s\r\n", h)
	}
	fmt.Fprintf(x.bw, "Content-Length: %d\r\n\r\n", len(body))
	if x.req.Method != http.MethodHead {
		x.bw.Write(body)
	}
	x.b.update(func() { x.rec.Status = status })
}

// query is a query parameter of the request.
func (x *bx) query(name string) string { return x.req.URL.Query().Get(name) }

// waitGate waits for the test to close the named gate, at most 10 s and
// not past the test's end.
func (x *bx) waitGate(name string) bool {
	select {
	case <-x.b.gate(name):
		return true
	case <-x.b.done:
	case <-time.After(10 * time.Second):
	}
	return false
}

// patternBytes is the deterministic body of /bytes?n=N.
func patternBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i+i/997)%36]
	}
	return b
}

// echoLine is what the default route answers: the request as the backend
// understood it.
func echoLine(method, target string, bodyLen int64) string {
	return fmt.Sprintf("%s %s %d\n", method, target, bodyLen)
}

// route answers the request and says whether the connection may carry
// another one.
func (x *bx) route() bool {
	p := x.req.URL.Path
	switch {
	case p == "/bytes":
		n, _ := strconv.Atoi(x.query("n"))
		x.respond(http.StatusOK, patternBytes(n), "Content-Type: application/octet-stream")
	case p == "/chunked":
		// n chunks "chunk-I\n"; with trailer=1 an X-Sum trailer counts them.
		n, _ := strconv.Atoi(x.query("n"))
		io.WriteString(x.bw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n")
		if x.query("trailer") == "1" {
			io.WriteString(x.bw, "Trailer: X-Sum\r\n")
		}
		io.WriteString(x.bw, "\r\n")
		for i := 0; i < n; i++ {
			s := fmt.Sprintf("chunk-%d\n", i)
			fmt.Fprintf(x.bw, "%x\r\n%s\r\n", len(s), s)
			x.bw.Flush()
		}
		io.WriteString(x.bw, "0\r\n")
		if x.query("trailer") == "1" {
			fmt.Fprintf(x.bw, "X-Sum: %d chunks\r\n", n)
		}
		io.WriteString(x.bw, "\r\n")
		x.b.update(func() { x.rec.Status = http.StatusOK })
	case p == "/close":
		// A response framed by the end of the connection.
		io.WriteString(x.bw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
		x.bw.Write(patternBytes(5000))
		x.b.update(func() { x.rec.Status = http.StatusOK })
		x.finishBody()
		x.bw.Flush()
		return false
	case p == "/backend-close":
		// Framed by length, but the backend closes the connection after it.
		x.finishBody()
		x.respond(http.StatusOK, []byte(echoLine(x.req.Method, x.req.RequestURI, x.rec.BodyLen)), "Connection: close")
		return false
	case p == "/status":
		code, _ := strconv.Atoi(x.query("code"))
		x.finishBody()
		switch code {
		case http.StatusNoContent:
			io.WriteString(x.bw, "HTTP/1.1 204 No Content\r\nX-Status: 204\r\n\r\n")
		case http.StatusNotModified:
			// Content-Length here is the representation's, not a body's
			// (RFC 9110 §8.6): nothing follows the head.
			io.WriteString(x.bw, "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 50\r\n\r\n")
		default:
			x.respond(code, []byte("status\n"))
		}
		x.b.update(func() { x.rec.Status = code })
	case p == "/sse":
		// One event, then a wait for the test's gate, then another: a proxy
		// that buffers the stream holds the first event back.
		io.WriteString(x.bw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(x.bw, "%x\r\n%s\r\n", len("data: one\n\n"), "data: one\n\n")
		x.bw.Flush()
		x.b.update(func() { x.rec.Status = http.StatusOK })
		if !x.waitGate(x.query("gate")) {
			return false
		}
		fmt.Fprintf(x.bw, "%x\r\n%s\r\n0\r\n\r\n", len("data: two\n\n"), "data: two\n\n")
	case p == "/upload":
		// Reads the first n body bytes, tells the test, then reads the rest.
		n, _ := strconv.ParseInt(x.query("first"), 10, 64)
		if _, err := io.CopyN(io.Discard, x, n); err != nil {
			return false
		}
		close(x.b.gate(x.query("gate")))
		if err := x.finishBody(); err != nil {
			return false
		}
		x.respond(http.StatusOK, []byte(echoLine(x.req.Method, x.req.RequestURI, x.rec.BodyLen)))
	case p == "/ws":
		x.websocket()
		return false
	case p == "/page.html":
		x.respond(http.StatusOK, []byte(pageHTML), "Content-Type: text/html; charset=utf-8")
	case strings.HasPrefix(p, "/asset/"):
		x.asset(p)
	default:
		if x.finishBody() != nil {
			return false // a body that broke off gets no answer
		}
		x.respond(http.StatusOK, []byte(echoLine(x.req.Method, x.req.RequestURI, x.rec.BodyLen)),
			"Content-Type: text/plain", "X-Backend-Conn: "+strconv.Itoa(x.rec.Conn))
	}
	return true
}

// The websocket echo: RFC 6455 framing, just enough for unfragmented
// messages from a client, which masks them.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func (x *bx) websocket() {
	key := x.req.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(x.req.Header.Get("Upgrade"), "websocket") || key == "" {
		x.respond(http.StatusBadRequest, []byte("not a websocket handshake\n"))
		return
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	fmt.Fprintf(x.bw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	x.b.update(func() { x.rec.Status = http.StatusSwitchingProtocols })
	// The server speaks first, so that the test sees data flow towards the
	// client before the client has sent anything.
	wsWrite(x.bw, 1, []byte("hello from the backend"))
	if x.bw.Flush() != nil {
		return
	}
	x.c.SetDeadline(time.Now().Add(30 * time.Second))
	for {
		op, payload, err := wsRead(x.br)
		if err != nil {
			return
		}
		switch op {
		case 8: // close
			wsWrite(x.bw, 8, payload)
			x.bw.Flush()
			return
		case 9: // ping
			wsWrite(x.bw, 10, payload)
		case 1, 2:
			wsWrite(x.bw, op, append([]byte("echo: "), payload...))
		}
		if x.bw.Flush() != nil {
			return
		}
	}
}

func wsRead(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("websocket: fragmented message")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("websocket: frame of %d bytes", n)
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}

func wsWrite(w io.Writer, op byte, payload []byte) {
	h := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		h = append(h, byte(n))
	case n <= 0xffff:
		h = append(h, 126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, 127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	w.Write(h)
	w.Write(payload)
}
