package proxy

import (
	"quill/config"
	"quill/h1"
)

// carryUpstream gives s the backend connections of prev, the server of the
// same identity in the running generation, when they still fit: same
// address, same connect timeout. Otherwise s gets an upstream of its own,
// and the reload closes prev's once it has committed.
func carryUpstream(s, prev *server, c *config.Pool, prevPool *pool) *h1.Upstream {
	if prev != nil && prevPool != nil && prev.addr == s.addr && prevPool.cfg.ConnectTimeout == c.ConnectTimeout {
		return prev.upstream
	}
	return h1.NewUpstream(s.addr, c.ConnectTimeout.Duration)
}

// closeDroppedUpstreams closes the backend connections of the servers of
// prev whose upstream g did not keep. Requests in flight on them finish:
// only idle connections close, and no connection is kept afterwards.
func closeDroppedUpstreams(prev, g *generation) {
	kept := map[*h1.Upstream]bool{}
	for _, pl := range g.pools {
		for _, s := range pl.servers {
			kept[s.upstream] = true
		}
	}
	for _, pl := range prev.pools {
		for _, s := range pl.servers {
			if !kept[s.upstream] {
				s.upstream.Close()
			}
		}
	}
}
