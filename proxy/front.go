package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"

	"go.uber.org/zap"

	"quill/config"
)

// front is one listen address and the http.Server on it. Fronts outlive
// generations: a reload that keeps an address keeps its socket open, so no
// client is refused while the config changes.
type front struct {
	addr string
	vip  string // name of the VIP it was opened for
	tls  bool
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// openFront prepares the server of addr on raw, a socket the reload has
// bound. A TLS front hands the HTTP/2 connections to net/http as *tls.Conn
// (so that it speaks h2 on them) and wraps the HTTP/1 ones, like
// plain-HTTP connections, in the framing guard against request smuggling.
func (p *Proxy) openFront(raw net.Listener, addr string, v *vip, g *config.Global) *front {
	var ln net.Listener = &limitListener{Listener: raw, lim: p.limiter}
	if v.term != nil {
		ln = v.term.Listener(ln)
	}
	ln = framingListener(ln, p.refusedBy(addr))
	f := &front{addr: addr, vip: v.name, tls: v.term != nil, ln: ln, done: make(chan struct{})}
	f.srv = &http.Server{
		Handler:           &frontHandler{p: p, addr: addr},
		ReadHeaderTimeout: g.ReadHeaderTimeout.Duration,
		IdleTimeout:       g.IdleTimeout.Duration,
		MaxHeaderBytes:    g.MaxHeaderBytes,
		ConnContext:       withFramingConn,
		ErrorLog:          zap.NewStdLog(p.log.Named("http").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	return f
}

func (f *front) serve(log *zap.Logger) {
	defer close(f.done)
	if err := f.srv.Serve(f.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("listener stopped", zap.String("listen", f.addr), zap.Error(err))
	}
}

// shutdown stops accepting and waits for in-flight requests until ctx ends.
func (f *front) shutdown(ctx context.Context) error {
	err := f.srv.Shutdown(ctx)
	if err != nil {
		f.srv.Close()
	}
	<-f.done
	return err
}
