// Package proxy is quill's HTTP front: one listener per VIP address, routing
// by host and path to pools of backend servers, balancing, stickiness,
// forwarding with X-Forwarded-*, failover, access logging and hitless
// reloads.
package proxy

import (
	"context"
	"crypto/tls"
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

// Proxy serves the VIPs of a configuration and moves to a new one on reload.
type Proxy struct {
	log     *zap.Logger
	gen     atomic.Pointer[generation]
	limiter *limiter
	metrics *metrics

	mu     sync.Mutex // serializes Reload and Shutdown
	fronts map[string]*front
	terms  map[string]*tlsterm.Terminator // by VIP name
	checks context.CancelFunc             // stops the active health checks
	// retiring are access logs a reload replaced, kept open (and reopened
	// on USR1) until the requests of the old generation have logged.
	retiring map[*accesslog.Logger]bool
	stopping atomic.Bool
	stopped  bool
}

// New applies cfg and binds its listeners; Serve starts answering.
func New(cfg *config.Config, log *zap.Logger) (*Proxy, error) {
	p := &Proxy{log: log, limiter: newLimiter(cfg.Global.MaxConnections),
		fronts: map[string]*front{}, terms: map[string]*tlsterm.Terminator{}, retiring: map[*accesslog.Logger]bool{}}
	p.metrics = newMetrics(p)
	if err := p.apply(cfg, false); err != nil {
		p.closeAll()
		return nil, err
	}
	return p, nil
}

// Config returns the configuration in force.
func (p *Proxy) Config() *config.Config { return p.gen.Load().cfg }

// Reload moves to cfg. When anything of it cannot be applied (a certificate
// that does not load, an address that cannot be bound), the running
// configuration stays untouched and the error says why.
func (p *Proxy) Reload(cfg *config.Config) error {
	err := p.apply(cfg, true)
	result := "applied"
	if err != nil {
		result = "refused"
	}
	p.metrics.reloads.WithLabelValues(result).Inc()
	return err
}

func (p *Proxy) apply(cfg *config.Config, serve bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return errors.New("proxy is stopping")
	}
	prev := p.gen.Load()

	// Certificates first: they are the likeliest to fail, and nothing has
	// changed yet.
	tlsOpts := map[string]tlsterm.Options{}
	for _, name := range sortedNames(cfg.VIPs) {
		if cfg.VIPs[name].TLS != nil {
			o, err := TLSOptions(cfg, name)
			if err != nil {
				return fmt.Errorf("vip %q: %w", name, err)
			}
			if _, err := tlsterm.Check(o, time.Now()); err != nil {
				return fmt.Errorf("vip %q: %w", name, err)
			}
			tlsOpts[name] = o
		}
	}
	g, err := p.build(cfg, prev)
	if err != nil {
		return err
	}
	terms := map[string]*tlsterm.Terminator{}
	for name, o := range tlsOpts {
		if t, ok := p.terms[name]; ok {
			if err := t.Reload(o); err != nil {
				return fmt.Errorf("vip %q: %w", name, err)
			}
			terms[name] = t
			continue
		}
		t, err := tlsterm.New(o, p.log.Named("tls").With(zap.String("vip", name)))
		if err != nil {
			return fmt.Errorf("vip %q: %w", name, err)
		}
		terms[name] = t
	}
	for name, v := range g.vips {
		v.term = terms[name]
	}
	var challenge http.Handler
	for _, name := range sortedNames(g.vips) {
		if v := g.vips[name]; v.term != nil && cfg.VIPs[name].TLS.ACME != nil {
			if challenge == nil {
				challenge = http.NotFoundHandler()
			}
			challenge = v.term.HTTPChallenge(challenge)
		}
	}
	for _, v := range g.vips {
		if !v.tls {
			v.challenge = challenge
		}
	}

	// Open the new addresses before anything is retired, so that a bind
	// failure leaves the running config whole.
	keep, open, retire := p.planFronts(g)
	for _, f := range retire {
		if _, busy := open[f.addr]; busy {
			// The address changes VIP or protocol: it must be let go first.
			f.ln.Close()
		}
	}
	opened := map[string]*front{}
	for addr, v := range open {
		f, err := p.openFront(addr, v, &cfg.Global)
		if err != nil {
			for _, o := range opened {
				o.ln.Close()
			}
			p.stopNewTerms(terms)
			return fmt.Errorf("vip %q: listen %s: %w", v.name, addr, err)
		}
		opened[addr] = f
	}

	p.limiter.setMax(cfg.Global.MaxConnections)
	p.gen.Store(g)
	p.fronts = map[string]*front{}
	for addr, f := range keep {
		p.fronts[addr] = f
	}
	for addr, f := range opened {
		p.fronts[addr] = f
		if serve {
			go f.serve(p.log)
		}
	}
	for _, f := range retire {
		go p.retire(f, cfg.Global.ShutdownTimeout.Duration)
	}
	for name, t := range p.terms {
		if terms[name] != t {
			t.Stop()
		}
	}
	if serve {
		for name, t := range terms {
			if p.terms[name] != t {
				p.startTerm(name, t)
			}
		}
	}
	p.terms = terms
	if prev != nil {
		p.retireLogs(prev, g, cfg.Global.ShutdownTimeout.Duration)
		for name, old := range prev.pools {
			if np := g.pools[name]; np == nil || np.transport != old.transport {
				old.transport.CloseIdleConnections()
			}
		}
	}
	p.startChecks(g)
	return nil
}

