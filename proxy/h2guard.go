package proxy

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP/2 wire constants (RFC 9113 §3.4, §4.1, §6, §7).
const (
	clientPreface          = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	frameHeaderLen         = 9
	frameHeaders           = 0x1
	frameRSTStream         = 0x3
	frameSettings          = 0x4
	frameGoAway            = 0x7
	errCodeEnhanceYourCalm = 0xb
)

// errTooManyResets ends a connection cut off for rapid reset. It wraps
// net.ErrClosed so that the HTTP/2 server takes it for a connection gone
// rather than logging it again: the guard logs the cut itself.
var errTooManyResets = fmt.Errorf("too many RST_STREAM frames: %w", net.ErrClosed)

// How long a cut-off connection waits for its GOAWAY to be written, and
// how long and how much it then reads and discards before it closes, so
// that the kernel does not answer the client's unread frames with a TCP
// reset that could destroy the GOAWAY before the client reads it.
const (
	goAwayWait    = time.Second
	lingerTime    = 2 * time.Second
	lingerMaxRead = 1 << 20
)

// h2Guard sits between an HTTP/2 server and the TLS connection of one
// client and cuts the connection off when the client resets streams
// faster than resetWindow allows (rapid reset, CVE-2023-44487). Go's
// server bounds only the handlers it has not started yet; a client that
// opens and resets streams as fast as handlers start is never stopped, and
// every stream becomes a request to a backend.
//
// The server has no hook for the frames it reads, so the guard follows
// the frame boundaries of both directions from the bytes that pass
// (frameScanner), without buffering or changing them:
//
//   - Read counts the client's RST_STREAM frames. On the one over the
//     limit it hands the server only the bytes before that frame (the
//     frames after it, new streams among them, are never seen), asks for a
//     GOAWAY, and fails every later Read once the GOAWAY is out.
//   - The GOAWAY must not land inside a frame the server is writing: the
//     server writes through a buffer whose flushes split frames at any
//     byte. Write and the GOAWAY share wmu, and Write knows where the
//     server's frame under way ends. The GOAWAY is written at once if the
//     server is between frames; otherwise the Write that completes the
//     frame writes the rest of that frame, then the GOAWAY, and reports
//     an error for what remains. Every Write after the GOAWAY fails, so
//     nothing follows it but the close.
//   - Close, after a cut, half-closes and drains the connection for a
//     bounded time (a lingering close) before closing it.
//
// Read also mends SETTINGS frames that repeat a setting (h2settings.go).
type h2Guard struct {
	*tls.Conn
	resets resetWindow
	in     frameScanner
	now    func() time.Time
	onCut  func(*h2Guard) // logs and counts a cut, once

	pending    []byte // client bytes read but not yet handed over (a mended SETTINGS payload and what followed)
	pendingErr error  // the read error met while gathering pending, returned after it

	lastStream atomic.Uint32 // highest stream the client opened, for the GOAWAY
	cut        atomic.Bool
	goAwayDone chan struct{} // closed once the GOAWAY is written or failed

	wmu           sync.Mutex
	out           frameScanner // the server's frames
	goAwayPending bool         // write the GOAWAY at the server's next frame boundary
	writeClosed   bool         // the GOAWAY went out (or failed): no more writes

	closeOnce sync.Once
	closeErr  error
}

func newH2Guard(c *tls.Conn, maxResets int, onCut func(*h2Guard)) *h2Guard {
	return &h2Guard{
		Conn:       c,
		resets:     resetWindow{max: maxResets},
		in:         frameScanner{skip: len(clientPreface)},
		now:        time.Now,
		onCut:      onCut,
		goAwayDone: make(chan struct{}),
	}
}

