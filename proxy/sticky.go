package proxy

import (
	"crypto/rand"
	"net/http"
	"strings"
	"sync/atomic"

	"quill/config"
	"quill/sticky"
)

// stickiness keeps clients of a pool on one server: by a signed cookie
// (HAProxy's "cookie SRV insert indirect nocache") or by client IP in a
// table (pen -h -T -c).
type stickiness struct {
	cfg     *config.Sticky
	signer  *sticky.Signer
	byToken map[string]*server
	tokens  map[*server]string
	// lines are the Set-Cookie values that pin to each server, plain
	// and secure, made once per generation.
	lines map[*server][2]string
	table *sticky.Table // ip mode; the same table across reloads
	stats *stickyStats  // kept across reloads
}

// stickyStats counts what stickiness did, for the metrics.
type stickyStats struct {
	hits, misses, repins atomic.Uint64
}

// newStickiness makes the stickiness of a pool for a new generation. The
// ip table and the counters of prev, the running generation's, are shared,
// not copied, so that sticky clients survive the reload; a new size or TTL
// of the table waits in later until the reload commits.
func newStickiness(pool string, c *config.Sticky, global *config.Global, prev *stickiness, servers []*server, later *onCommit) (*stickiness, error) {
	if c == nil || c.Mode == config.StickyNone {
		return nil, nil
	}
	st := &stickiness{cfg: c, stats: &stickyStats{}}
	if prev != nil && prev.cfg.Mode == c.Mode {
		st.stats = prev.stats
	}
	switch c.Mode {
	case config.StickyCookie:
		var secret []byte
		switch {
		case c.Secret != "":
			secret = []byte(c.Secret)
		case global.Secret != "":
			secret = sticky.DeriveSecret([]byte(global.Secret), pool)
		case prev != nil && prev.signer != nil:
			// A random key must not change on reload, or every cookie breaks.
			st.signer = prev.signer
		default:
			secret = make([]byte, 32)
			rand.Read(secret)
		}
		if st.signer == nil {
			st.signer = sticky.NewSigner(secret, pool)
		}
		st.byToken = make(map[string]*server, len(servers))
		st.tokens = make(map[*server]string, len(servers))
		for _, s := range servers {
			tok := st.signer.Token(s.id)
			st.byToken[tok] = s
			st.tokens[s] = tok
		}
		st.lines = make(map[*server][2]string, len(servers))
		for _, s := range servers {
			st.lines[s] = [2]string{st.cookieLine(s, false), st.cookieLine(s, true)}
		}
	case config.StickyIP:
		if prev != nil && prev.table != nil {
			st.table = prev.table
			if prev.cfg.MaxClients != c.MaxClients || prev.cfg.TTL != c.TTL {
				table, n, ttl := st.table, c.MaxClients, c.TTL.Duration
				later.add(func() { table.Resize(n, ttl) })
			}
		} else {
			st.table = sticky.NewTable(c.MaxClients, c.TTL.Duration, nil)
		}
	}
	return st, nil
}

// lookup finds the server the client is pinned to, if any. A cookie that
// is malformed, forged, or names a server that no longer exists is simply
// not a pin.
func (st *stickiness) lookup(r *http.Request, x *exchange, p *pool) {
	var s *server
	if st.table != nil {
		if id, ok := st.table.Get(x.key); ok {
			s = p.byHash[id]
		}
	} else if c, err := r.Cookie(st.cfg.Cookie); err == nil {
		s = st.byToken[c.Value]
	}
	if s == nil {
		st.stats.misses.Add(1)
		return
	}
	st.stats.hits.Add(1)
	x.pinned = s
}

// pin records the server that answered as the client's, in the table or in
// a cookie on the response.
func (st *stickiness) pin(h http.Header, x *exchange) {
	if x.pinned != nil && x.pinned != x.server {
		st.stats.repins.Add(1)
	}
	if st.table != nil {
		st.table.Put(x.key, x.server.hashID)
		return
	}
	c := &http.Cookie{
		Name:     st.cfg.Cookie,
		Value:    st.tokens[x.server],
		Path:     "/",
		Domain:   st.cfg.Domain,
		HttpOnly: true,
		Secure:   x.vip.tls,
		SameSite: sameSite(st.cfg.SameSite),
	}
	if ttl := st.cfg.TTL.Duration; ttl > 0 {
		c.MaxAge = int(ttl.Seconds())
	}
	h.Add("Set-Cookie", c.String())
	// A response that pins one client must not be served from a shared
	// cache to another (HAProxy's "nocache").
	h.Set("Cache-Control", privateCacheControl(h.Get("Cache-Control")))
}

func sameSite(s config.SameSite) http.SameSite {
	switch s {
	case config.SameSiteStrict:
		return http.SameSiteStrictMode
	case config.SameSiteNone:
		return http.SameSiteNoneMode
	}
	return http.SameSiteLaxMode
}

// privateCacheControl turns a Cache-Control value into one that forbids
// shared caches, keeping the other directives.
func privateCacheControl(v string) string {
	if v == "" {
		return "private"
	}
	var out []string
	for _, d := range strings.Split(v, ",") {
		d = strings.TrimSpace(d)
		l := strings.ToLower(d)
		if l == "public" || strings.HasPrefix(l, "s-maxage") {
			continue
		}
		if l == "private" || l == "no-store" {
			return v
		}
		out = append(out, d)
	}
	return strings.Join(append([]string{"private"}, out...), ", ")
}

// stripCookie removes the sticky cookie from the request going to the
// backend, which never needs it (HAProxy's "indirect"), unless pass_cookie.
func (st *stickiness) stripCookie(h http.Header) {
	if st.table != nil || st.cfg.PassCookie {
		return
	}
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	prefix := st.cfg.Cookie + "="
	kept := lines[:0:0]
	for _, line := range lines {
		var parts []string
		for _, part := range strings.Split(line, ";") {
			if !strings.HasPrefix(strings.TrimSpace(part), prefix) {
				parts = append(parts, strings.TrimSpace(part))
			}
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	if len(kept) == 0 {
		h.Del("Cookie")
	} else {
		h["Cookie"] = kept
	}
}
