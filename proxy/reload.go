package proxy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"quill/accesslog"
	"quill/config"
	"quill/tlsterm"
)

// A reload is a transaction, as Caddy runs its modules: provision the new
// generation from fresh objects and open everything it needs (listeners,
// access logs, certificates), then commit by swapping it in, or, on any
// failure, close exactly what the attempt opened. Until the commit, nothing
// the running generation uses has been written to, so a refused reload
// leaves the proxy as it was: certificates, weights, listeners, logs and
// admin listener.

// onCommit is state shared with the running generation that the new one
// changes (a table's size, a weight the file changed): it is applied only
// once the reload commits.
type onCommit []func()

func (c *onCommit) add(f func()) { *c = append(*c, f) }

func (c onCommit) run() {
	for _, f := range c {
		f()
	}
}

// attempt is one reload (or the start) in progress and everything it has
// opened so far.
type attempt struct {
	cfg  *config.Config
	prev *generation // the running generation; nil at start
	g    *generation

	later onCommit
	// logs are the access logs this attempt opened (not those it reuses).
	logs []*accesslog.Logger
	// terms are the terminators of g by VIP name, kept or new; created
	// are the new ones, pending the new certificate sets of the kept ones.
	terms   map[string]*tlsterm.Terminator
	created map[string]*tlsterm.Terminator
	pending []*tlsterm.Pending
	// sockets are the listening sockets of g by address, kept or new;
	// bound are the new ones.
	sockets map[string]*socket
	bound   []*socket
	// fronts are the fronts of g by address; opened are the new ones.
	fronts map[string]*front
	opened []*front
	admin  *adminFront // the admin listener of g, kept or new; nil without [admin]
}

// apply runs the transaction that moves the proxy to cfg.
func (p *Proxy) apply(cfg *config.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return fmt.Errorf("proxy is stopping")
	}
	a := &attempt{cfg: cfg, prev: p.gen.Load(), terms: map[string]*tlsterm.Terminator{},
		created: map[string]*tlsterm.Terminator{}, sockets: map[string]*socket{}, fronts: map[string]*front{}}
	if err := p.provision(a); err != nil {
		a.abort()
		return err
	}
	p.commit(a)
	return nil
}

