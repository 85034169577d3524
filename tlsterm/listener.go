package tlsterm

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Listener wraps a TCP listener of the VIP into one that yields *tls.Conn
// whose handshake is already done. Each handshake runs in its own goroutine
// under HandshakeTimeout, so a slow client never holds up Accept, and its
// outcome is counted (see Handshakes and Options.OnHandshake): counting
// failures needs the handshake to run here rather than inside http.Server.
//
// Serve it with http.Server.Serve; HTTP/2 is then negotiated as long as the
// server's TLSConfig is nil or TLSConfig() (see the package documentation).
// Closing the returned listener closes inner and aborts pending handshakes;
// its StopAccepting method closes inner and lets them finish.
func (t *Terminator) Listener(inner net.Listener) net.Listener {
	return t.ListenerWith(inner, nil)
}

// ListenerWith is Listener with before run first on each connection's
// handshake goroutine, to read what precedes the handshake (a PROXY
// protocol header), off the accept loop. before returns the connection to
// hand-shake on, or nil when it closed it. Its wait is its own to bound:
// the handshake timeout starts after it.
func (t *Terminator) ListenerWith(inner net.Listener, before func(net.Conn) net.Conn) net.Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &tlsListener{
		before:  before,
		inner:   inner,
		t:       t,
		ctx:     ctx,
		cancel:  cancel,
		conns:   make(chan *tls.Conn),
		drained: make(chan struct{}),
	}
	go l.acceptLoop()
	return l
}

type tlsListener struct {
	before func(net.Conn) net.Conn // may be nil
	inner  net.Listener
	t      *Terminator
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	conns  chan *tls.Conn

	// handshakes are those under way; drained is closed when inner can
	// accept no more and they have ended; err says why.
	handshakes sync.WaitGroup
	drained    chan struct{}
	err        error
	stopping   atomic.Bool // StopAccepting was called

	closeOnce sync.Once
	closeErr  error
}

// temporary matches accept errors worth retrying, such as EMFILE.
type temporary interface{ Temporary() bool }

func (l *tlsListener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var te temporary
			if errors.As(err, &te) && te.Temporary() && l.ctx.Err() == nil {
				// Out of file descriptors and the like: wait for
				// some to free up, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.t.log.Warn("accept", zap.Error(err), zap.Duration("retry_in", backoff))
				select {
				case <-time.After(backoff):
					continue
				case <-l.ctx.Done():
				}
			}
			if l.ctx.Err() != nil || l.stopping.Load() {
				err = net.ErrClosed
			}
			l.err = err
			l.handshakes.Wait()
			close(l.drained)
			return
		}
		backoff = 0
		l.handshakes.Add(1)
		go l.handshake(c)
	}
}

func (l *tlsListener) handshake(c net.Conn) {
	defer l.handshakes.Done()
	if l.before != nil {
		if c = l.before(c); c == nil {
			return
		}
	}
	g := l.t.cur.Load()
	tc := tls.Server(c, l.t.base)
	ctx, cancel := context.WithTimeout(l.ctx, g.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	l.t.record(g, tc.ConnectionState().Version, err)
	if err != nil {
		if ce := l.t.log.Check(zap.DebugLevel, "TLS handshake failed"); ce != nil {
			ce.Write(zap.String("remote", remoteAddr(c)), zap.Error(err))
		}
		c.Close()
		return
	}
	select {
	case l.conns <- tc:
	case <-l.ctx.Done():
		tc.Close()
	}
}

// Accept returns the next connection whose handshake succeeded.
func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	case <-l.drained:
		return nil, l.err
	}
}

// StopAccepting closes inner, as a graceful stop does: the clients whose
// connection the kernel accepted before are not cut off mid-handshake.
// Accept returns those whose handshake succeeds, then net.ErrClosed; serve
// it until then. Close still aborts what remains.
func (l *tlsListener) StopAccepting() error {
	l.stopping.Store(true)
	return l.inner.Close()
}

func (l *tlsListener) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		l.closeErr = l.inner.Close()
	})
	return l.closeErr
}

func (l *tlsListener) Addr() net.Addr { return l.inner.Addr() }

// remoteAddr is for logs; a conn may lack an address in tests.
func remoteAddr(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}
