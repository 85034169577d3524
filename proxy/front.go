package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"quill/config"
	"quill/h1"
)

// front is one listen address and the servers on it: quill's HTTP/1
// engine for every HTTP/1.x connection, plain or TLS, and net/http for the
// TLS connections that chose HTTP/2 by ALPN. Fronts outlive generations:
// a reload that keeps an address keeps its socket open, so no client is
// refused while the config changes.
type front struct {
	addr string
	vip  string // name of the VIP it was opened for
	tls  bool
	ln   net.Listener
	h1   *h1.Server
	h2   *http.Server  // nil on plain-HTTP fronts
	h2ln *connListener // the HTTP/2 connections, for h2
	// h2base holds the HTTP/2 settings that come from the config
	// (max_header_bytes), read per connection so that a reload applies
	// them to a kept address.
	h2base atomic.Pointer[http.Server]
	// headers reads PROXY protocol headers, first thing on each
	// connection's goroutine, when the VIP has proxy_protocol.
	headers *proxyHeaders
	// accepted is closed when the listener accepts no more and every
	// connection it accepted has been handed to a server.
	accepted chan struct{}
	done     chan struct{}
}

// openFront prepares the servers of addr on raw, a socket the reload has
// bound.
func (p *Proxy) openFront(raw net.Listener, addr string, v *vip, g *config.Global) *front {
	headers := &proxyHeaders{p: p, addr: addr}
	var ln net.Listener = &limitListener{Listener: raw, lim: p.limiter, stats: p.vipStatsFor(v.name)}
	if v.term != nil {
		ln = v.term.ListenerWith(ln, headers.accept)
	}
	f := &front{addr: addr, vip: v.name, tls: v.term != nil, ln: ln, headers: headers,
		accepted: make(chan struct{}), done: make(chan struct{})}
	f.h1 = &h1.Server{
		Handler:  &h1Front{p: p, addr: addr},
		Settings: h1Settings(g),
		Refused:  p.refusedBy(addr),
	}
	if f.tls {
		f.h2ln = newConnListener(raw.Addr())
		f.h2 = p.h2Settings(g)
		f.h2.Handler = &frontHandler{p: p, addr: addr}
		f.h2.ReadHeaderTimeout = g.ReadHeaderTimeout.Duration
		f.h2.IdleTimeout = g.IdleTimeout.Duration
		f.h2base.Store(p.h2Settings(g))
		p.serveH2Guarded(f)
	}
	return f
}

// h1Settings are the HTTP/1 engine's limits and timeouts in g.
func h1Settings(g *config.Global) h1.Settings {
	return h1.Settings{
		Limits:            h1.Limits{MaxHeadBytes: g.MaxHeaderBytes, MaxFields: g.MaxHeaderCount},
		ReadHeaderTimeout: g.ReadHeaderTimeout.Duration,
		IdleTimeout:       g.IdleTimeout.Duration,
		BodyTimeout:       g.BodyTimeout.Duration,
		SendTimeout:       g.SendTimeout.Duration,
	}
}

// h2Settings is an http.Server carrying the HTTP/2 settings of g, for
// x/net's ServeConn to read: it serves nothing itself.
func (p *Proxy) h2Settings(g *config.Global) *http.Server {
	return &http.Server{
		MaxHeaderBytes: g.MaxHeaderBytes,
		ErrorLog:       zap.NewStdLog(p.log.Named("http2").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: h2MaxConcurrentStreams,
			MaxReadFrameSize:     h2MaxReadFrameSize,
		},
	}
}

// configureFront applies g's limits and timeouts to a front a reload keeps.
// HTTP/2's idle timeout is fixed when the address opens.
func (p *Proxy) configureFront(f *front, g *config.Global) {
	f.h1.Configure(h1Settings(g))
	if f.h2 != nil {
		f.h2base.Store(p.h2Settings(g))
	}
}

// serve accepts until the listener closes, giving each connection to the
// server of its protocol.
func (f *front) serve(log *zap.Logger) {
	defer close(f.done)
	var h2done chan struct{}
	if f.h2 != nil {
		h2done = make(chan struct{})
		go func() {
			defer close(h2done)
			if err := f.h2.Serve(f.h2ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				log.Error("HTTP/2 server stopped", zap.String("listen", f.addr), zap.Error(err))
			}
		}()
	}
	var backoff time.Duration
	for {
		c, err := f.ln.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// Out of descriptors and the like: wait for some to free
				// up, as net/http does, rather than stop listening.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				log.Warn("accept", zap.String("listen", f.addr), zap.Error(err), zap.Duration("retry_in", backoff))
				time.Sleep(backoff)
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				log.Error("listener stopped", zap.String("listen", f.addr), zap.Error(err))
			}
			break
		}
		backoff = 0
		if tc, ok := c.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			if !f.h2ln.push(c) {
				c.Close()
			}
			continue
		}
		f.serveH1(c)
	}
	close(f.accepted)
	if f.h2ln != nil {
		f.h2ln.Close()
		<-h2done
	}
}

// serveH1 hands an HTTP/1 connection to the engine, which registers it
// before its goroutine starts (a stop then waits for it). A plain one reads
// its PROXY header first thing on that goroutine, off the accept loop; a
// TLS one read it before its handshake, in tlsterm's goroutine of the
// connection.
func (f *front) serveH1(c net.Conn) {
	if f.tls {
		f.h1.Go(c, nil) // the TLS listener read any PROXY header
		return
	}
	f.h1.Go(c, f.headers.accept)
}

// shutdown stops accepting and waits for in-flight requests until ctx
// ends; idle connections close at once. The servers stop only once every
// connection the listener took is theirs (a TLS listener finishes the
// handshakes under way): a client whose connection the kernel accepted
// before the listener closed gets its answer.
func (f *front) shutdown(ctx context.Context) error {
	if tl, ok := f.ln.(interface{ StopAccepting() error }); ok {
		tl.StopAccepting()
	} else {
		f.ln.Close()
	}
	select {
	case <-f.accepted:
	case <-ctx.Done():
	}
	errs := make(chan error, 2)
	go func() { errs <- f.h1.Shutdown(ctx) }()
	if f.h2 != nil {
		go func() {
			err := f.h2.Shutdown(ctx)
			if err != nil {
				f.h2.Close()
			}
			errs <- err
		}()
	} else {
		errs <- nil
	}
	err := errors.Join(<-errs, <-errs)
	f.ln.Close()
	<-f.done
	return err
}

// connListener hands connections accepted elsewhere to an http.Server.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands c to the server; false when the listener is closed.
func (l *connListener) push(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