// Read passes the client's bytes to the server, counting RST_STREAM frames.
func (g *h2Guard) Read(p []byte) (int, error) {
	if g.cut.Load() {
		g.awaitGoAway()
		return 0, errTooManyResets
	}
	var n int
	var err error
	switch {
	case len(g.pending) > 0:
		n = copy(p, g.pending)
		g.pending = g.pending[n:]
	case g.pendingErr != nil:
		return 0, g.pendingErr
	default:
		n, err = g.Conn.Read(p)
	}
	for off := 0; off < n; {
		k, _, complete := g.in.next(p[off:n])
		if complete {
			h := g.in.header()
			switch h.typ {
			case frameSettings:
				if settingsToMend(h) {
					// Hand over the header now, the payload once it is
					// whole and mended.
					g.gatherSettings(p[off+k:n], h.length)
					return off + k, nil
				}
			case frameHeaders:
				if h.stream > g.lastStream.Load() {
					g.lastStream.Store(h.stream)
				}
			case frameRSTStream:
				if !g.resets.allow(g.now()) {
					// Keep from the server the frame over the limit and
					// all after it: the header began at off, or at the end
					// of an earlier Read (then off is 0, and the server
					// holds part of a header and waits for the rest, which
					// never comes).
					g.cutOff()
					if off > 0 {
						return off, nil
					}
					g.awaitGoAway()
					return 0, errTooManyResets
				}
			}
		}
		off += k
	}
	return n, err
}

// cutOff asks for the GOAWAY and reports the cut, once.
func (g *h2Guard) cutOff() {
	if g.cut.Swap(true) {
		return
	}
	if g.onCut != nil {
		g.onCut(g)
	}
	if g.wmu.TryLock() {
		g.goAwayLocked()
		g.wmu.Unlock()
		return
	}
	// A server Write holds wmu, perhaps blocked on a client that does not
	// read: wait for it elsewhere, as Read must return within goAwayWait
	// so that the server closes the connection.
	go func() {
		g.wmu.Lock()
		defer g.wmu.Unlock()
		g.goAwayLocked()
	}()
}

// goAwayLocked writes the GOAWAY now if the server is between frames, or
// leaves it to the Write that ends the frame under way.
func (g *h2Guard) goAwayLocked() {
	switch {
	case g.writeClosed:
	case g.out.atBoundary():
		g.writeGoAwayLocked()
	default:
		g.goAwayPending = true
	}
}

// awaitGoAway waits, bounded, for the GOAWAY to be written.
func (g *h2Guard) awaitGoAway() {
	t := time.NewTimer(goAwayWait)
	defer t.Stop()
	select {
	case <-g.goAwayDone:
	case <-t.C:
	}
}

// Write passes the server's bytes to the client, following its frames so
// that a GOAWAY can be put between two of them.
func (g *h2Guard) Write(p []byte) (int, error) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.writeClosed {
		return 0, errTooManyResets
	}
	if !g.goAwayPending {
		n, err := g.Conn.Write(p)
		g.out.advance(p[:n])
		return n, err
	}
	k := g.out.boundaryIn(p)
	if k < 0 {
		k = len(p)
	}
	n, err := g.Conn.Write(p[:k])
	g.out.advance(p[:n])
	if err != nil {
		return n, err
	}
	if !g.out.atBoundary() {
		return n, nil // the frame goes on in the next Write
	}
	g.writeGoAwayLocked()
	return n, errTooManyResets
}

// writeGoAwayLocked writes GOAWAY (ENHANCE_YOUR_CALM); the caller holds
// wmu and the server is between frames.
func (g *h2Guard) writeGoAwayLocked() {
	const debug = "too many RST_STREAM frames"
	var f [frameHeaderLen + 8 + len(debug)]byte
	putFrameHeader(f[:], 8+len(debug), frameGoAway, 0, 0)
	binary.BigEndian.PutUint32(f[9:], g.lastStream.Load())
	binary.BigEndian.PutUint32(f[13:], errCodeEnhanceYourCalm)
	copy(f[17:], debug)
	g.Conn.SetWriteDeadline(time.Now().Add(goAwayWait))
	g.Conn.Write(f[:]) // the connection closes next either way
	g.goAwayPending = false
	g.writeClosed = true
	close(g.goAwayDone)
}

