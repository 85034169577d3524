// Package proxy is quill's HTTP front: one listener per VIP address, routing
// by host and path to pools of backend servers, balancing, stickiness,
// forwarding with X-Forwarded-*, failover, access logging and hitless
// reloads.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"quill/accesslog"
	"quill/config"
	"quill/tlsterm"
)

// Proxy serves the VIPs of a configuration and its admin listener, and
// moves to a new configuration on reload.
type Proxy struct {
	log     *zap.Logger
	gen     atomic.Pointer[generation]
	limiter *limiter
	metrics *metrics

	mu      sync.Mutex // serializes Reload, Serve and Shutdown
	fronts  map[string]*front
	sockets map[string]*socket             // of the fronts and the admin listener, by address
	terms   map[string]*tlsterm.Terminator // by VIP name
	admin   *adminFront                    // nil without [admin]
	checks  context.CancelFunc             // stops the active health checks
	// retiring are access logs a reload replaced, kept open (and reopened
	// on USR1) until the requests of the old generation have logged.
	retiring map[*accesslog.Logger]bool
	serving  bool // Serve was called
	stopping atomic.Bool
	stopped  bool

	// inherited are the sockets of an upgrade not yet taken by the
	// first generation; nil once New returns.
	inherited Inherited

	adminHandler atomic.Pointer[http.Handler]

	process    processInfo // version, start, last reload: for the status page
	sampler    *statsSampler
	vipStatsMu sync.Mutex
	vipStats   map[string]*trafficStats // by VIP name, kept across reloads
}

// New applies cfg and binds its listeners, the admin listener included;
// Serve starts answering.
func New(cfg *config.Config, log *zap.Logger) (*Proxy, error) {
	return NewInheriting(cfg, log, nil)
}

func newProxy(cfg *config.Config, log *zap.Logger) *Proxy {
	p := &Proxy{log: log, limiter: newLimiter(cfg.Global.MaxConnections),
		fronts: map[string]*front{}, sockets: map[string]*socket{}, terms: map[string]*tlsterm.Terminator{},
		retiring: map[*accesslog.Logger]bool{}}
	p.metrics = newMetrics(p)
	p.process.started = time.Now()
	return p
}

// Config returns the configuration in force.
func (p *Proxy) Config() *config.Config { return p.gen.Load().cfg }

// Reload moves to cfg. When anything of it cannot be applied (a certificate
// that does not load, an address that cannot be bound, an access log that
// cannot be opened), the running configuration stays untouched, everything
// the attempt opened is closed again, and the error says why.
func (p *Proxy) Reload(cfg *config.Config) error {
	err := p.apply(cfg)
	result := "applied"
	if err != nil {
		result = "refused"
	}
	p.metrics.reloads.WithLabelValues(result).Inc()
	p.process.noteReload(err)
	return err
}

// retireLogs closes the access logs that prev used and g does not, once
// the requests of prev have had time to finish and log. It runs with p.mu.
func (p *Proxy) retireLogs(prev, g *generation, wait time.Duration) {
	var unused []*accesslog.Logger
	for key, l := range prev.logs {
		if _, ok := g.logs[key]; !ok {
			unused = append(unused, l)
			p.retiring[l] = true
		}
	}
	if len(unused) == 0 {
		return
	}
	time.AfterFunc(wait, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range unused {
			if p.retiring[l] {
				delete(p.retiring, l)
				l.Close()
			}
		}
	})
}

// SetAdminHandler sets what answers on the admin listener, normally
// NewAdmin's handler; call it before Serve. Without it the admin listener
// serves NewAdmin(p, nil).
func (p *Proxy) SetAdminHandler(h http.Handler) { p.adminHandler.Store(&h) }

func (p *Proxy) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if h := p.adminHandler.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	h := NewAdmin(p, nil)
	p.adminHandler.CompareAndSwap(nil, &h)
	(*p.adminHandler.Load()).ServeHTTP(w, r)
}

