package config

import (
	"net/netip"
	"slices"
	"time"
)

// VRRP holds the instances run by `quill vrrp`.
type VRRP struct {
	Instances []VRRPInstance `toml:"instances"`
}

// VRRPInstance is one virtual router, run by `quill vrrp`.
type VRRPInstance struct {
	// Name names the instance in logs, metrics and notify calls.
	Name string `toml:"name"`
	// Interface carries the adverts and the virtual addresses.
	Interface string `toml:"interface"`
	// VRID is the virtual router ID (CARP: the vhid), 1..255, unique on the segment.
	VRID int `toml:"vrid"`
	// Priority is 1..255 (default 100); the higher wins, 255 owns the
	// addresses. CARP advertises it as advskew = 255 - priority.
	Priority int `toml:"priority"`
	// AdvertInterval is the advert period (default 1s): 10ms steps for
	// VRRPv3, whole seconds for VRRPv2 and CARP.
	AdvertInterval Duration `toml:"advert_interval"`
	// Version is 3 (default, RFC 5798) or 2 (RFC 3768) for protocol "vrrp".
	Version int `toml:"version"`
	// Protocol is "vrrp" (default) or "carp" (ucarp's format).
	Protocol VRRPProtocol `toml:"protocol"`
	// Addresses are the virtual addresses (CIDRs), all IPv4 or all IPv6.
	Addresses []string `toml:"addresses"`
	// Preempt lets this router take over from a master of lower priority (default true).
	Preempt *bool `toml:"preempt"`
	// Password is VRRPv2's simple-text authentication (at most 8
	// characters, keepalived's auth_type PASS) or CARP's HMAC key (required,
	// at most 19 characters). VRRPv3 has none.
	Password string `toml:"password"`
	// TrackURL is polled every advert interval (at most 10 times a second);
	// two failures in a row (no 2xx answer) take TrackWeight off the priority.
	TrackURL string `toml:"track_url"`
	// TrackWeight is what a failing TrackURL takes off the priority (default 100).
	TrackWeight int `toml:"track_weight"`
	// TrackInterfaces are links this router needs: one that is down puts
	// it in FAULT, or, with TrackInterfaceWeight, lowers its priority.
	TrackInterfaces []string `toml:"track_interfaces"`
	// TrackInterfaceWeight is what each tracked interface that is down
	// takes off the priority; 0 (default) means FAULT instead.
	TrackInterfaceWeight int `toml:"track_interface_weight"`
	// Debounce is how long a failed check or link must stay good before
	// the priority is restored or FAULT is left (default 10 advert
	// intervals, at least 1s). Failures act at once.
	Debounce Duration `toml:"debounce"`
	// Notify is a command run on every change of state with the
	// arguments INSTANCE NAME STATE PRIORITY (keepalived's convention);
	// STATE is MASTER, BACKUP, FAULT, or STOP when quill vrrp exits. A
	// program named with a relative path ("scripts/notify.sh") is in the
	// config file's directory; a bare name is looked up in PATH.
	Notify string `toml:"notify"`
	// Listen serves /metrics (Prometheus) and /status (JSON) on host:port.
	Listen string `toml:"listen"`
	// UnicastPeers, when set, sends adverts to each of these addresses
	// instead of the multicast group, and accepts adverts only from them
	// (keepalived's unicast_peer), for networks that drop multicast.
	UnicastPeers []string `toml:"unicast_peers"`
	// UnicastSource is the source address of unicast adverts (keepalived's
	// unicast_src_ip); it must be on the interface. Default: the
	// interface's primary address of the family (IPv6: its first global
	// address, else its link-local one).
	UnicastSource string `toml:"unicast_source"`
}

// SetDefaults fills in the keys of a [[vrrp.instances]] table the file
// left out.
func (in *VRRPInstance) SetDefaults() {
	if in.Version == 0 {
		in.Version = 3
	}
	if in.Protocol == "" {
		in.Protocol = ProtocolVRRP
	}
	if in.Priority == 0 {
		in.Priority = 100
	}
	in.AdvertInterval.Duration = in.AdvertInterval.Or(time.Second)
	if in.Preempt == nil {
		t := true
		in.Preempt = &t
	}
	if in.TrackURL != "" && in.TrackWeight == 0 {
		in.TrackWeight = 100
	}
	in.Debounce.Duration = in.Debounce.Or(max(time.Second, 10*in.AdvertInterval.Duration))
}

// vrrpUnicast checks unicast_peers and unicast_source against the
// instance's own addresses. Whether unicast_source is on the interface,
// and whether a peer is one of this host's addresses, can only be told on
// the host: `quill vrrp` checks that when it starts.
func (v *validator) vrrpUnicast(p, label string, in *VRRPInstance) {
	if len(in.UnicastPeers) == 0 {
		if in.UnicastSource != "" {
			v.errorf(p+".unicast_source", "vrrp instance %q: unicast_source needs unicast_peers (adverts go to the multicast group without them)", label)
		}
		return
	}
	if in.Protocol == ProtocolCARP {
		v.errorf(p+".unicast_peers", "vrrp instance %q: CARP (as ucarp speaks it) has no unicast mode; remove unicast_peers", label)
		return
	}
	// The instance's family and own addresses; a mixed or bad list is
	// reported where addresses are checked.
	var own []netip.Addr
	families := map[bool]bool{}
	for _, a := range in.Addresses {
		if pfx, err := ParsePrefix(a); err == nil {
			own = append(own, pfx.Addr())
			families[pfx.Addr().Is6()] = true
		}
	}
	family := func(ip netip.Addr) string {
		if ip.Is6() {
			return "IPv6"
		}
		return "IPv4"
	}
	check := func(key, what, s string) (netip.Addr, bool) {
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			v.errorf(p+"."+key, "vrrp instance %q: %s %q is not an IP address", label, what, s)
			return netip.Addr{}, false
		}
		ip = ip.Unmap()
		switch {
		case !ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast():
			v.errorf(p+"."+key, "vrrp instance %q: %s %s is not a unicast address", label, what, ip)
		case len(families) == 1 && !families[ip.Is6()]:
			v.errorf(p+"."+key, "vrrp instance %q: %s %s is %s, and the virtual addresses are not: adverts of one virtual router use one family", label, what, ip, family(ip))
		case slices.Contains(own, ip):
			v.errorf(p+"."+key, "vrrp instance %q: %s %s is one of the instance's own virtual addresses", label, what, ip)
		default:
			return ip, true
		}
		return netip.Addr{}, false
	}
	var source netip.Addr
	if in.UnicastSource != "" {
		source, _ = check("unicast_source", "unicast_source", in.UnicastSource)
	}
	seen := map[netip.Addr]bool{}
	for _, s := range in.UnicastPeers {
		ip, ok := check("unicast_peers", "unicast peer", s)
		switch {
		case !ok:
		case ip == source:
			v.errorf(p+".unicast_peers", "vrrp instance %q: unicast peer %s is this router's own unicast_source", label, ip)
		case seen[ip]:
			v.errorf(p+".unicast_peers", "vrrp instance %q: unicast peer %s appears twice", label, ip)
		}
		seen[ip] = true
	}
}