// Close closes the connection, after a lingering close if it was cut off.
func (g *h2Guard) Close() error {
	g.closeOnce.Do(func() {
		if g.cut.Load() {
			g.linger()
		}
		g.closeErr = g.Conn.Close()
	})
	return g.closeErr
}

// linger half-closes a cut-off connection and discards what the client
// still sends, for at most lingerTime and lingerMaxRead bytes, so that
// the GOAWAY reaches it before the close.
func (g *h2Guard) linger() {
	select {
	case <-g.goAwayDone:
	default:
		return // the GOAWAY is stuck behind a client that does not read
	}
	raw := g.Conn.NetConn()
	deadline := time.Now().Add(lingerTime)
	g.Conn.SetWriteDeadline(deadline)
	if g.Conn.CloseWrite() != nil {
		return
	}
	if cw, ok := raw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	raw.SetReadDeadline(deadline)
	io.CopyN(io.Discard, raw, lingerMaxRead)
}

// resetWindow counts RST_STREAM frames in fixed one-second windows.
type resetWindow struct {
	max   int
	start time.Time
	count int
}

// allow counts one frame received at now and reports whether the client
// is still within max frames in the current second.
func (w *resetWindow) allow(now time.Time) bool {
	if now.Sub(w.start) >= time.Second || now.Before(w.start) {
		w.start = now
		w.count = 0
	}
	w.count++
	return w.count <= w.max
}

// frameScanner follows the frame boundaries of one direction of an
// HTTP/2 connection from the bytes that pass, a Read or Write at a time:
// frames split across calls at any byte are followed all the same.
type frameScanner struct {
	skip    int // bytes of the connection preface still to pass
	hdr     [frameHeaderLen]byte
	nhdr    int // bytes of the current frame header seen
	payload int // payload bytes of the current frame still to pass
}

// frameHeader is the part of a frame header the guard looks at.
type frameHeader struct {
	length int
	typ    byte
	stream uint32
	flags  byte
}

// next consumes p up to the next boundary it meets: the end of the
// preface, of a payload, or of a frame header. It returns the bytes
// consumed, whether a header began at p[0] (a header may also begin in an
// earlier call and end in this one), and whether a header is now complete
// (see header).
func (s *frameScanner) next(p []byte) (n int, headerBegan, complete bool) {
	if s.skip > 0 {
		n = min(s.skip, len(p))
		s.skip -= n
		return n, false, false
	}
	if s.payload > 0 {
		n = min(s.payload, len(p))
		s.payload -= n
		return n, false, false
	}
	headerBegan = s.nhdr == 0 && len(p) > 0
	n = copy(s.hdr[s.nhdr:], p)
	s.nhdr += n
	if s.nhdr < frameHeaderLen {
		return n, headerBegan, false
	}
	s.nhdr = 0
	s.payload = s.header().length
	return n, headerBegan, true
}

// header is the last complete frame header.
func (s *frameScanner) header() frameHeader {
	return frameHeader{
		length: int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2]),
		typ:    s.hdr[3],
		stream: binary.BigEndian.Uint32(s.hdr[5:]) & (1<<31 - 1),
		flags:  s.hdr[4],
	}
}

// advance consumes all of p.
func (s *frameScanner) advance(p []byte) {
	for len(p) > 0 {
		n, _, _ := s.next(p)
		p = p[n:]
	}
}

// atBoundary reports whether the bytes so far end a frame (or the preface).
func (s *frameScanner) atBoundary() bool {
	return s.skip == 0 && s.nhdr == 0 && s.payload == 0
}

// boundaryIn returns how many bytes of p end the frame under way: 0 at a
// boundary, -1 if that frame goes on past p.
func (s *frameScanner) boundaryIn(p []byte) int {
	c := *s
	for n := 0; ; {
		if c.atBoundary() {
			return n
		}
		if n == len(p) {
			return -1
		}
		k, _, _ := c.next(p[n:])
		n += k
	}
}

func putFrameHeader(b []byte, length int, typ, flags byte, stream uint32) {
	b[0], b[1], b[2] = byte(length>>16), byte(length>>8), byte(length)
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
}
