package h1

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Handler serves one request of an HTTP/1 connection. It answers with
// x.Respond or x.Forward before it returns; the connection goes on with the
// next request afterwards unless the answer closed it.
type Handler interface {
	ServeH1(x *Exchange)
}

// Server serves HTTP/1.0 and HTTP/1.1 on the connections given to
// ServeConn, one goroutine per connection: a request is parsed, handled and
// forwarded on that goroutine, with buffers lent only while it is in flight.
type Server struct {
	Handler Handler
	// Settings are the limits and timeouts the server starts with;
	// Configure replaces them while it serves.
	Settings
	// Refused, when set, is told of each request refused before a handler
	// ran: a malformed head (400), one too large (431), a version quill
	// does not speak (505), a timeout in the head (408). line is the
	// request line as far as it came.
	Refused func(remote netip.AddrPort, tls bool, status int, reason string, line []byte)

	live    atomic.Pointer[Settings] // set by Configure
	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing atomic.Bool
	drained chan struct{} // closed when closing and the last connection ended
}

// Settings bound what a client may send and how long it may take.
type Settings struct {
	Limits Limits
	// ReadHeaderTimeout bounds the time from the first byte of a request
	// to the end of its head (slowloris).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends nothing this long.
	IdleTimeout time.Duration
	// BodyTimeout bounds the wait for each read of a request body (nginx's
	// client_body_timeout): a client that sends no body byte this long gets
	// 408 if nothing of the answer went out yet, else the connection
	// closes. Zero waits for ever.
	BodyTimeout time.Duration
	// SendTimeout bounds each write to the client (nginx's send_timeout):
	// on plain TCP a write that makes no progress this long, in TLS one
	// that does not finish in it, closes the connection. Zero waits for
	// ever.
	SendTimeout time.Duration
}

// Configure replaces the server's settings: every connection, open or
// not, uses them from its next request on (a wait already begun keeps its
// deadline). A reload that keeps a listening address keeps its Server.
func (s *Server) Configure(st Settings) { s.live.Store(&st) }

// settings is what Configure set last, else the starting Settings.
func (s *Server) settings() *Settings {
	if st := s.live.Load(); st != nil {
		return st
	}
	return &s.Settings
}

// BodyHolder is a Handler that wants part of each request body read
// before ServeH1 is called: HoldBody (called first, for each request)
// returns how much, BufferBody's limit, or 0 for none. While that part
// comes, a plain TCP connection waits without a goroutine, parked as an
// idle one is, so that clients trickling their bodies cost little
// memory. ServeH1 then calls BufferBody with the same limit, which goes on
// where the holding stopped (or waits itself, on TLS), and finds there an
// error of the client's (the body timed out, broke off, or was malformed).
type BodyHolder interface {
	Handler
	HoldBody(x *Exchange) int
}

// ServeConn serves nc until the client or the server closes it. It is
// meant to be the goroutine of the connection.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	if !s.track(c) {
		nc.Close()
		return
	}
	c.serve()
}

// Go serves nc on a goroutine of its own, as `go ServeConn(nc)` would,
// but registers the connection first: a Shutdown that begins once Go has
// returned waits for its request instead of missing it.
//
// prepare, when set, runs first on that goroutine, to read what comes
// before HTTP (a PROXY protocol header): it returns the connection to
// serve, or nil when it closed nc. Until it returns the connection counts
// as busy, so a Shutdown waits for it as for a request.
func (s *Server) Go(nc net.Conn, prepare func(net.Conn) net.Conn) {
	c := newConn(s, nc)
	if !s.track(c) {
		nc.Close()
		return
	}
	if prepare == nil {
		go c.serve()
		return
	}
	go func() {
		pc := prepare(nc)
		if pc == nil {
			s.untrack(c)
			return
		}
		if pc != nc {
			// Shutdown reads c.nc under s.mu.
			s.mu.Lock()
			c.adopt(pc)
			s.mu.Unlock()
		}
		c.serve()
	}()
}

