package h1

import (
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Exchange is one request of a client connection and its answer. The
// connection keeps one Exchange and reuses it for each request.
type Exchange struct {
	// Req is the parsed request head; its slices are valid until the
	// handler returns.
	Req Request
	// Remote is the client's address (IPv4 unmapped).
	Remote netip.AddrPort
	// TLS tells whether the connection came through TLS.
	TLS bool

	// Status is the status sent to the client, 0 before the head is sent.
	Status int
	// BodyBytes counts the body bytes sent to the client.
	BodyBytes int64

	// Data is the handler's own, kept across the requests of a connection.
	Data any

	c            *conn
	headSent     bool
	closeAfter   bool
	continueSent bool
	writeFailed  bool // a write to the client failed: no lingering close
	body         reqBody
	held         heldBody // the part of the body read before forwarding (BufferBody)
	holdErr      error    // the client's failure met while holding the body ahead (holdAhead)
	base         int      // where body reads start in the connection's buffer
	resp         Response
	respScan     Chunked
	decoded      []byte // chunk data for an HTTP/1.0 client, within the backend buffer
	bodyBuf      []byte // a long request body's pieces (readLongBody)
	fromBodyBuf  bool   // the last bodyChunk came from bodyBuf
}

// reqBody is where the reading of a request body stands.
type reqBody struct {
	chunked   bool
	remaining int64 // of a body framed by Content-Length
	scan      Chunked
	done      bool
	touched   bool // bytes of it were read or sent on
}

func (r *Request) hasBody() bool { return r.Chunked || r.ContentLength > 0 }

// begin resets x for the request just parsed.
func (x *Exchange) begin() {
	x.Status, x.BodyBytes = 0, 0
	x.headSent, x.closeAfter, x.continueSent, x.writeFailed = false, !x.Req.KeepAlive, false, false
	x.held = heldBody{}
	x.holdErr = nil
	x.base = x.c.headEnd
	x.body = reqBody{chunked: x.Req.Chunked, remaining: max(x.Req.ContentLength, 0)}
	if x.Req.Chunked {
		x.body.scan.Reset()
	} else {
		x.body.done = x.body.remaining == 0
	}
}

// HeadSent reports whether the response head went to the client already,
// after which no other answer can be given.
func (x *Exchange) HeadSent() bool { return x.headSent }

// Close makes the connection close after this answer.
func (x *Exchange) Close() { x.closeAfter = true }

// Closing reports whether the connection closes after this answer.
func (x *Exchange) Closing() bool { return x.closeAfter || x.c.s.closing.Load() }

// Respond sends an answer of quill's own: status, the fields that fields
// writes (it may be nil), and body. Content-Length, Connection and Date
// need not be written.
func (x *Exchange) Respond(status int, fields func(*HeadWriter), body []byte) {
	if x.headSent {
		return
	}
	hw := getHead()
	x.statusLine(hw, status, nil)
	if fields != nil {
		fields(hw)
	}
	x.finishHead(hw, int64(len(body)))
	head := len(hw.b)
	if x.Req.Method == nil || string(x.Req.Method) != "HEAD" {
		hw.b = append(hw.b, body...)
	}
	n, _ := x.write(hw.b)
	x.BodyBytes = int64(max(n-head, 0))
	putHead(hw)
}

// respond answers with a plain-text body made of the status text and why.
func (x *Exchange) respond(status int, why string, fields func(*HeadWriter)) {
	body := make([]byte, 0, 64)
	body = append(body, StatusText(status)...)
	if why != "" {
		body = append(body, ": "...)
		body = append(body, why...)
	}
	body = append(body, '\n')
	x.Respond(status, func(w *HeadWriter) {
		w.String("Content-Type", "text/plain; charset=utf-8")
		if fields != nil {
			fields(w)
		}
	}, body)
}

// statusLine starts a response head in the client's version.
func (x *Exchange) statusLine(w *HeadWriter, status int, reason []byte) {
	if x.Req.Minor == 0 {
		w.b = append(w.b, "HTTP/1.0 "...)
	} else {
		w.b = append(w.b, "HTTP/1.1 "...)
	}
	w.b = strconv.AppendInt(w.b, int64(status), 10)
	w.b = append(w.b, ' ')
	if reason != nil {
		w.b = append(w.b, reason...)
	} else {
		w.b = append(w.b, StatusText(status)...)
	}
	w.b = append(w.b, '\r', '\n')
	x.Status = status
}

// finishHead ends a response head: the framing of a body of length n (-1:
// framed by closing), the connection's fate, the empty line.
func (x *Exchange) finishHead(w *HeadWriter, n int64) {
	if n >= 0 {
		w.Int("Content-Length", n)
	} else {
		x.closeAfter = true
	}
	x.connectionField(w)
	w.b = append(w.b, '\r', '\n')
}

func (x *Exchange) connectionField(w *HeadWriter) {
	switch {
	case x.closeAfter || x.c.s.closing.Load():
		x.closeAfter = true
		w.String("Connection", "close")
	case x.Req.Minor == 0:
		w.String("Connection", "keep-alive")
	}
}

// write sends b to the client and reports how much of it went out; a
// failure closes the connection after the answer, at once.
func (x *Exchange) write(b []byte) (int, error) {
	x.headSent = true
	n, err := x.c.send(b)
	if err != nil {
		x.closeAfter = true
		x.writeFailed = true
	}
	return n, err
}

// sendContinue tells a client that waits for it to send its body.
func (x *Exchange) sendContinue() {
	if x.Req.ExpectContinue && !x.continueSent && x.Req.Minor == 1 && !x.body.done && x.c.r == x.c.w {
		x.continueSent = true
		if _, err := x.c.send(continueLine); err != nil {
			x.writeFailed = true
		}
	}
}

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// bodyChunk returns the next bytes of the request body at hand, reading
// from the client when none are; consume(n) marks n of them as used.
func (x *Exchange) bodyChunk() ([]byte, error) {
	c := x.c
	b := &x.body
	x.fromBodyBuf = false
	if c.r == c.w {
		c.r, c.w = x.base, x.base
		x.sendContinue()
		if !b.chunked && b.remaining > int64(len(c.buf)-c.w) {
			return x.readLongBody()
		}
		if err := x.fillBody(); err != nil {
			return nil, err
		}
	}
	avail := c.buf[c.r:c.w]
	n, err := x.frame(avail)
	if err != nil {
		return nil, err
	}
	return avail[:n], nil
}

// frame advances the body's framing over the bytes at the start of p
// that belong to it, and returns how many do.
func (x *Exchange) frame(p []byte) (int, error) {
	b := &x.body
	if b.chunked {
		n, done, err := b.scan.Scan(p)
		if err != nil {
			return 0, &clientError{err}
		}
		b.done = done
		return n, nil
	}
	n := min(int64(len(p)), b.remaining)
	b.remaining -= n
	b.done = b.remaining == 0
	return int(n), nil
}

// fillBody reads more of the request body into the connection's buffer,
// waiting at most the server's BodyTimeout.
func (x *Exchange) fillBody() error {
	c := x.c
	c.setReadDeadline(c.s.settings().BodyTimeout)
	err := c.fill()
	if err != nil && isTimeout(err) {
		return ErrBodyTimeout
	}
	return err
}

// readLongBody reads the next piece of a Content-Length body longer than
// the room left in the connection's buffer, into a larger buffer and never
// past the body's end, so that what follows it stays in the socket.
func (x *Exchange) readLongBody() ([]byte, error) {
	b := &x.body
	if x.bodyBuf == nil {
		x.bodyBuf = getBuf(copyBuf)
	}
	x.c.setReadDeadline(x.c.s.settings().BodyTimeout)
	n, err := x.c.nc.Read(x.bodyBuf[:min(int64(len(x.bodyBuf)), b.remaining)])
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		} else if isTimeout(err) {
			err = ErrBodyTimeout
		}
		return nil, err
	}
	b.remaining -= int64(n)
	b.done = b.remaining == 0
	x.fromBodyBuf = true
	return x.bodyBuf[:n], nil
}