// Serve starts answering on every listener; it returns at once.
func (p *Proxy) Serve() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.serving || p.stopped {
		return
	}
	p.serving = true
	p.startSampler()
	for _, f := range p.fronts {
		go f.serve(p.log)
	}
	for name, t := range p.terms {
		p.startTerm(name, t)
	}
	if p.admin != nil {
		go p.admin.serve(p.log)
	}
}

// startTerm starts certificate management (ACME) of a TLS VIP.
func (p *Proxy) startTerm(name string, t *tlsterm.Terminator) {
	if err := t.Start(context.Background()); err != nil {
		p.log.Error("certificate management failed to start", zap.String("vip", name), zap.Error(err))
	}
	// Certificate files replaced on disk are picked up without a reload;
	// Stop ends the watch.
	go t.Watch(context.Background(), 5*time.Second)
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then flushes and closes the access logs and closes the admin listener,
// which answers /healthz with 503 meanwhile.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.stopping.Store(true)
	p.mu.Lock()
	p.stopped = true
	fronts := p.fronts
	serving := p.serving
	p.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, len(fronts))
	for _, f := range fronts {
		if !serving {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.shutdown(ctx); err != nil {
				errs <- fmt.Errorf("listen %s: %w", f.addr, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	p.closeAll()
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// closeAll releases everything the proxy holds.
func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.checks != nil {
		p.checks()
	}
	p.stopSampler()
	for _, t := range p.terms {
		t.Stop()
	}
	for _, f := range p.fronts {
		f.ln.Close()
	}
	if p.admin != nil {
		p.admin.close()
	}
	for _, s := range p.sockets {
		s.Close()
	}
	if g := p.gen.Load(); g != nil {
		for _, l := range g.logs {
			l.Close()
		}
	}
	for l := range p.retiring {
		l.Close()
		delete(p.retiring, l)
	}
}

// ReopenLogs reopens every access log file (SIGUSR1, after logrotate).
func (p *Proxy) ReopenLogs() error {
	p.mu.Lock()
	logs := []*accesslog.Logger{}
	for l := range p.retiring {
		logs = append(logs, l)
	}
	p.mu.Unlock()
	for _, l := range p.gen.Load().logs {
		logs = append(logs, l)
	}
	var errs []error
	for _, l := range logs {
		if err := l.Reopen(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stopping reports whether a graceful stop has begun.
func (p *Proxy) Stopping() bool { return p.stopping.Load() }

// TLSOptions turns the tls table of VIP name into terminator options. ACME
// challenges are expected on this VIP's port (TLS-ALPN-01) and on the port
// of the plain-HTTP VIP of the same host (HTTP-01), 80 when there is none.
func TLSOptions(cfg *config.Config, name string) (tlsterm.Options, error) {
	t := cfg.VIPs[name].TLS
	o := tlsterm.Options{MinVersion: t.MinVersion.ID(), TicketSecret: []byte(cfg.Global.Secret), VIP: name}
	for _, c := range t.Certificates {
		o.Certificates = append(o.Certificates, tlsterm.CertFile{Cert: c.Cert, Key: c.Key})
	}
	if a := t.ACME; a != nil {
		o.ACME = &tlsterm.ACME{Email: a.Email, Domains: a.Domains, CA: a.CA, Storage: a.Storage, RootCA: a.RootCA}
		host, port := splitListen(cfg.VIPs[name].Listen)
		o.ACME.TLSPort = port
		for _, other := range sortedNames(cfg.VIPs) {
			if ov := cfg.VIPs[other]; ov.TLS == nil {
				if h, p := splitListen(ov.Listen); h == host && p != 0 {
					o.ACME.HTTPPort = p
					break
				}
			}
		}
	}
	return o, nil
}

// splitListen gives the host and port of the first listen address.
func splitListen(listen []string) (string, int) {
	if len(listen) == 0 {
		return "", 0
	}
	host, port, err := net.SplitHostPort(listen[0])
	if err != nil {
		return "", 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}
