package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// listener is one address the file asks a quill process to bind.
type listener struct {
	addr  string
	host  string // canonical: lower case, IPv4-mapped addresses unmapped
	port  int
	owner string // `vip "www"`, `admin`, `vrrp instance "www"`
	path  string // key path, for the line
}

// listeners refuses what binding would refuse, and what would bind but
// send traffic where it does not belong: the same address twice, a
// wildcard address beside any other address of its port (the wildcard
// takes the port on every address of the host), and the admin listener on
// a VIP's address (where `quill reload` would post to the proxied site).
// VIPs come first, then the admin listener, then the sidecars' listeners,
// so that a conflict is reported on the line of the address that joins
// last.
func (v *validator) listeners(c *Config) {
	var all []listener
	add := func(addr, owner, path string) {
		l, err := parseListen(addr)
		if err != nil {
			v.errorf(path, "%s: listen %q: %v", owner, addr, err)
			return
		}
		l.owner, l.path = owner, path
		for _, o := range all {
			if !l.overlaps(o) {
				continue
			}
			switch {
			case l.host == o.host && l.owner == o.owner:
				v.errorf(path, "%s: listen %q appears twice", owner, addr)
			case owner == "admin":
				v.errorf(path, "admin: listen %q %s: the status page and `quill reload` would reach the proxied site; give the admin listener an address of its own", addr, l.relation(o))
			case l.host == o.host:
				v.errorf(path, "%s: listen %q is already used by %s", owner, addr, o.owner)
			default:
				v.errorf(path, "%s: listen %q overlaps listen %q of %s: a wildcard address takes its port on every address of the host", owner, addr, o.addr, o.owner)
			}
			return
		}
		all = append(all, l)
	}
	for _, name := range sortedKeys(c.VIPs) {
		for _, a := range c.VIPs[name].Listen {
			add(a, fmt.Sprintf("vip %q", name), "vips."+name+".listen")
		}
	}
	if c.Admin != nil {
		add(c.Admin.Listen, "admin", "admin.listen")
	}
	for i, in := range c.VRRP.Instances {
		if in.Listen != "" {
			add(in.Listen, fmt.Sprintf("vrrp instance %q", in.Name), fmt.Sprintf("vrrp.instances.%d.listen", i))
		}
	}
}

// relation says how l meets o, which it overlaps.
func (l listener) relation(o listener) string {
	if l.host == o.host {
		return "is the address of " + o.owner
	}
	return fmt.Sprintf("overlaps listen %q of %s", o.addr, o.owner)
}

// overlaps reports whether two addresses would be one socket or compete
// for one: the same port, and the same host or a wildcard on either side.
// A wildcard of either family counts, as it does where quill binds:
// "[::]" and ":P" listen on IPv4 too.
func (l listener) overlaps(o listener) bool {
	if l.port != o.port {
		return false
	}
	return l.host == o.host || wildcard(l.host) || wildcard(o.host)
}

func wildcard(host string) bool {
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// parseListen checks a host:port to listen on.
func parseListen(addr string) (listener, error) {
	canon, err := hostPort(addr)
	if err != nil {
		return listener{}, err
	}
	host, port, _ := net.SplitHostPort(canon)
	n, _ := strconv.Atoi(port)
	return listener{addr: addr, host: strings.ToLower(host), port: n}, nil
}
