package proxy

import (
	"net/netip"
	"strings"
)

// peerAddr parses the TCP peer of a request (http.Request.RemoteAddr).
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// trustedSet is the pool's trusted_proxies.
type trustedSet []netip.Prefix

func (t trustedSet) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address quill logs and sticks on: the TCP peer, or, when
// the peer is a trusted proxy, the right-most address of X-Forwarded-For
// that is not itself trusted. Walking from the right matters: everything
// left of the first untrusted hop was written by the client and may be
// forged. A chain of only trusted hops yields its left-most address.
func (t trustedSet) clientIP(peer netip.Addr, xff []string) netip.Addr {
	if len(t) == 0 || !t.contains(peer) {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				hop, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				// A hop that is not an address (a name, "unknown", garbage)
				// ends what can be believed.
				return client
			}
			client = a.Unmap()
			if !t.contains(client) {
				return client
			}
		}
	}
	return client
}