// planFronts sorts the addresses of g into fronts to keep, addresses to
// open, and fronts to retire.
func (p *Proxy) planFronts(g *generation) (keep map[string]*front, open map[string]*vip, retire []*front) {
	keep, open = map[string]*front{}, map[string]*vip{}
	for addr, v := range g.byAddr {
		if f, ok := p.fronts[addr]; ok && f.vip == v.name && f.tls == (v.term != nil) {
			keep[addr] = f
		} else {
			open[addr] = v
		}
	}
	for addr, f := range p.fronts {
		if _, ok := keep[addr]; !ok {
			retire = append(retire, f)
		}
	}
	return keep, open, retire
}

func (p *Proxy) stopNewTerms(terms map[string]*tlsterm.Terminator) {
	for name, t := range terms {
		if p.terms[name] != t {
			t.Stop()
		}
	}
}

// retire stops a front that left the config, letting its in-flight
// requests finish.
func (p *Proxy) retire(f *front, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := f.shutdown(ctx); err != nil {
		p.log.Warn("listener closed with requests in flight", zap.String("listen", f.addr), zap.Error(err))
	}
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

// Serve starts answering on every listener; it returns at once.
func (p *Proxy) Serve() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.fronts {
		go f.serve(p.log)
	}
	for name, t := range p.terms {
		p.startTerm(name, t)
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
// then flushes and closes the access logs.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.stopping.Store(true)
	p.mu.Lock()
	p.stopped = true
	fronts := p.fronts
	p.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, len(fronts))
	for _, f := range fronts {
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

// closeAll releases what the proxy holds beyond its listeners.
func (p *Proxy) closeAll() {
	if p.checks != nil {
		p.checks()
	}
	for _, t := range p.terms {
		t.Stop()
	}
	for _, f := range p.fronts {
		f.ln.Close()
	}
	if g := p.gen.Load(); g != nil {
		for _, l := range g.logs {
			l.Close()
		}
	}
	p.mu.Lock()
	for l := range p.retiring {
		l.Close()
		delete(p.retiring, l)
	}
	p.mu.Unlock()
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
	v, err := tlsterm.ParseMinVersion(t.MinVersion)
	if err != nil {
		return tlsterm.Options{}, err
	}
	o := tlsterm.Options{MinVersion: v}
	if v == 0 {
		o.MinVersion = tls.VersionTLS12
	}
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
