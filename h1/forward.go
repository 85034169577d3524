package h1

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

// Hooks let the caller of Forward write the header fields: those of the
// request that goes to the server, and those of the response that goes to
// the client. The framing fields (Content-Length of a chunked message,
// Transfer-Encoding, Connection, Upgrade) are written by Forward itself;
// hop-by-hop fields of the original must be left out by the hooks (see
// Request.HopByHop and Response.HopByHop).
type Hooks interface {
	RequestFields(x *Exchange, w *HeadWriter)
	ResponseFields(x *Exchange, r *Response, w *HeadWriter)
}

// Stage says how far a forwarding attempt came before it failed.
type Stage uint8

const (
	StageConnect  Stage = iota + 1 // no connection to the server
	StageRequest                   // sending the request failed
	StageResponse                  // no valid response head came
	StageRelay                     // the response head went to the client; its body broke off
)

// ForwardError is a failed forwarding attempt.
type ForwardError struct {
	Stage Stage
	Err   error
	// Client is set when the client, not the server, failed: it went
	// away, or its request body was malformed (Malformed).
	Client    bool
	Malformed bool
	// BodyTouched is set when some of the request body was read from the
	// client: the request cannot be sent again.
	BodyTouched bool
	// Timeout is set when the server did not answer in time.
	Timeout bool
}

func (e *ForwardError) Error() string {
	var where string
	switch e.Stage {
	case StageConnect:
		where = "connect"
	case StageRequest:
		where = "send request"
	case StageResponse:
		where = "read response"
	default:
		where = "relay response"
	}
	if e.Client {
		where += " (client)"
	}
	return where + ": " + e.Err.Error()
}

func (e *ForwardError) Unwrap() error { return e.Err }

// Forward sends the request of x to a server of u and relays its answer
// to the client, waiting at most timeout for the response head. A
// connection kept from an earlier request that turns out to be closed by
// the server is replaced by a fresh one, as long as nothing of the request
// body was consumed. On an error before StageRelay nothing was sent to the
// client, so the caller may try another server or answer itself. Once the
// answer goes to a client that reads slowly, x.Req may be parsed again in
// a smaller buffer: what the handler took from it before must be taken
// again.
func (x *Exchange) Forward(u *Upstream, timeout time.Duration, h Hooks) error {
	for attempt := 0; ; attempt++ {
		bc, err := u.get(attempt > 0)
		if err != nil {
			return &ForwardError{Stage: StageConnect, Err: err}
		}
		err = x.roundTrip(bc, timeout, h)
		if err == nil {
			return nil
		}
		fe := err.(*ForwardError)
		if bc.reused && attempt == 0 && !fe.Client && !fe.Timeout && !x.body.touched &&
			fe.Stage <= StageResponse && bc.w == 0 && isStale(fe.Err) {
			continue
		}
		fe.BodyTouched = x.body.touched
		return fe
	}
}

// isStale matches the errors of a kept connection that the server had
// closed before the request came.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

var errUnexpected1xx = errors.New("101 Switching Protocols to a request without Upgrade")

func (x *Exchange) roundTrip(bc *backendConn, timeout time.Duration, h Hooks) error {
	if err := x.sendRequest(bc, h); err != nil {
		bc.close()
		return err
	}
	resp := &x.resp
	n, err := x.readResponseHead(bc, timeout, resp)
	if err != nil {
		bc.close()
		return err
	}
	if resp.Status == 101 {
		return x.tunnel(bc, n, h)
	}
	kind, length := resp.Framing(x.Req.Method)
	hw := getHead()
	x.statusLine(hw, resp.Status, resp.Reason)
	h.ResponseFields(x, resp, hw)
	switch kind {
	case ChunkedBody:
		if x.Req.Minor == 0 {
			// An HTTP/1.0 client knows no chunked coding: it gets the
			// data framed by the close (a server ought not to have
			// answered its HTTP/1.0 request so, but some do).
			x.closeAfter = true
		} else {
			hw.String("Transfer-Encoding", "chunked")
		}
	case UntilClose:
		x.closeAfter = true
	}
	x.connectionField(hw)
	hw.b = append(hw.b, '\r', '\n')
	bc.r += n
	err = x.relayBody(bc, hw.b, kind, length, timeout)
	putHead(hw)
	if err != nil {
		bc.close()
		x.closeAfter = true
		return err
	}
	if resp.KeepAlive && kind != UntilClose && bc.r == bc.w {
		bc.u.put(bc)
	} else {
		bc.close()
	}
	return nil
}

