package proxy

import (
	"sort"
	"strings"
)

// router picks the pool of a request: by host (exact, then the longest
// "*.suffix" wildcard, then routes without a host), then by the longest
// path prefix among that host's routes. As in nginx's server_name,
// "*.example.com" matches names of any depth below example.com.
type router struct {
	exact    map[string][]route
	wildcard []wildcardRoutes // longest suffix first
	any      []route
}

type route struct {
	prefix string
	pool   *pool
}

type wildcardRoutes struct {
	suffix string // ".example.com"
	routes []route
}

func newRouter() *router { return &router{exact: map[string][]route{}} }

// add registers a route; host is "", "name" or "*.suffix".
func (rt *router) add(host, prefix string, p *pool) {
	host = strings.ToLower(host)
	r := route{prefix: prefix, pool: p}
	switch {
	case host == "":
		rt.any = insertRoute(rt.any, r)
	case strings.HasPrefix(host, "*."):
		suffix := host[1:]
		for i := range rt.wildcard {
			if rt.wildcard[i].suffix == suffix {
				rt.wildcard[i].routes = insertRoute(rt.wildcard[i].routes, r)
				return
			}
		}
		rt.wildcard = append(rt.wildcard, wildcardRoutes{suffix: suffix, routes: []route{r}})
		sort.SliceStable(rt.wildcard, func(i, j int) bool { return len(rt.wildcard[i].suffix) > len(rt.wildcard[j].suffix) })
	default:
		rt.exact[host] = insertRoute(rt.exact[host], r)
	}
}

// insertRoute keeps routes sorted by prefix length, longest first, so that
// the first prefix that matches is the longest.
func insertRoute(rs []route, r route) []route {
	rs = append(rs, r)
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].prefix) > len(rs[j].prefix) })
	return rs
}

// match returns the pool for a Host header value and a path, or nil.
// A host whose routes have no matching prefix falls through to the less
// specific host rules, as a request for an unrouted path of a known host
// should still reach the catch-all route.
func (rt *router) match(host, path string) *pool {
	host = canonicalHost(host)
	if rs, ok := rt.exact[host]; ok {
		if p := matchPrefix(rs, path); p != nil {
			return p
		}
	}
	for i := range rt.wildcard {
		w := &rt.wildcard[i]
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			if p := matchPrefix(w.routes, path); p != nil {
				return p
			}
		}
	}
	return matchPrefix(rt.any, path)
}

func matchPrefix(rs []route, path string) *pool {
	for i := range rs {
		if strings.HasPrefix(path, rs[i].prefix) {
			return rs[i].pool
		}
	}
	return nil
}

// canonicalHost strips the port and a trailing dot. It lowercases only
// when needed, so the common lowercase Host header costs no allocation.
func canonicalHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
