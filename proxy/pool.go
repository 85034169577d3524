package proxy

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"quill/config"
)

// pool is a set of backend servers of one config generation.
type pool struct {
	name      string
	cfg       *config.Pool
	servers   []*server // config order
	primaries []*server
	backups   []*server
	byHash    map[uint64]*server
	balancer  balancer
	trusted   trustedSet
	sticky    *stickiness // nil without stickiness
	// v6Prefix is how many bits of an IPv6 client address key it in the
	// ip table and in hashing (0: sticky's default /64), so that the table
	// and the first choice by hashing agree on who one client is.
	v6Prefix  int
	transport *http.Transport
	fwd       forwarder
	retries   prometheus.Counter
}

// newPool builds a pool of fresh objects. prev, the pool of the same name
// in the running generation, when it exists, lends the state of the
// servers that stay, its stickiness and its backend connections, and is
// not written to: what must change in the shared state waits in later
// until the reload commits.
func newPool(name string, c *config.Pool, prev *pool, global *config.Global, log *zap.Logger, m *metrics, later *onCommit) (*pool, error) {
	p := &pool{name: name, cfg: c, byHash: map[uint64]*server{}}
	old := map[string]*server{}
	if prev != nil {
		for _, s := range prev.servers {
			old[s.id] = s
		}
	}
	for _, sc := range c.Servers {
		s := carryServer(sc, old[sc.ID()], later)
		s.upstream = carryUpstream(s, old[sc.ID()], c, prev)
		p.servers = append(p.servers, s)
		p.byHash[s.hashID] = s
		if s.backup {
			p.backups = append(p.backups, s)
		} else {
			p.primaries = append(p.primaries, s)
		}
	}
	b, err := newBalancer(c.Balance)
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	p.balancer = b
	for _, t := range c.TrustedProxies {
		pfx, err := config.ParsePrefix(t)
		if err != nil {
			return nil, fmt.Errorf("pool %q: %w", name, err)
		}
		p.trusted = append(p.trusted, pfx)
	}
	var prevSticky *stickiness
	if prev != nil {
		prevSticky = prev.sticky
	}
	if p.sticky, err = newStickiness(name, c.Sticky, global, prevSticky, p.servers, later); err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	if p.sticky != nil && p.sticky.table != nil {
		// The balance of ip stickiness is "hash" (config refuses any
		// other), and it keys a client as the table does.
		p.v6Prefix = c.Sticky.IPv6Prefix
	}
	p.transport = reuseTransport(c, prev)
	p.fwd = newReverseProxy(p, log, m)
	p.retries = m.retries.WithLabelValues(name)
	return p, nil
}

// reuseTransport keeps the backend connections of the previous generation
// across a reload when the timeouts they were made with did not change.
// A transport it does not keep goes on serving the running generation; the
// reload closes its idle connections once it has committed.
func reuseTransport(c *config.Pool, prev *pool) *http.Transport {
	if prev != nil && prev.cfg.ConnectTimeout == c.ConnectTimeout && prev.cfg.Timeout == c.Timeout {
		return prev.transport
	}
	return newTransport(c.ConnectTimeout.Duration, c.Timeout.Duration)
}

// choose returns the server for the next attempt of x, or nil when no
// server may take it.
func (p *pool) choose(x *exchange) *server {
	now := time.Now().UnixNano()
	tried := x.triedServers()
	if s := x.pinned; s != nil && !contains(tried, s) && s.takesSticky(now) {
		return s
	}
	if p.cfg.Stubborn && (x.pinned != nil || len(tried) > 0) {
		return nil
	}
	c := candidate{now: now, tried: tried}
	s := p.balancer.pick(p.primaries, c, x.hash)
	if s == nil {
		s = p.balancer.pick(p.backups, c, x.hash)
	}
	if s != nil && p.sticky != nil {
		x.repin = true
	}
	return s
}

func contains(set []*server, s *server) bool {
	for _, t := range set {
		if t == s {
			return true
		}
	}
	return false
}

// rewrite prepares the request that goes to the backend: Host as the client
// sent it, no Via, X-Forwarded-* set by the pool's rule. ReverseProxy has
// already removed hop-by-hop headers and the client's X-Forwarded-*.
func (p *pool) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.Host = pr.In.Host
	h := pr.Out.Header
	prior := pr.In.Header["X-Forwarded-For"]
	switch p.cfg.ForwardedFor {
	case config.Append:
		if len(prior) > 0 {
			h.Set("X-Forwarded-For", joinComma(prior)+", "+x.peer.String())
		} else {
			h.Set("X-Forwarded-For", x.peer.String())
		}
	case config.Replace:
		h.Set("X-Forwarded-For", x.client.String())
	case config.PassOn:
		if len(prior) > 0 {
			h["X-Forwarded-For"] = prior
		}
	}
	h.Set("X-Forwarded-Proto", x.vip.scheme)
	h.Set("X-Forwarded-Host", pr.In.Host)
	if p.sticky != nil {
		p.sticky.stripCookie(h)
	}
}

func joinComma(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	out := v[0]
	for _, s := range v[1:] {
		out += ", " + s
	}
	return out
}

// modifyResponse pins the client to the server that answered, when needed.
func (p *pool) modifyResponse(resp *http.Response) error {
	x := exchangeFrom(resp.Request.Context())
	if x.repin && p.sticky != nil {
		p.sticky.pin(resp.Header, x)
	}
	return nil
}