// serve runs the connection until it closes, or until it has waited long
// enough for a request to be parked (see parkCold), which ends the
// goroutine; a parked connection is served again by a new one.
func (c *conn) serve() { c.run(false) }

// run is serve, resumed after a wait for a request body's part to hold
// (holdAhead) when resumed is set.
func (c *conn) run(resumed bool) {
	if c.x == nil {
		c.takeExchange() // woken from parking
	}
	for {
		if !resumed {
			switch c.readRequest() {
			case parked:
				return
			case closed:
				c.end()
				return
			}
			c.start()
		}
		resumed = false
		if c.holdLimit > 0 && c.holdAhead() {
			return
		}
		c.s.Handler.ServeH1(c.x)
		if !c.finish() {
			c.end()
			return
		}
	}
}

// start begins the exchange of the request just parsed.
func (c *conn) start() {
	c.x.begin()
	c.holdLimit = 0
	if bh, ok := c.s.Handler.(BodyHolder); ok {
		c.holdLimit = bh.HoldBody(c.x)
	}
}

// end closes the connection and forgets it.
func (c *conn) end() {
	c.state.Store(stClosed)
	c.close()
	c.s.untrack(c)
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// Shutdown closes the idle connections at once and the others as soon as
// their request in flight is answered; when ctx ends first, it closes
// those too and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return nil
	}
	drained := make(chan struct{})
	s.drained = drained
	fresh := s.closeIdle(time.Now())
	if len(s.conns) == 0 {
		s.drained = nil
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	// Connections that have not sent their first request yet are given
	// freshGrace to send it, then closed like the idle ones.
	var tick <-chan time.Time
	if fresh {
		t := time.NewTicker(freshGrace / 10)
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case <-drained:
			return nil
		case <-ctx.Done():
			break wait
		case now := <-tick:
			s.mu.Lock()
			if !s.closeIdle(now) {
				tick = nil
			}
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stBody, stClosed) {
			// Parked while its body comes: no goroutine will end it.
			unparkCold(c)
			c.close()
			delete(s.conns, c)
			continue
		}
		c.nc.Close()
	}
	s.mu.Unlock()
	return ctx.Err()
}

// freshGrace is how long Shutdown lets a connection that has sent no
// request yet wait for it. The client connected before the server began
// to stop and may have its request on the way: closing the connection at
// once, as an idle one, would fail it. net/http's Shutdown gives new
// connections 5 seconds too. A variable for the tests.
var freshGrace = 5 * time.Second

// closeIdle closes the idle and parked connections, except those that
// have sent no request yet and were accepted less than freshGrace before
// now; it reports whether such connections remain. It runs with s.mu.
func (s *Server) closeIdle(now time.Time) (fresh bool) {
	for c := range s.conns {
		st := c.state.Load()
		if st != stIdle && st != stCold {
			continue
		}
		if !c.served.Load() && now.Sub(c.accepted) < freshGrace {
			fresh = true
			continue
		}
		switch st {
		case stIdle:
			// Marked closed first: a request whose bytes its goroutine
			// has read meanwhile is then dropped (the client, whose
			// connection closes, sends it again elsewhere) rather than
			// forwarded and its answer lost with the connection.
			if c.state.CompareAndSwap(stIdle, stClosed) {
				c.nc.Close()
			}
		case stCold:
			if c.state.CompareAndSwap(stCold, stClosed) {
				unparkCold(c)
				c.close()
				delete(s.conns, c)
				if len(s.conns) == 0 && s.drained != nil {
					close(s.drained)
					s.drained = nil
				}
			}
		}
	}
	return fresh
}

