package proxy

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// limiter caps the client connections held at once across every listener
// (global.max_connections, pen -x). Past the cap, Accept waits: the kernel's
// backlog holds new clients instead of quill refusing them.
type limiter struct {
	mu     sync.Mutex
	cond   *sync.Cond
	n, max int
	// open are the connections accepted and not yet closed: n less the
	// slots that listeners hold while they wait in Accept.
	open int
}

func newLimiter(max int) *limiter {
	l := &limiter{max: max}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// setMax changes the cap on reload; lowering it closes nobody.
func (l *limiter) setMax(max int) {
	l.mu.Lock()
	l.max = max
	l.mu.Unlock()
	l.cond.Broadcast()
}

// acquire waits for a slot; it gives up when done reports true.
func (l *limiter) acquire(done func() bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.n >= l.max && !done() {
		l.cond.Wait()
	}
	if done() {
		return false
	}
	l.n++
	return true
}

func (l *limiter) release() {
	l.mu.Lock()
	l.n--
	l.mu.Unlock()
	l.cond.Signal()
}

// opened turns the slot an Accept took into a held connection.
func (l *limiter) opened() {
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
}

// closed gives back the slot of a held connection.
func (l *limiter) closed() {
	l.mu.Lock()
	l.open--
	l.n--
	l.mu.Unlock()
	l.cond.Signal()
}

// held is the number of client connections open, not counting the slots
// taken by listeners waiting for one.
func (l *limiter) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// limitListener takes a limiter slot before each Accept and gives it back
// when the connection closes.
type limitListener struct {
	net.Listener
	lim    *limiter
	stats  *trafficStats // of the VIP: connections open and accepted; may be nil
	mu     sync.Mutex
	closed bool
}

func (l *limitListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *limitListener) Accept() (net.Conn, error) {
	if !l.lim.acquire(l.isClosed) {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.lim.release()
		return nil, err
	}
	l.lim.opened()
	lc := &limitConn{Conn: c, lim: l.lim, stats: l.stats}
	if l.stats != nil {
		l.stats.conns.Add(1)
		l.stats.accepted.Add(1)
	}
	return lc, nil
}

func (l *limitListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	// Waking under the limiter's lock orders the wake-up after any
	// waiter's check of isClosed, so none can miss it.
	l.lim.mu.Lock()
	l.lim.cond.Broadcast()
	l.lim.mu.Unlock()
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once  sync.Once
	lim   *limiter
	stats *trafficStats
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (c *limitConn) release() {
	c.lim.closed()
	if c.stats != nil {
		c.stats.conns.Add(-1)
	}
}

// SyscallConn lets the HTTP/1 engine wait for a request without holding a
// buffer (see h1.Server).
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// SetLinger lets the HTTP/1 engine make its close a reset (a client cut off
// by send_timeout).
func (c *limitConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return errors.ErrUnsupported
}

// CloseWrite half-closes the connection: a lingering close, and the end of
// one direction of a tunnel.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