// provision builds the new generation and opens what it needs.
func (p *Proxy) provision(a *attempt) error {
	cfg := a.cfg
	if err := checkAdminAddress(cfg); err != nil {
		return err
	}
	g, err := p.build(a)
	if err != nil {
		return err
	}
	a.g = g
	// Certificates: the kept terminators prepare their new set, new VIPs
	// get new terminators; nothing is served from either until commit.
	for _, name := range sortedNames(cfg.VIPs) {
		if cfg.VIPs[name].TLS == nil {
			continue
		}
		o, err := TLSOptions(cfg, name)
		if err != nil {
			return fmt.Errorf("vip %q: %w", name, err)
		}
		if t, ok := p.terms[name]; ok {
			next, err := t.Prepare(o)
			if err != nil {
				return fmt.Errorf("vip %q: %w", name, err)
			}
			a.pending = append(a.pending, next)
			a.terms[name] = t
			continue
		}
		t, err := tlsterm.New(o, p.log.Named("tls").With(zap.String("vip", name)))
		if err != nil {
			return fmt.Errorf("vip %q: %w", name, err)
		}
		a.created[name] = t
		a.terms[name] = t
	}
	for name, v := range g.vips {
		v.term = a.terms[name]
		v.stats = p.vipStatsFor(name)
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

	// Listeners: an address whose front serves the same VIP the same way
	// is kept; any other is opened now, before anything is retired.
	for _, addr := range sortedNames(g.byAddr) {
		v := g.byAddr[addr]
		if f, ok := p.fronts[addr]; ok && f.vip == v.name && f.tls == (v.term != nil) {
			a.fronts[addr] = f
			a.sockets[addr] = p.sockets[addr]
			a.later.add(func() { p.configureFront(f, &cfg.Global) })
			continue
		}
		s, err := a.bind(p, addr)
		if err != nil {
			return fmt.Errorf("vip %q: listen %s: %w", v.name, addr, err)
		}
		f := p.openFront(s, addr, v, &cfg.Global)
		a.fronts[addr] = f
		a.opened = append(a.opened, f)
	}
	if cfg.Admin != nil {
		addr := cfg.Admin.Listen
		if p.admin != nil && p.admin.addr == addr {
			a.admin = p.admin
			a.sockets[addr] = p.sockets[addr]
		} else {
			s, err := a.bind(p, addr)
			if err != nil {
				return fmt.Errorf("admin: listen %s: %w", addr, err)
			}
			a.admin = p.newAdminFront(s)
		}
	}
	return nil
}

// bind opens addr for the attempt, sharing the running socket on addr if
// there is one.
func (a *attempt) bind(p *Proxy, addr string) (*socket, error) {
	s, err := bind(addr, p.sockets[addr], p.takeInherited(addr))
	if err != nil {
		return nil, err
	}
	a.sockets[addr] = s
	a.bound = append(a.bound, s)
	return s, nil
}

// checkAdminAddress refuses an admin listener on a VIP's address, where
// `quill reload` would post its request to the proxied site.
func checkAdminAddress(cfg *config.Config) error {
	if cfg.Admin == nil {
		return nil
	}
	for _, name := range sortedNames(cfg.VIPs) {
		for _, l := range cfg.VIPs[name].Listen {
			if overlaps(cfg.Admin.Listen, l) {
				return fmt.Errorf("admin: listen %s: the address of vip %q (%s); give the admin listener an address of its own",
					cfg.Admin.Listen, name, l)
			}
		}
	}
	return nil
}

// abort closes what a failed attempt opened. Nothing else was touched.
func (a *attempt) abort() {
	for _, f := range a.opened {
		f.ln.Close()
	}
	for _, s := range a.bound {
		s.Close()
	}
	for _, t := range a.created {
		t.Stop()
	}
	for _, l := range a.logs {
		l.Close()
	}
}

// commit swaps the attempt's generation in and retires what the running
// one used that the new one does not. It runs with p.mu held and cannot
// fail.
func (p *Proxy) commit(a *attempt) {
	cfg, g, prev := a.cfg, a.g, a.prev
	for _, next := range a.pending {
		next.Commit()
	}
	a.later.run()
	p.limiter.setMax(cfg.Global.MaxConnections)
	p.gen.Store(g)
	wait := cfg.Global.ShutdownTimeout.Duration

	// New sockets accept only now that the generation they serve is in
	// force.
	for _, s := range a.bound {
		s.commit()
	}
	for addr, f := range p.fronts {
		if a.fronts[addr] != f {
			p.retire(f, p.sockets[addr], wait)
		}
	}
	p.fronts, p.sockets = a.fronts, a.sockets
	if p.serving {
		for _, f := range a.opened {
			go f.serve(p.log)
		}
	}

	for name, t := range p.terms {
		if a.terms[name] != t {
			t.Stop()
		}
	}
	if p.serving {
		for name, t := range a.created {
			p.startTerm(name, t)
		}
	}
	p.terms = a.terms

	if p.admin != a.admin {
		if p.admin != nil {
			old := p.admin
			// The request that asked for this reload may be in flight
			// on the old admin listener: let it finish.
			go old.stop(wait)
			old.sock.waitClosed()
		}
		p.admin = a.admin
		if p.serving && p.admin != nil {
			go p.admin.serve(p.log)
		}
	}

	if prev != nil {
		p.retireLogs(prev, g, wait)
		for name, old := range prev.pools {
			if np := g.pools[name]; np == nil || np.transport != old.transport {
				old.transport.CloseIdleConnections()
			}
		}
		closeDroppedUpstreams(prev, g)
	}
	p.startChecks(g)
}

// retire stops a front that left the config, letting its in-flight
// requests finish for at most timeout. It returns once the front's socket
// is closed, so that from the commit on only the new generation accepts,
// also on an address whose socket the new one shares.
func (p *Proxy) retire(f *front, s *socket, timeout time.Duration) {
	if !p.serving {
		f.ln.Close()
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := f.shutdown(ctx); err != nil {
			p.log.Warn("listener closed with requests in flight", zap.String("listen", f.addr), zap.Error(err))
		}
		// Should the server not have started serving yet, Shutdown
		// had no listener to close.
		s.Close()
	}()
	s.waitClosed()
}