// Conns reports how many connections are open.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// conn is one client connection. Its buffer holds the request head (from
// 0 to headEnd) while the request is in flight, and what the client sent
// after it: unread body bytes and pipelined requests (from r to w).
type conn struct {
	s  *Server
	nc net.Conn
	rc syscall.RawConn // reads of plain TCP connections; nil on TLS
	// x is the exchange of the request in flight, kept while the
	// connection is served or waits on its goroutine and given back to
	// exchanges while it is parked (an idle connection holds little
	// more than this struct); remote and tls fill it in.
	x      *Exchange
	remote netip.AddrPort
	tls    bool

	buf       []byte
	r, w      int
	headStart int // where the request head begins in buf
	headEnd   int
	// shrinkable is set while a held body waits for bytes: a read that
	// would block moves the request into a buffer of its size (shrink).
	shrinkable bool
	holdLimit  int // of the request's body to read before the handler (BodyHolder)

	state atomic.Int32 // stActive, stIdle, stCold, stBody or stClosed
	// served is set once the client sent a request; accepted is when
	// the connection came. Shutdown gives one that sent none yet a grace.
	served   atomic.Bool
	accepted time.Time
	fd       int       // of a plain TCP connection, for parkCold; -1 otherwise
	coldEnd  time.Time // when a parked connection has been idle too long

	readFn   func(fd uintptr) bool
	rn       int
	rerr     error
	deadline time.Time
	// The wait for a request on plain TCP (wait): waitFn is its read;
	// inWait is set while it runs, emptied once it found the socket
	// empty, waitClosed when the connection is to close after it, and
	// lingerAfter when a lingering close is to follow it.
	waitFn      func(fd uintptr) bool
	inWait      bool
	emptied     bool
	waitClosed  bool
	lingerAfter bool
	// The write of plain TCP (sendRaw): writeFn is its callback, out what
	// it writes, sent how much of it went, werr what the write failed
	// with; armed is set once it set the send timeout.
	writeFn func(fd uintptr) bool
	out     []byte
	sent    int
	werr    error
	armed   bool
	// reset makes the close a reset (a client that read nothing in
	// SendTimeout).
	reset bool
}

type syscallConn interface {
	SyscallConn() (syscall.RawConn, error)
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, accepted: time.Now()}
	c.adopt(nc)
	c.takeExchange()
	return c
}

// exchanges are the Exchanges of parked connections, given to the next
// that wakes; their fields' backing arrays go with them.
var exchanges = sync.Pool{New: func() any { return new(Exchange) }}

// takeExchange gives c an exchange, on its goroutine.
func (c *conn) takeExchange() {
	x := exchanges.Get().(*Exchange)
	x.c, x.Remote, x.TLS = c, c.remote, c.tls
	c.x = x
}

// dropExchange gives c's exchange back as c parks: the handler's Data
// goes with it, and is made anew when a request comes.
func (c *conn) dropExchange() {
	x := c.x
	x.releaseBody()
	x.c, x.Data = nil, nil
	c.x = nil
	exchanges.Put(x)
}

// adopt makes nc the connection c serves, learning what it is.
func (c *conn) adopt(nc net.Conn) {
	c.nc, c.fd, c.rc, c.readFn, c.waitFn, c.writeFn = nc, -1, nil, nil, nil, nil
	c.remote, c.tls = netip.AddrPort{}, false
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		c.remote = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if sc, ok := nc.(syscallConn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			c.readFn = c.rawRead
			c.waitFn = c.serveWaiting
			c.writeFn = c.rawWrite
			rc.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	} else if tc, ok := nc.(*tls.Conn); ok {
		c.tls = true
		// A TLS connection is read through crypto/tls, but parked by its
		// socket: a read that timed out leaves no whole record unread in
		// tls.Conn, so the socket is readable again when the client sends.
		if sc, ok := tc.NetConn().(syscallConn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				rc.Control(func(fd uintptr) { c.fd = int(fd) })
			}
		}
	}
	if c.x != nil {
		c.x.Remote, c.x.TLS = c.remote, c.tls
	}
}

