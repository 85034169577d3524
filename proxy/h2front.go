// x/net's HTTP/2 server is deprecated in favour of net/http's, which
// in Go 1.26 serves only a *tls.Conn and so cannot serve through h2Guard;
// from Go 1.27 x/net's ServeConn runs net/http's server underneath.
//
//lint:file-ignore SA1019 the one way to serve HTTP/2 on a wrapped connection in Go 1.26

package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"

	"go.uber.org/zap"
	"golang.org/x/net/http2"
)

// The HTTP/2 limits quill states in its README and sends in its SETTINGS
// frame. The header list is bounded by global.max_header_bytes (net/http
// adds 320 bytes of allowance for HPACK's per-field overhead).
const (
	h2MaxConcurrentStreams = 250
	h2MaxReadFrameSize     = 1 << 20
)

// serveH2Guarded makes f.h2 serve each HTTP/2 connection through an
// h2Guard. net/http's built-in HTTP/2 server takes only a *tls.Conn, so
// the connection cannot be wrapped on its way there; golang.org/x/net's
// server, the same code, takes any net.Conn. Registering it through
// TLSNextProto keeps net/http in charge of the connection's life:
// Shutdown still sends GOAWAY and waits for the streams in flight.
func (p *Proxy) serveH2Guarded(f *front) {
	h2srv := &http2.Server{}
	if err := http2.ConfigureServer(f.h2, h2srv); err != nil {
		// Only a TLSConfig listing cipher suites can be refused, and f.h2
		// has none: TLS is terminated before it.
		panic(fmt.Sprintf("http2: %v", err))
	}
	onCut := func(g *h2Guard) {
		p.metrics.h2Cuts.WithLabelValues(f.vip).Inc()
		p.log.Warn("HTTP/2 connection closed: too many stream resets", zap.String("vip", f.vip),
			zap.String("client", g.RemoteAddr().String()), zap.Int("h2_max_resets", g.resets.max))
	}
	f.h2.TLSNextProto[http2.NextProtoTLS] = func(_ *http.Server, c *tls.Conn, h http.Handler) {
		g := newH2Guard(c, p.h2MaxResets(), onCut)
		// net/http passes the connection's base context on the handler,
		// as it does to its own HTTP/2 server.
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		h2srv.ServeConn(g, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: f.h2base.Load()})
	}
}

// h2MaxResets is global.h2_max_resets of the running configuration, read
// per connection so that a reload applies to the next ones.
func (p *Proxy) h2MaxResets() int {
	if g := p.gen.Load(); g != nil && g.cfg.Global.H2MaxResets > 0 {
		return g.cfg.Global.H2MaxResets
	}
	return 100
}
