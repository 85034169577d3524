package proxy

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"

	"quill/accesslog"
	"quill/config"
	"quill/tlsterm"
)

// generation is one applied configuration. Requests load the current one
// once, so a request started before a reload finishes on the config it
// started with.
type generation struct {
	cfg    *config.Config
	vips   map[string]*vip
	byAddr map[string]*vip // listen address → VIP
	pools  map[string]*pool
	logs   map[string]*accesslog.Logger // by logKey
}

// vip is a virtual address of one generation.
type vip struct {
	name          string
	listen        []string
	tls           bool
	scheme        string // "http" or "https", for X-Forwarded-Proto
	router        *router
	redirectHTTPS bool
	httpsPort     string // port of the https VIP on the same host, for redirects
	hsts          string
	accessLog     *accesslog.Logger
	term          *tlsterm.Terminator
	// challenge answers ACME HTTP-01 challenges on a plain-HTTP VIP for
	// the TLS VIPs that obtain certificates by ACME.
	challenge http.Handler
	// forwardNormalized sends backends the normalized path, not the
	// target as sent.
	forwardNormalized bool
	// proxyFrom are the balancers that may send a PROXY protocol
	// header; nil when the VIP takes none (proxy_protocol off).
	proxyFrom trustedSet
	// stats count the VIP's connections and answers, across reloads.
	stats *trafficStats
}

// build makes the generation of a.cfg from fresh objects, carrying over
// from a.prev, the running generation, only what may be shared without
// being written to: server state, stickiness, access logs, transports. What
// it opens is recorded in a, so that a failed reload can close it.
func (p *Proxy) build(a *attempt) (*generation, error) {
	cfg, prev := a.cfg, a.prev
	g := &generation{cfg: cfg, vips: map[string]*vip{}, byAddr: map[string]*vip{}, pools: map[string]*pool{}, logs: map[string]*accesslog.Logger{}}
	for _, name := range sortedNames(cfg.Pools) {
		var old *pool
		if prev != nil {
			old = prev.pools[name]
		}
		pl, err := newPool(name, cfg.Pools[name], old, &cfg.Global, p.log, p.metrics, &a.later)
		if err != nil {
			return nil, err
		}
		g.pools[name] = pl
	}
	for _, name := range sortedNames(cfg.VIPs) {
		vc := cfg.VIPs[name]
		v := &vip{name: name, listen: vc.Listen, tls: vc.TLS != nil, scheme: "http", router: newRouter(),
			redirectHTTPS: vc.RedirectHTTPS, hsts: vc.HSTS, forwardNormalized: vc.ForwardNormalized}
		if v.tls {
			v.scheme = "https"
		}
		if vc.ProxyProtocol {
			v.proxyFrom = trustedSet{}
			for _, s := range vc.ProxyProtocolFrom {
				pfx, err := config.ParsePrefix(s)
				if err != nil {
					return nil, fmt.Errorf("vip %q: proxy_protocol_from: %w", name, err)
				}
				v.proxyFrom = append(v.proxyFrom, pfx)
			}
		}
		for _, r := range vc.Routes {
			v.router.add(r.Host, r.Path, g.pools[r.Pool])
		}
		logCfg := vc.AccessLog
		if logCfg == nil {
			logCfg = cfg.AccessLog
		}
		if logCfg != nil {
			l, err := a.accessLog(g, logCfg)
			if err != nil {
				return nil, fmt.Errorf("vip %q: %w", name, err)
			}
			v.accessLog = l
		}
		g.vips[name] = v
		for _, a := range vc.Listen {
			g.byAddr[a] = v
		}
	}
	for _, v := range g.vips {
		if v.redirectHTTPS {
			v.httpsPort = httpsPortFor(v, g)
		}
	}
	return g, nil
}

// httpsPortFor finds the port of the TLS VIP that shares a listen host
// with v; "" means the default 443.
func httpsPortFor(v *vip, g *generation) string {
	hosts := map[string]bool{}
	for _, a := range v.listen {
		h, _, _ := net.SplitHostPort(a)
		hosts[h] = true
	}
	for _, name := range sortedNames(g.vips) {
		o := g.vips[name]
		if !o.tls {
			continue
		}
		for _, a := range o.listen {
			if h, port, _ := net.SplitHostPort(a); hosts[h] {
				if port == "443" {
					return ""
				}
				return port
			}
		}
	}
	return ""
}

// accessLog opens the logger for c, or reuses the one with the same
// settings in this generation or the running one.
func (a *attempt) accessLog(g *generation, c *config.AccessLog) (*accesslog.Logger, error) {
	key := logKey(c)
	if l, ok := g.logs[key]; ok {
		return l, nil
	}
	if a.prev != nil {
		if l, ok := a.prev.logs[key]; ok {
			g.logs[key] = l
			return l, nil
		}
	}
	f := accesslog.Common
	if c.Format == config.Combined {
		f = accesslog.Combined
	}
	l, err := accesslog.Open(accesslog.Options{Path: c.Path, Syslog: c.Syslog, Format: f,
		Window: c.Window.Duration, Buffer: c.Buffer, Drop: c.OnFull == config.Drop})
	if err != nil {
		return nil, err
	}
	a.logs = append(a.logs, l)
	g.logs[key] = l
	return l, nil
}

func logKey(c *config.AccessLog) string {
	return strings.Join([]string{c.Path, c.Syslog, string(c.Format), c.Window.String(), fmt.Sprint(c.Buffer), string(c.OnFull)}, "\x00")
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