// sendRequest writes the request head to the server, then the body as it
// comes from the client.
func (x *Exchange) sendRequest(bc *backendConn, h Hooks) error {
	r := &x.Req
	hw := getHead()
	hw.b = append(hw.b, r.Method...)
	hw.b = append(hw.b, ' ')
	hw.b = append(hw.b, r.PathQuery()...)
	if r.Minor == 0 {
		hw.b = append(hw.b, " HTTP/1.0\r\n"...)
	} else {
		hw.b = append(hw.b, " HTTP/1.1\r\n"...)
	}
	h.RequestFields(x, hw)
	switch {
	case r.Upgrade:
		hw.String("Connection", "upgrade")
		hw.Field(upgradeName, r.Field("Upgrade"))
	case r.Minor == 0 && r.KeepAlive:
		hw.String("Connection", "keep-alive")
	}
	if r.Chunked {
		hw.String("Transfer-Encoding", "chunked")
	}
	hw.b = append(hw.b, '\r', '\n')
	// The body bytes at hand go out with the head, in one write: those
	// held by BufferBody, which stay for another attempt, or else those
	// that came with the head.
	held := &x.held
	switch {
	case held.size() > 0:
		hw.b = append(hw.b, x.c.buf[held.start:held.end]...)
	case !x.body.done && x.c.r < x.c.w:
		chunk, err := x.bodyChunk()
		if err != nil {
			putHead(hw)
			return x.bodyError(err)
		}
		hw.b = append(hw.b, chunk...)
		x.consume(len(chunk))
	}
	if bc.rc != nil && len(held.extra) == 0 && x.body.done {
		bc.sendFirst(hw)
		return nil
	}
	var err error
	if len(held.extra) > 0 {
		bufs := net.Buffers{hw.b, held.extra}
		_, err = bufs.WriteTo(bc.nc)
	} else {
		_, err = bc.nc.Write(hw.b)
	}
	putHead(hw)
	if err != nil {
		return &ForwardError{Stage: StageRequest, Err: err}
	}
	for !x.body.done {
		chunk, err := x.bodyChunk()
		if err != nil {
			return x.bodyError(err)
		}
		if _, err := bc.nc.Write(chunk); err != nil {
			return &ForwardError{Stage: StageRequest, Err: err}
		}
		x.consume(len(chunk))
	}
	return nil
}

func (x *Exchange) bodyError(err error) error {
	var ce *clientError
	if errors.As(err, &ce) {
		return &ForwardError{Stage: StageRequest, Err: err, Client: true, Malformed: true}
	}
	return &ForwardError{Stage: StageRequest, Err: err, Client: true}
}

var upgradeName = []byte("Upgrade")

// readResponseHead reads the server's response head into bc's buffer,
// passing over interim 100 and 103 answers. It returns the head's length.
func (x *Exchange) readResponseHead(bc *backendConn, timeout time.Duration, resp *Response) (int, error) {
	if timeout > 0 {
		bc.nc.SetReadDeadline(time.Now().Add(timeout))
		defer bc.nc.SetReadDeadline(time.Time{})
	}
	lim := Limits{MaxHeadBytes: copyBuf - 1, MaxFields: 1000}
	for {
		n, err := ParseResponse(bc.buf[bc.r:bc.w], resp, lim)
		if err == nil {
			if resp.Status == 101 && !x.Req.Upgrade {
				return 0, &ForwardError{Stage: StageResponse, Err: errUnexpected1xx}
			}
			if resp.Status >= 100 && resp.Status < 200 && resp.Status != 101 {
				bc.r += n
				continue
			}
			return n, nil
		}
		if !errors.Is(err, ErrNeedMore) {
			return 0, &ForwardError{Stage: StageResponse, Err: err}
		}
		if bc.r > 0 {
			bc.w = copy(bc.buf, bc.buf[bc.r:bc.w])
			bc.r = 0
		}
		m, err := bc.read()
		bc.w += m
		if bc.werr != nil {
			return 0, &ForwardError{Stage: StageRequest, Err: bc.werr}
		}
		if m == 0 && err != nil {
			fe := &ForwardError{Stage: StageResponse, Err: err, Timeout: isTimeout(err)}
			if errors.Is(err, io.EOF) && bc.w > 0 {
				fe.Err = io.ErrUnexpectedEOF
			}
			return 0, fe
		}
	}
}

