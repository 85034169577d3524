package h1

import (
	"errors"
	"io"
	"syscall"
	"time"
)

// heldBody is the part of a request body read before a server was chosen
// (BufferBody): bytes as they came on the wire, chunk framing included,
// checked and ready to be sent, and again to another server.
type heldBody struct {
	// begun is set once holding started, at start; finished once
	// BufferBody has read what it would.
	begun, finished bool
	// start and end bound the held bytes that stayed in the connection's
	// buffer, after the head.
	start, end int
	// extra holds them instead once they outgrew the connection's buffer,
	// in a pooled buffer that grows with the bytes that came.
	extra []byte
}

func (h *heldBody) size() int { return h.end - h.start + len(h.extra) }

// add appends p to extra, moving to a buffer twice as large when it is
// full.
func (h *heldBody) add(p []byte) {
	if len(h.extra)+len(p) > cap(h.extra) {
		size := heldMin
		for size < len(h.extra)+len(p) {
			size *= 2
		}
		nb := getBuf(size)[:len(h.extra)]
		copy(nb, h.extra)
		if h.extra != nil {
			putBuf(h.extra)
		}
		h.extra = nb
	}
	h.extra = append(h.extra, p...)
}

func (h *heldBody) release() {
	if h.extra != nil {
		putBuf(h.extra)
	}
	*h = heldBody{}
}

// heldMin is the first buffer a held body takes beyond the connection's
// buffer.
const heldMin = 16 << 10

// BufferBody reads the request body before a server is chosen, up to
// limit bytes as they come on the wire (HAProxy's http-buffer-request): a
// body that fits is read whole, so that a client sending it slowly holds
// no server connection, and it can be sent again to another server; of a
// larger body the first limit bytes are read (a read may take a little
// more), and the rest is streamed once the request is forwarded. Memory
// grows with the bytes that came, not with limit. Zero or less reads
// nothing.
//
// While it waits for the body, the request may move to a smaller buffer
// (a client that trickles its body then holds little memory): x.Req is
// parsed again there, and slices or strings the handler took from it
// before must be taken again afterwards.
//
// An error is a *ForwardError with Client set: the client went away, sent
// no body byte within the server's BodyTimeout (ErrBodyTimeout), or framed
// its body wrongly (Malformed). Nothing was sent to a server then.
func (x *Exchange) BufferBody(limit int) error {
	if x.holdErr != nil {
		return x.holdErr
	}
	b := &x.body
	c := x.c
	if limit <= 0 || x.held.finished || (b.done && !x.held.begun) {
		return nil
	}
	x.held.finished = true
	// First in the connection's buffer, after the head, where a small body
	// came with it.
	if !x.held.begun {
		x.held.begun, x.held.start = true, c.r
	}
	start := x.held.start
	for !b.done && c.r-start < limit {
		if c.r == c.w {
			if c.w == len(c.buf) {
				break
			}
			x.sendContinue()
			// Waiting here, the request may move to a smaller buffer:
			// Req is parsed again, and what the handler took from it
			// must be taken again (see BufferBody's doc).
			c.shrinkable = true
			err := x.fillBody()
			c.shrinkable = false
			if err != nil {
				return x.bodyError(err)
			}
		}
		n, err := x.frame(c.buf[c.r:min(c.w, start+limit)])
		if err != nil {
			return x.bodyError(err)
		}
		c.r += n
	}
	x.held.start, x.held.end = start, c.r
	x.base = c.r
	if b.done || c.r-start >= limit {
		if !b.done && len(c.buf)-c.r < minRoom {
			// Too little room left to stream the rest through.
			x.held.add(c.buf[start:c.r])
			x.held.start, x.held.end = 0, 0
			x.base = c.headEnd
		}
		return nil
	}
	// The connection's buffer is full: go on in a buffer of the body's own.
	x.held.add(c.buf[start:c.r])
	x.held.start, x.held.end = 0, 0
	x.base = c.headEnd
	for !b.done && len(x.held.extra) < limit {
		chunk, err := x.bodyChunk()
		if err != nil {
			return x.bodyError(err)
		}
		x.held.add(chunk)
		if !x.fromBodyBuf {
			c.r += len(chunk)
		}
	}
	return nil
}

// holdAhead reads what came of the part of the request body that the
// handler wants held (BodyHolder), as BufferBody does, but without
// waiting: when the client has sent no more yet, the connection is parked
// until it does, or until BodyTimeout passes, and holdAhead reports true:
// the goroutine is to end. It reports false when the handler can go on:
// the part is in, the connection's buffer is full (BufferBody goes on in
// a buffer of the body's own), the client failed (holdErr), or the
// connection cannot be parked (TLS: BufferBody waits on the goroutine).
func (c *conn) holdAhead() bool {
	x := c.x
	b := &x.body
	if x.holdErr != nil || b.done || c.rc == nil || c.fd < 0 || !coldParking() {
		return false
	}
	if !x.held.begun {
		x.held.begun, x.held.start = true, c.r
	}
	start := x.held.start
	for !b.done && c.r-start < c.holdLimit {
		if c.r == c.w {
			if c.w == len(c.buf) {
				return false
			}
			x.sendContinue()
			n, err := c.tryRead()
			if err == errWouldBlock {
				c.shrink()
				timeout := c.s.settings().BodyTimeout
				if timeout <= 0 {
					timeout = 24 * time.Hour
				}
				c.coldEnd = time.Now().Add(timeout)
				if c.state.CompareAndSwap(stActive, stBody) {
					if parkCold(c) {
						return true
					}
					c.state.Store(stActive)
				}
				return false
			}
			if err != nil {
				x.holdErr = x.bodyError(err)
				return false
			}
			c.w += n
		}
		n, err := x.frame(c.buf[c.r:min(c.w, start+c.holdLimit)])
		if err != nil {
			x.holdErr = x.bodyError(err)
			return false
		}
		c.r += n
	}
	return false
}

var errWouldBlock = errors.New("h1: read would block")

// tryRead reads what the client sent into buf[w:], without waiting.
func (c *conn) tryRead() (int, error) {
	var n int
	var err error
	cerr := c.rc.Control(func(fd uintptr) {
		for {
			n, err = syscall.Read(int(fd), c.buf[c.w:])
			if err != syscall.EINTR {
				return
			}
		}
	})
	switch {
	case cerr != nil:
		return 0, cerr
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case n <= 0:
		return 0, io.EOF
	}
	return n, nil
}