// consume marks the bytes returned by bodyChunk as used.
func (x *Exchange) consume(n int) {
	if !x.fromBodyBuf {
		x.c.r += n
	}
	x.body.touched = true
}

// releaseBody gives back the buffers of a long or held body.
func (x *Exchange) releaseBody() {
	if x.bodyBuf != nil {
		putBuf(x.bodyBuf)
		x.bodyBuf = nil
	}
	x.held.release()
}

// discardBody reads and drops a request body that the answer did not
// need, up to a bound, so that the connection can serve the next request.
func (x *Exchange) discardBody() bool {
	if x.Req.ExpectContinue && !x.continueSent {
		// The client waits for 100 Continue before sending the body; it
		// was not asked for it, so the connection cannot go on.
		return false
	}
	const maxDiscard = 256 << 10
	limit := x.c.s.settings().ReadHeaderTimeout
	end := time.Now().Add(limit)
	var dropped int
	for !x.body.done {
		if limit > 0 && time.Now().After(end) {
			return false
		}
		b, err := x.bodyChunk()
		if err != nil {
			return false
		}
		x.consume(len(b))
		if dropped += len(b); dropped > maxDiscard {
			return false
		}
	}
	return true
}

// clientError is a request body that the client framed wrongly.
type clientError struct{ err error }

func (e *clientError) Error() string { return "request body: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// StatusText is the reason phrase quill sends with status code.
func StatusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(code)
}
