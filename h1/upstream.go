package h1

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Upstream is one backend server's address and its idle keep-alive
// connections. Connections are taken and given back by Forward; an idle
// one holds no buffer.
type Upstream struct {
	addr        string
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration

	mu     sync.Mutex
	idle   []*backendConn // most recently used last
	timer  *time.Timer
	closed bool
}

// Defaults for the idle connections of an Upstream.
const (
	DefaultMaxIdle     = 1024
	DefaultIdleTimeout = 90 * time.Second
	// reuseCheckAfter is how long a connection may sit idle before it is
	// checked for a close by the server before it is used again.
	reuseCheckAfter = time.Second
	// sweepEvery is how often idle connections are looked over, so that
	// one the server closed (its keep-alive timeout is often shorter than
	// ours) does not linger in CLOSE_WAIT until it would be used.
	sweepEvery = 5 * time.Second
)

// NewUpstream prepares connections to addr (host:port), each dialled
// within connectTimeout.
func NewUpstream(addr string, connectTimeout time.Duration) *Upstream {
	return &Upstream{
		addr:        addr,
		dialer:      net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second},
		maxIdle:     DefaultMaxIdle,
		idleTimeout: DefaultIdleTimeout,
	}
}

// Addr is the server's address.
func (u *Upstream) Addr() string { return u.addr }

// Idle reports how many idle connections are kept.
func (u *Upstream) Idle() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.idle)
}

// CloseIdle closes the idle connections; later ones are kept again.
func (u *Upstream) CloseIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle = nil
	u.mu.Unlock()
	for _, bc := range idle {
		bc.nc.Close()
	}
}

// Close closes the idle connections and keeps none from now on: the
// server left the configuration.
func (u *Upstream) Close() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.CloseIdle()
}

// ConnectError is a failure to connect to a server: nothing of the request
// reached it, so another server may always be tried.
type ConnectError struct {
	Addr string
	Err  error
}

func (e *ConnectError) Error() string { return fmt.Sprintf("connect %s: %v", e.Addr, e.Err) }
func (e *ConnectError) Unwrap() error { return e.Err }

// backendConn is a connection to a server, with the buffer it reads into
// while a response is in flight.
type backendConn struct {
	u        *Upstream
	nc       net.Conn
	rc       syscall.RawConn
	buf      []byte
	r, w     int
	lastUsed time.Time
	reused   bool
	// slow is set while the answer goes to a slow client: buf is then a
	// small one (Exchange.slowDown).
	slow bool
	// readFn, rn and rerr are the raw read of plain TCP (read).
	readFn func(fd uintptr) bool
	rn     int
	rerr   error
	// out is a request that the next read writes before it waits for
	// the answer (sendFirst), outHead the buffer it lies in, and werr
	// what its write failed with.
	out     []byte
	outHead *HeadWriter
	werr    error
}

// read reads from the server into bc.buf[bc.w:]. On plain TCP the buffer
// is taken only when there are bytes to read, and an empty one is given
// back while the read waits: relays waiting on their servers, many at
// once or for long, hold no copy buffer meanwhile.
func (bc *backendConn) read() (int, error) {
	if bc.rc == nil {
		if bc.buf == nil {
			bc.buf = getBuf(bc.bufSize())
		}
		return bc.nc.Read(bc.buf[bc.w:])
	}
	if bc.readFn == nil {
		bc.readFn = bc.rawRead
	}
	bc.rn, bc.rerr = 0, nil
	err := bc.rc.Read(bc.readFn)
	if bc.outHead != nil {
		if bc.out != nil && err == nil && bc.werr == nil {
			// The socket took part of the request: the rest goes out
			// through the poller, then the read starts over.
			_, bc.werr = bc.nc.Write(bc.out)
			if bc.werr == nil {
				bc.release()
				return bc.read()
			}
		}
		bc.release()
	}
	if err != nil {
		return 0, err
	}
	if bc.werr != nil {
		return 0, bc.werr
	}
	if bc.rerr != nil {
		return 0, bc.rerr
	}
	if bc.rn == 0 {
		return 0, io.EOF
	}
	return bc.rn, nil
}

func (bc *backendConn) rawRead(fd uintptr) bool {
	if bc.out != nil {
		return bc.writeOut(fd)
	}
	if bc.buf == nil {
		bc.buf = getBuf(bc.bufSize())
	}
	for {
		n, err := readSocket(int(fd), bc.buf[bc.w:])
		switch err {
		case 0:
			bc.rn = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if bc.w == 0 {
				putBuf(bc.buf)
				bc.buf = nil
			}
			return false
		}
		bc.rerr = os.NewSyscallError("read", err)
		return true
	}
}