// relayBody sends the response head (given) and body to the client. The
// body bytes that came with the head go out in the same write. Each read
// of the body from the server waits at most timeout (when positive).
func (x *Exchange) relayBody(bc *backendConn, head []byte, kind Framing, length int64, timeout time.Duration) error {
	var scan *Chunked
	if kind == ChunkedBody {
		scan = &x.respScan
		scan.Reset()
	}
	remaining := length
	if kind == NoBody {
		remaining = 0
	}
	out := head
	deadline := false
	defer func() {
		if deadline {
			bc.nc.SetReadDeadline(time.Time{})
		}
	}()
	for {
		avail := bc.buf[bc.r:bc.w]
		var done bool
		switch kind {
		case NoBody:
			avail, done = nil, true
		case Length:
			if int64(len(avail)) >= remaining {
				avail, done = avail[:remaining], true
			}
			remaining -= int64(len(avail))
		case ChunkedBody:
			var n int
			var err error
			if x.Req.Minor == 0 {
				n, done, err = x.dechunk(scan, avail)
			} else {
				n, done, err = scan.Scan(avail)
			}
			if err != nil {
				return x.relayFailed(&ForwardError{Stage: StageRelay, Err: err})
			}
			bc.r += n
			if x.Req.Minor == 1 {
				avail = avail[:n]
			} else {
				avail = x.decoded
			}
		}
		if kind != ChunkedBody {
			bc.r += len(avail)
		}
		headLen := 0
		if out != nil {
			headLen = len(out)
			if len(out)+len(avail) <= cap(out) {
				out = append(out, avail...)
			} else {
				// The head goes out alone, then the body from the
				// server's buffer.
				if n, err := x.write(out); err != nil {
					return x.clientFailed(n == 0, err)
				}
				headLen, out = 0, nil
			}
		}
		if out == nil {
			out = avail
		}
		if len(out) > 0 {
			began := time.Now()
			n, err := x.write(out)
			x.countSent(kind, max(n-headLen, 0), len(out)-headLen)
			if err != nil {
				return x.clientFailed(headLen > 0 && n == 0, err)
			}
			if len(bc.buf) > slowBuf && bc.r == bc.w && time.Since(began) > slowClient {
				x.slowDown(bc)
			}
		}
		out = nil
		if done {
			return nil
		}
		bc.r, bc.w = 0, 0
		if timeout > 0 {
			bc.nc.SetReadDeadline(time.Now().Add(timeout))
			deadline = true
		}
		m, err := bc.read()
		bc.w = m
		if m == 0 && err != nil {
			if kind == UntilClose && errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return x.relayFailed(&ForwardError{Stage: StageRelay, Err: err, Timeout: isTimeout(err)})
		}
	}
}

// A client that took longer than slowClient to accept one write of the
// answer reads slowly: the rest is relayed through a buffer of slowBuf
// bytes, and the request head moves to a small buffer (shrink), so that
// many slow readers hold little memory while they read.
const (
	slowClient = 50 * time.Millisecond
	slowBuf    = 4 << 10
)

// slowDown gives back the large buffers of an answer to a slow client;
// bc's buffer is empty when it is called.
func (x *Exchange) slowDown(bc *backendConn) {
	if bc.buf != nil {
		putBuf(bc.buf)
	}
	bc.slow = true
	bc.buf = getBuf(slowBuf)
	x.c.shrink()
}

// countSent adds the body bytes that reached the client to BodyBytes: of
// a chunked body relayed as it is, its data once all of it went out, not
// its chunk framing.
func (x *Exchange) countSent(kind Framing, sent, total int) {
	if kind == ChunkedBody && x.Req.Minor == 1 {
		if sent == total {
			x.BodyBytes = x.respScan.DataBytes()
		}
		return
	}
	x.BodyBytes += int64(sent)
}

// clientFailed ends a relay that the client broke off: it went away, or
// read nothing of the answer for the send timeout. A client gone before
// anything of the answer reached it is logged as 499, as nginx does, not
// with the server's status.
func (x *Exchange) clientFailed(nothingSent bool, err error) error {
	x.closeAfter = true
	if nothingSent && !errors.Is(err, ErrSendTimeout) {
		x.Status = 499
	}
	return &ForwardError{Stage: StageRelay, Err: err, Client: true}
}

// relayFailed ends a response the server broke off: the client has the
// head and part of the body, and learns of the abort by the close.
func (x *Exchange) relayFailed(fe *ForwardError) error {
	x.closeAfter = true
	if !x.headSent {
		fe.Stage = StageResponse
	}
	return fe
}

// dechunk follows a chunked body like Scan and leaves its data, moved to
// the front of p, in x.decoded: an HTTP/1.0 client gets the data alone.
func (x *Exchange) dechunk(scan *Chunked, p []byte) (int, bool, error) {
	dec := p[:0]
	n, done, err := scan.scan(p, func(d []byte) { dec = append(dec, d...) })
	x.decoded = dec
	return n, done, err
}