// fill reads what the client sent next into buf[w:]. On plain TCP the
// buffer is taken only once bytes are there to read, so that a connection
// waiting for its next request holds none.
func (c *conn) fill() error {
	if c.inWait {
		// Would wait for ever on the read side wait holds.
		return errReadInWait
	}
	if c.rc != nil {
		c.rn, c.rerr = 0, nil
		if err := c.rc.Read(c.readFn); err != nil {
			return err
		}
		if c.rerr != nil {
			return c.rerr
		}
		if c.rn == 0 {
			return io.EOF
		}
		c.w += c.rn
		return nil
	}
	if c.buf == nil {
		c.buf = getBuf(smallBuf)
	}
	for {
		n, err := c.nc.Read(c.buf[c.w:])
		c.w += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (c *conn) rawRead(fd uintptr) bool {
	if c.buf == nil {
		c.buf = getBuf(smallBuf)
	}
	for {
		n, err := readSocket(int(fd), c.buf[c.w:])
		switch err {
		case 0:
			c.rn = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if c.w == 0 {
				putBuf(c.buf)
				c.buf = nil
			} else if c.shrinkable {
				c.shrink()
			}
			return false
		}
		c.rerr = os.NewSyscallError("read", err)
		return true
	}
}

func (c *conn) setReadDeadline(d time.Duration) {
	var t time.Time
	if d > 0 {
		t = time.Now().Add(d)
	}
	if t.IsZero() && c.deadline.IsZero() {
		return
	}
	c.deadline = t
	c.nc.SetReadDeadline(t)
}

// send writes b to the client and reports how much of it went out. A
// write that does not finish within SendTimeout ends with ErrSendTimeout.
// The whole write is bounded, not each step of it: the kernel takes bytes
// into growing socket buffers long after the client stopped reading, so
// "some progress" would keep a client that reads nothing for several
// timeouts. Writes are at most one copy buffer (32 KiB): a client reading
// less than that in SendTimeout is cut off. The connection is then reset
// rather than closed, so the kernel drops the answer it still holds.
func (c *conn) send(b []byte) (int, error) {
	if c.rc != nil {
		return c.sendRaw(b)
	}
	d := c.s.settings().SendTimeout
	if d <= 0 {
		return c.nc.Write(b)
	}
	c.nc.SetWriteDeadline(time.Now().Add(d))
	n, err := c.nc.Write(b)
	if err != nil && isTimeout(err) {
		c.reset = true
		return n, ErrSendTimeout
	}
	return n, err
}

// sendRaw is send on plain TCP. The send timeout is armed only once the
// socket cannot take the rest at once: an answer that fits in the socket's
// buffer, as most do, sets no timer.
func (c *conn) sendRaw(b []byte) (int, error) {
	c.out, c.sent, c.werr, c.armed = b, 0, nil, false
	err := c.rc.Write(c.writeFn)
	if c.armed {
		c.nc.SetWriteDeadline(time.Time{})
	}
	n := c.sent
	c.out = nil
	if err == nil {
		err = c.werr
	}
	if err != nil && isTimeout(err) {
		c.reset = true
		return n, ErrSendTimeout
	}
	return n, err
}

// rawWrite is sendRaw's write: it returns false to wait for room.
func (c *conn) rawWrite(fd uintptr) bool {
	n, err := writeAll(int(fd), c.out[c.sent:])
	c.sent += n
	switch err {
	case 0:
	case syscall.EAGAIN:
		if d := c.s.settings().SendTimeout; d > 0 && !c.armed {
			c.nc.SetWriteDeadline(time.Now().Add(d))
			c.armed = true
		}
		return false
	default:
		c.werr = os.NewSyscallError("write", err)
	}
	return true
}

// ErrSendTimeout is a client that read nothing of the answer for the
// server's SendTimeout.
var ErrSendTimeout = errors.New("h1: the client read nothing of the answer within the send timeout")

// ErrBodyTimeout is a client that sent no byte of its request body for
// the server's BodyTimeout.
var ErrBodyTimeout = errors.New("h1: no byte of the request body within the body timeout")

// Connection states, for Shutdown and the parking of idle connections.
const (
	stActive int32 = iota // a request is read or served
	stIdle                // the goroutine waits for the next request
	stCold                // parked: no goroutine, no buffer (parkCold)
	stBody                // parked until more of a request body to hold comes (holdAhead)
	stClosed
)

// What readRequest found.
const (
	gotRequest = iota
	closed     // the connection is to close
	parked     // the connection waits for its next request without a goroutine
)

// hotWait is how long a connection waits for its next request on its own
// goroutine before it is parked: keep-alive clients that send at once
// never pay for the parking, and one that stays quiet costs no stack.
// Short, so that a wave of clients that each got an answer and went
// quiet (500 slow readers whose answers sit in the kernel's buffers)
// does not hold a stack each for long; parking costs a few microseconds.
const hotWait = 100 * time.Millisecond

// readRequest waits for and parses the next request head. It reports
// closed when the client left or went quiet, the server is stopping, or
// the head was refused (and answered).
func (c *conn) readRequest() int {
	s := c.s
	st := s.settings()
	if c.r == c.w {
		c.r, c.w = 0, 0
		c.state.Store(stIdle)
		if s.closing.Load() && c.served.Load() {
			return closed
		}
		_, hot := c.idleWait(st)
		c.setReadDeadline(hot)
		err := c.wait()
		// Settings again: requests served within the wait may have seen
		// a reload.
		idle, hot := c.idleWait(s.settings())
		if err != nil && hot < idle && isTimeout(err) && c.w == 0 {
			if c.buf != nil {
				// A TLS connection reads into a buffer it took before
				// knowing whether anything would come.
				putBuf(c.buf)
				c.buf = nil
			}
			c.coldEnd = time.Now().Add(idle - hot)
			// Given back before the connection is parked: from then on
			// another goroutine may serve or close it.
			c.dropExchange()
			if c.state.CompareAndSwap(stIdle, stCold) {
				if parkCold(c) {
					return parked
				}
				c.state.Store(stIdle)
			}
			c.takeExchange()
			c.setReadDeadline(idle - hot)
			err = c.fill()
		}
		if err != nil || c.waitClosed {
			return closed
		}
		// A request served within the wait leaves the connection active
		// when the next one was already in the buffer.
		if !c.state.CompareAndSwap(stIdle, stActive) && c.state.Load() != stActive {
			return closed
		}
	}
	// Settings again: a reload may have come while the connection idled.
	st = s.settings()
	c.setReadDeadline(st.ReadHeaderTimeout)
	lim := st.Limits
	maxHead, _ := lim.resolve()
	for {
		n, err := ParseRequest(c.buf[c.r:c.w], &c.x.Req, lim)
		if err == nil {
			if len(c.buf)-(c.r+n) < minRoom && c.x.Req.hasBody() && len(c.buf) < maxHead+minRoom {
				c.grow(maxHead + minRoom)
				continue
			}
			c.headStart = c.r
			c.r += n
			c.headEnd = c.r
			c.served.Store(true)
			return gotRequest
		}
		var pe *Error
		if errors.As(err, &pe) {
			c.refuse(pe.Status, pe.Reason)
			return closed
		}
		if c.w == len(c.buf) {
			if c.r > 0 {
				c.compact()
			} else {
				c.grow(maxHead + minRoom)
			}
		}
		// The parser starts over on each call: read on until a line
		// ends, so that a head sent a byte at a time is not parsed once
		// per byte.
		for prev := c.w; ; prev = c.w {
			if err := c.fill(); err != nil {
				if isTimeout(err) {
					c.refuse(408, "request head not received in time")
				}
				return closed
			}
			if bytes.IndexByte(c.buf[prev:c.w], '\n') >= 0 || c.w == len(c.buf) || c.w-c.r >= maxHead {
				break
			}
		}
	}
}

// idleWait is how long an idle connection waits for its next request in
// all, and how much of that on its goroutine before it is parked.
func (c *conn) idleWait(st *Settings) (idle, hot time.Duration) {
	idle = st.IdleTimeout
	if idle <= 0 {
		idle = 24 * time.Hour
	}
	hot = idle
	if c.fd >= 0 && idle > hotWait && coldParking() {
		hot = hotWait
	}
	return idle, hot
}

// wait reads the next request of an idle connection into the buffer, as
// fill does. On plain TCP it serves the requests that need nothing but
// their head (GET and the like) from within the wait itself, and returns
// with the first that needs more, or when the connection is to close
// (waitClosed). Go's poller forgets, as each read begins, whether the
// socket was readable, so that each read first tries and fails before it
// waits; within one read, a socket found empty can be waited on at once:
// a keep-alive client's next request costs one read, not two.
func (c *conn) wait() error {
	c.waitClosed = false
	if c.rc == nil {
		return c.fill()
	}
	c.rerr, c.emptied, c.inWait = nil, false, true
	err := c.rc.Read(c.waitFn)
	c.inWait = false
	if c.lingerAfter {
		c.lingerAfter = false
		c.lingeringClose()
	}
	if err != nil {
		return err
	}
	return c.rerr
}

// serveWaiting is wait's read: it returns false to wait for the client.
func (c *conn) serveWaiting(fd uintptr) bool {
	for {
		if c.r == c.w {
			if c.emptied {
				// The socket was empty when last read: whatever the
				// client sends from then on wakes the wait.
				c.emptied = false
				return false
			}
			if !c.rawRead(fd) {
				return false
			}
			if c.rerr == nil && c.rn == 0 {
				c.rerr = io.EOF
			}
			if c.rerr != nil {
				return true
			}
			c.w += c.rn
			c.emptied = c.w < len(c.buf)
		}
		if !c.serveHeadOnly() {
			return true
		}
	}
}

// serveHeadOnly serves, within wait, the request at the start of the
// buffer when its head is all there and it has no body and asks for no
// upgrade: one that reads nothing more from the client. It reports false
// when readRequest is to go on with the buffer, or the connection to
// close (waitClosed).
func (c *conn) serveHeadOnly() bool {
	s := c.s
	n, err := ParseRequest(c.buf[c.r:c.w], &c.x.Req, s.settings().Limits)
	if err != nil || c.x.Req.hasBody() || c.x.Req.Upgrade {
		return false
	}
	if !c.state.CompareAndSwap(stIdle, stActive) && c.state.Load() != stActive {
		c.waitClosed = true
		return false
	}
	c.headStart = c.r
	c.r += n
	c.headEnd = c.r
	c.served.Store(true)
	c.start()
	s.Handler.ServeH1(c.x)
	if !c.finish() {
		c.waitClosed = true
		return false
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
		c.state.Store(stIdle)
		if s.closing.Load() {
			c.waitClosed = true
			return false
		}
		_, hot := c.idleWait(s.settings())
		c.setReadDeadline(hot)
	}
	return true
}

// shrink moves the request, while its body is slow to come, from the
// connection's buffer into a smaller one when what came so far fits with
// room to spare, so that a client that trickles its body holds little
// more memory than it sent. The head is parsed again where it now lies;
// the offsets into the buffer stay the same.
func (c *conn) shrink() {
	if len(c.buf) <= shrunkBuf || c.w+shrunkRoom > shrunkBuf {
		return
	}
	nb := getBuf(shrunkBuf)
	copy(nb, c.buf[:c.w])
	if _, err := ParseRequest(nb[c.headStart:c.headEnd], &c.x.Req, c.s.settings().Limits); err != nil {
		putBuf(nb) // cannot be: the same bytes parsed before
		return
	}
	putBuf(c.buf)
	c.buf = nb
}

// A request whose body is slow to come is moved to a buffer of shrunkBuf
// bytes when it leaves at least shrunkRoom of them for the body.
const (
	shrunkBuf  = 2 << 10
	shrunkRoom = 512
)

// grow moves the bytes from r to w into a larger buffer.
func (c *conn) grow(size int) {
	nb := getBuf(size)
	c.w = copy(nb, c.buf[c.r:c.w])
	c.r = 0
	putBuf(c.buf)
	c.buf = nb
}

// compact moves the unread bytes to the start of the buffer.
func (c *conn) compact() {
	c.w = copy(c.buf, c.buf[c.r:c.w])
	c.r = 0
}

// refuse answers a request refused before any handler, tells Refused, and
// closes with a lingering read so that the answer reaches the client.
func (c *conn) refuse(status int, reason string) {
	if f := c.s.Refused; f != nil {
		f(c.x.Remote, c.x.TLS, status, reason, requestLine(c.buf[c.r:c.w]))
	}
	c.x.Req.Minor = 1
	c.x.Req.Method = nil
	c.x.Status, c.x.BodyBytes, c.x.headSent, c.x.writeFailed = 0, 0, false, false
	c.x.closeAfter = true
	c.x.respond(status, reason, nil)
	if !c.x.writeFailed {
		c.lingeringClose()
	}
}

// requestLine is the first line of b, or b itself up to a bound.
func requestLine(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for i, ch := range b {
		if ch == '\r' || ch == '\n' {
			return b[:i]
		}
	}
	if len(b) > 1024 {
		b = b[:1024]
	}
	return b
}

// finish ends a request after the handler returned and reports whether
// the connection serves another one.
func (c *conn) finish() bool {
	x := c.x
	defer x.releaseBody()
	if !x.headSent {
		x.closeAfter = true
		x.respond(500, "request not answered", nil)
	}
	if x.closeAfter || c.s.closing.Load() || (!x.body.done && !x.discardBody()) {
		// Bytes left unread when the socket closes turn the close into a
		// reset, which can destroy the answer before the client reads it.
		if !x.writeFailed && (!x.body.done || c.r < c.w || c.unread()) {
			if c.inWait {
				// The wait holds the socket's read side: the lingering
				// read comes once it returned.
				c.lingerAfter = true
			} else {
				c.lingeringClose()
			}
		}
		return false
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
		putBuf(c.buf)
		c.buf = nil
	} else {
		c.compact()
	}
	c.headEnd = 0
	return true
}

// unread reports whether bytes wait in a plain TCP socket.
func (c *conn) unread() bool {
	if c.rc == nil {
		return false
	}
	n := 0
	c.rc.Control(func(fd uintptr) {
		var v int32
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v)))
		if errno == 0 {
			n = int(v)
		}
	})
	return n > 0
}