// sendFirst makes the next read write the request in hw before it waits
// for the answer. Go's poller forgets, as each read begins, whether the
// socket was readable; a request written after that point makes its
// answer news to the poller, so the read can wait at once, sparing the
// read that would fail first on every request. A connection that was
// closed while idle is no exception: the request draws a reset, which
// wakes the read. The read takes hw.
func (bc *backendConn) sendFirst(hw *HeadWriter) {
	bc.out, bc.outHead, bc.werr = hw.b, hw, nil
}

// writeOut writes bc.out from within the read (sendFirst). It reports
// whether the read is to return: on an error, or when the socket took
// part of it.
func (bc *backendConn) writeOut(fd uintptr) bool {
	n, err := writeAll(int(fd), bc.out)
	bc.out = bc.out[n:]
	switch err {
	case 0:
		bc.out = nil
		return false
	case syscall.EAGAIN:
	default:
		bc.werr = os.NewSyscallError("write", err)
	}
	return true
}

// release gives back the buffer of a request written by read.
func (bc *backendConn) release() {
	putHead(bc.outHead)
	bc.out, bc.outHead = nil, nil
}

func (bc *backendConn) bufSize() int {
	if bc.slow {
		return slowBuf
	}
	return copyBuf
}

// get takes an idle connection, or dials a new one when there is none or
// fresh is set.
func (u *Upstream) get(fresh bool) (*backendConn, error) {
	if !fresh {
		now := time.Now()
		for {
			u.mu.Lock()
			n := len(u.idle)
			if n == 0 {
				u.mu.Unlock()
				break
			}
			bc := u.idle[n-1]
			u.idle[n-1] = nil
			u.idle = u.idle[:n-1]
			u.mu.Unlock()
			idle := now.Sub(bc.lastUsed)
			if idle > u.idleTimeout || (idle > reuseCheckAfter && !bc.quiet()) {
				bc.nc.Close()
				continue
			}
			bc.reused = true
			return bc, nil
		}
	}
	nc, err := u.dialer.Dial("tcp", u.addr)
	if err != nil {
		return nil, &ConnectError{Addr: u.addr, Err: err}
	}
	bc := &backendConn{u: u, nc: nc}
	if sc, ok := nc.(syscallConn); ok {
		bc.rc, _ = sc.SyscallConn()
	}
	return bc, nil
}

// put gives a connection back after a complete response.
func (u *Upstream) put(bc *backendConn) {
	bc.slow = false
	if bc.buf != nil {
		putBuf(bc.buf)
		bc.buf = nil
	}
	bc.r, bc.w = 0, 0
	bc.lastUsed = time.Now()
	u.mu.Lock()
	if u.closed || len(u.idle) >= u.maxIdle {
		u.mu.Unlock()
		bc.nc.Close()
		return
	}
	u.idle = append(u.idle, bc)
	if u.timer == nil {
		u.timer = time.AfterFunc(sweepEvery, u.sweep)
	}
	u.mu.Unlock()
}

// sweep closes the connections idle longer than the idle timeout, and
// those the server closed or wrote to unasked.
func (u *Upstream) sweep() {
	now := time.Now()
	u.mu.Lock()
	var stale []*backendConn
	kept := u.idle[:0]
	for _, bc := range u.idle {
		idle := now.Sub(bc.lastUsed)
		if idle > u.idleTimeout || (idle > reuseCheckAfter && !bc.quiet()) {
			stale = append(stale, bc)
		} else {
			kept = append(kept, bc)
		}
	}
	clear(u.idle[len(kept):])
	u.idle = kept
	u.timer = nil
	if len(u.idle) > 0 {
		u.timer = time.AfterFunc(sweepEvery, u.sweep)
	}
	u.mu.Unlock()
	for _, bc := range stale {
		bc.nc.Close()
	}
}

// quiet reports whether an idle connection has nothing to read: a server
// that closed it (EOF) or sent something unasked makes it unusable.
func (bc *backendConn) quiet() bool {
	if bc.rc == nil {
		return true
	}
	ok := false
	bc.rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = err == syscall.EAGAIN
	})
	return ok
}

func (bc *backendConn) close() {
	bc.nc.Close()
	if bc.outHead != nil {
		bc.release()
	}
	if bc.buf != nil {
		putBuf(bc.buf)
		bc.buf = nil
	}
}