// lingeringClose stops writing and reads what the client still sends
// before the connection closes, as nginx and HAProxy do: until the client
// closes its side, sends nothing for lingerIdle, or lingerTime has passed.
func (c *conn) lingeringClose() {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.nc.(closeWriter); ok {
		cw.CloseWrite()
	}
	buf := c.buf
	if buf == nil {
		buf = getBuf(smallBuf)
		defer putBuf(buf)
	}
	end := time.Now().Add(lingerTime)
	for {
		deadline := time.Now().Add(lingerIdle)
		if deadline.After(end) {
			deadline = end
		}
		c.nc.SetReadDeadline(deadline)
		if _, err := c.nc.Read(buf); err != nil {
			return
		}
	}
}

// A lingering close lasts at most lingerTime, and ends once the client
// has sent nothing for lingerIdle (nginx: lingering_time 30s,
// lingering_timeout 5s).
const (
	lingerTime = 10 * time.Second
	lingerIdle = 2 * time.Second
)

func (c *conn) close() {
	if c.x != nil {
		c.x.releaseBody()
	}
	if c.reset {
		abort(c.nc)
	}
	c.nc.Close()
	if c.buf != nil {
		putBuf(c.buf)
		c.buf = nil
	}
}

// abort makes the close of nc a reset: what the kernel still holds to
// send is dropped at once, not kept for a client that does not read.
// The connection may be a wrapper of the TCP one (counting, carrying a
// PROXY protocol address); it then passes SetLinger on.
func abort(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if l, ok := nc.(interface{ SetLinger(sec int) error }); ok {
		l.SetLinger(0)
	}
}

var errReadInWait = errors.New("h1: client read within the wait for a request")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
