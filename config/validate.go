package config

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"quill/urlpath"
)

// validator collects every problem of a file with its line.
type validator struct {
	file string
	pos  positions
	errs []error
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.pos.line(path), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) duration(path string, d Duration) {
	if err := d.err(); err != nil {
		v.errorf(path, "%s: %v", lastPart(path), err)
	}
}

// timeout is duration for a key where zero means nothing quill can do:
// HAProxy reads 0 as "wait for ever" and nginx refuses it, so an explicit
// zero is an error rather than the default taken in silence.
func (v *validator) timeout(path string, d Duration) {
	v.duration(path, d)
	if d.set && d.bad == "" && d.Duration == 0 {
		v.errorf(path, "%s: must be more than 0 (leave the key out for the default)", lastPart(path))
	}
}

// choice reports a value that is not one of its type's choices.
func (v *validator) choice(path, prefix string, err error) {
	if err != nil {
		v.errorf(path, "%s%s %v", prefix, lastPart(path), err)
	}
}

func lastPart(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// sortedKeys gives map keys in order, so errors come out in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// explicitZeros catches "weight = 0", which defaults would otherwise hide.
func (v *validator) explicitZeros(c *Config) {
	for _, name := range sortedKeys(c.Pools) {
		for i, s := range c.Pools[name].Servers {
			path := fmt.Sprintf("pools.%s.servers.%d.weight", name, i)
			if _, set := v.pos[path]; set && s.Weight <= 0 {
				v.errorf(path, "pool %q: server %q: weight must be > 0", name, s.Address)
			}
		}
	}
}

func (v *validator) config(c *Config) {
	v.global(c)
	v.choice("log.level", "log: ", c.Log.Level.err())
	v.choice("log.format", "log: ", c.Log.Format.err())
	v.accessLog("access_log", c.AccessLog)
	for _, name := range sortedKeys(c.VIPs) {
		if !validName(name) {
			v.errorf("vips."+name, "vip name %q: use letters, digits, '-', '_' and '.'", name)
		}
	}
	for _, name := range sortedKeys(c.Pools) {
		if !validName(name) {
			v.errorf("pools."+name, "pool name %q: use letters, digits, '-', '_' and '.'", name)
		}
	}
	for _, name := range sortedKeys(c.VIPs) {
		v.vip(c, name)
	}
	for _, name := range sortedKeys(c.Pools) {
		v.pool(c, name)
	}
	v.vrrp(c)
	v.listeners(c)
}

func (v *validator) global(c *Config) {
	g := c.Global
	if g.MaxConnections < 0 {
		v.errorf("global.max_connections", "global: max_connections must be >= 0")
	}
	if g.MaxHeaderBytes < 1024 {
		v.errorf("global.max_header_bytes", "global: max_header_bytes must be at least 1024")
	}
	if g.MaxHeaderCount < 1 {
		v.errorf("global.max_header_count", "global: max_header_count must be at least 1")
	}
	if g.H2MaxResets < 1 {
		v.errorf("global.h2_max_resets", "global: h2_max_resets must be at least 1")
	}
	v.timeout("global.shutdown_timeout", g.ShutdownTimeout)
	v.timeout("global.read_header_timeout", g.ReadHeaderTimeout)
	v.timeout("global.idle_timeout", g.IdleTimeout)
	v.timeout("global.body_timeout", g.BodyTimeout)
	v.timeout("global.send_timeout", g.SendTimeout)
}

func (v *validator) accessLog(path string, a *AccessLog) {
	if a == nil {
		return
	}
	if a.Path == "" && a.Syslog == "" {
		v.errorf(path, "%s: needs a path or a syslog address", path)
	}
	v.choice(path+".format", path+": ", a.Format.err())
	v.choice(path+".on_full", path+": ", a.OnFull.err())
	if a.Buffer < 0 {
		v.errorf(path+".buffer", "%s: buffer must be > 0", path)
	}
	v.timeout(path+".window", a.Window)
	if a.Syslog != "" {
		u, err := url.Parse(a.Syslog)
		if err != nil || !oneOf(u.Scheme, "udp", "unix", "unixgram") {
			v.errorf(path+".syslog", "%s: syslog %q is not udp://host:port or unix:///path", path, a.Syslog)
		}
	}
}

func (v *validator) vip(c *Config, name string) {
	vip := c.VIPs[name]
	p := "vips." + name
	if len(vip.Listen) == 0 {
		v.errorf(p, "vip %q: listen is empty", name)
	}
	if vip.TLS != nil {
		t := vip.TLS
		if len(t.Certificates) == 0 && t.ACME == nil {
			v.errorf(p+".tls", "vip %q: tls needs certificates or acme", name)
		}
		for i, cf := range t.Certificates {
			if cf.Cert == "" || cf.Key == "" {
				v.errorf(p+".tls.certificates", "vip %q: certificate %d needs both cert and key", name, i+1)
			}
		}
		if a := t.ACME; a != nil && len(a.Domains) == 0 {
			v.errorf(p+".tls.acme", "vip %q: acme needs domains", name)
		}
		v.choice(p+".tls.min_version", fmt.Sprintf("vip %q: ", name), t.MinVersion.err())
		if vip.RedirectHTTPS {
			v.errorf(p+".redirect_https", "vip %q: redirect_https is for plain-HTTP VIPs", name)
		}
	} else if vip.HSTS != "" {
		v.errorf(p+".hsts", "vip %q: hsts is for TLS VIPs", name)
	}
	if len(vip.Routes) == 0 && !vip.RedirectHTTPS {
		v.errorf(p, "vip %q: no routes", name)
	}
	routes := map[string]bool{}
	for i, r := range vip.Routes {
		rp := fmt.Sprintf("%s.routes.%d", p, i)
		if _, ok := c.Pools[r.Pool]; !ok {
			if r.Pool == "" {
				v.errorf(rp, "vip %q: route %d has no pool", name, i+1)
			} else {
				v.errorf(rp+".pool", "vip %q: route %d: pool %q does not exist", name, i+1, r.Pool)
			}
		}
		if strings.Contains(strings.TrimPrefix(r.Host, "*."), "*") || strings.ContainsAny(r.Host, ":/ ") {
			v.errorf(rp+".host", "vip %q: route %d: host %q is not a name or *.suffix", name, i+1, r.Host)
		}
		if !strings.HasPrefix(r.Path, "/") {
			v.errorf(rp+".path", "vip %q: route %d: path %q does not start with /", name, i+1, r.Path)
		} else if norm, query, err := urlpath.Normalize(r.Path); err != nil || query != "" || norm != r.Path {
			// Requests are routed on their normalized path, which could
			// never start with this prefix.
			v.errorf(rp+".path", "vip %q: route %d: path %q is not a normalized path (%s), so no request would match it", name, i+1, r.Path, notNormal(norm, query, err))
		}
		key := strings.ToLower(r.Host) + " " + r.Path
		if routes[key] {
			v.errorf(rp, "vip %q: route %d repeats host %q path %q", name, i+1, r.Host, r.Path)
		}
		routes[key] = true
	}
	v.accessLog(p+".access_log", vip.AccessLog)
	v.proxyProtocol(name, vip)
}

// proxyProtocol refuses a PROXY listener open to every peer: whoever can
// connect could then claim any client address.
func (v *validator) proxyProtocol(name string, vip *VIP) {
	p := "vips." + name
	for _, cidr := range vip.ProxyProtocolFrom {
		if _, err := ParsePrefix(cidr); err != nil {
			v.errorf(p+".proxy_protocol_from", "vip %q: proxy_protocol_from: %v", name, err)
		}
	}
	switch {
	case vip.ProxyProtocol && len(vip.ProxyProtocolFrom) == 0:
		v.errorf(p+".proxy_protocol", "vip %q: proxy_protocol needs proxy_protocol_from, the addresses of the balancers that send it (anyone else could forge client addresses)", name)
	case !vip.ProxyProtocol && len(vip.ProxyProtocolFrom) > 0:
		v.errorf(p+".proxy_protocol_from", "vip %q: proxy_protocol_from without proxy_protocol = true", name)
	}
}

func (v *validator) pool(c *Config, name string) {
	pool := c.Pools[name]
	p := "pools." + name
	prefix := fmt.Sprintf("pool %q: ", name)
	v.choice(p+".balance", prefix, pool.Balance.err())
	v.choice(p+".forwarded_for", prefix, pool.ForwardedFor.err())
	v.timeout(p+".connect_timeout", pool.ConnectTimeout)
	v.timeout(p+".timeout", pool.Timeout)
	v.timeout(p+".fail_timeout", pool.FailTimeout)
	if err := pool.BufferRequest.err(); err != nil {
		v.errorf(p+".buffer_request", "%s%s: %v", prefix, "buffer_request", err)
	} else if pool.BufferRequest.Bytes > 1<<30 {
		v.errorf(p+".buffer_request", "%sbuffer_request must be at most 1GiB", prefix)
	}
	for _, cidr := range pool.TrustedProxies {
		if _, err := ParsePrefix(cidr); err != nil {
			v.errorf(p+".trusted_proxies", "pool %q: trusted_proxies: %v", name, err)
		}
	}
	if len(pool.Servers) == 0 {
		v.errorf(p, "pool %q has no servers", name)
	}
	ids := map[string]bool{}
	for i, s := range pool.Servers {
		sp := fmt.Sprintf("%s.servers.%d", p, i)
		if _, err := hostPort(s.Address); err != nil || strings.HasPrefix(s.Address, ":") {
			if err == nil {
				err = fmt.Errorf("has no host")
			}
			v.errorf(sp+".address", "pool %q: server address %q %v", name, s.Address, err)
		}
		if s.Weight < 0 {
			v.errorf(sp+".weight", "pool %q: server %q: weight must be > 0", name, s.Address)
		}
		if ids[s.ID()] {
			v.errorf(sp, "pool %q: server %q appears twice", name, s.ID())
		}
		ids[s.ID()] = true
	}
	if s := pool.Sticky; s != nil {
		v.sticky(c, name, s)
	}
	if h := pool.Health; h != nil {
		hp := p + ".health"
		if !strings.HasPrefix(h.Path, "/") {
			v.errorf(hp+".path", "pool %q: health path %q does not start with /", name, h.Path)
		}
		v.timeout(hp+".interval", h.Interval)
		v.timeout(hp+".timeout", h.Timeout)
		v.choice(hp+".type", prefix+"health ", h.Type.err())
		if err := h.ExpectStatus.err(); err != nil {
			v.errorf(hp+".expect_status", "pool %q: expect_status %v", name, err)
		}
		if h.ExpectMD5 != "" {
			if b, err := hex.DecodeString(h.ExpectMD5); err != nil || len(b) != md5.Size {
				v.errorf(hp+".expect_md5", "pool %q: expect_md5 %q is not an MD5 digest in hex", name, h.ExpectMD5)
			}
		}
		if h.Rise < 1 || h.Fall < 1 {
			v.errorf(hp, "pool %q: health rise and fall must be >= 1", name)
		}
	}
}

func (v *validator) sticky(c *Config, name string, s *Sticky) {
	p := "pools." + name + ".sticky"
	prefix := fmt.Sprintf("pool %q: ", name)
	v.choice(p+".mode", prefix+"sticky ", s.Mode.err())
	v.choice(p+".samesite", prefix, s.SameSite.err())
	if b := c.Pools[name].Balance; s.Mode == StickyIP && b != Hash && b.err() == nil {
		// SetDefaults made an absent balance "hash": this one was written.
		v.errorf("pools."+name+".balance", "pool %q: balance %q cannot go with sticky mode \"ip\": ip stickiness places a new client by rendezvous hashing of its address, so that both hosts of an HA pair agree without sharing their tables; remove balance or set it to \"hash\"", name, b)
	}
	if !validCookieName(s.Cookie) {
		v.errorf(p+".cookie", "pool %q: cookie name %q is not a valid cookie name", name, s.Cookie)
	}
	if s.MaxClients < 0 {
		v.errorf(p+".max_clients", "pool %q: max_clients must be > 0", name)
	}
	if s.IPv6Prefix < 1 || s.IPv6Prefix > 128 {
		v.errorf(p+".ipv6_prefix", "pool %q: ipv6_prefix must be 1..128", name)
	}
	v.duration(p+".ttl", s.TTL)
	if s.Mode == StickyCookie && s.Secret == "" && c.Global.Secret == "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: pool %q: no sticky secret and no global.secret: a random key is used, so cookies do not survive a restart or a failover to the other host",
			v.file, v.pos.line(p), name))
	}
}

// validName keeps VIP and pool names usable in metrics labels, API paths
// and sticky tokens (which join fields with NUL).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

func (v *validator) vrrp(c *Config) {
	names := map[string]bool{}
	vrids := map[string]string{} // interface, family and VRID -> instance
	for i := range c.VRRP.Instances {
		in := &c.VRRP.Instances[i]
		p := fmt.Sprintf("vrrp.instances.%d", i)
		label := in.Name
		if label == "" {
			v.errorf(p, "vrrp instance %d has no name", i+1)
			label = strconv.Itoa(i + 1)
		} else if names[in.Name] {
			v.errorf(p+".name", "vrrp instance %q appears twice", in.Name)
		}
		names[in.Name] = true
		if in.Interface == "" {
			v.errorf(p, "vrrp instance %q: interface is empty", label)
		}
		if in.VRID < 1 || in.VRID > 255 {
			v.errorf(p+".vrid", "vrrp instance %q: vrid %d is not 1..255", label, in.VRID)
		}
		if in.Priority < 1 || in.Priority > 255 {
			v.errorf(p+".priority", "vrrp instance %q: priority %d is not 1..255", label, in.Priority)
		}
		v.choice(p+".protocol", fmt.Sprintf("vrrp instance %q: ", label), in.Protocol.err())
		if in.Version != 2 && in.Version != 3 {
			v.errorf(p+".version", "vrrp instance %q: version %d is not 2 or 3", label, in.Version)
		}
		v.timeout(p+".advert_interval", in.AdvertInterval)
		adv := in.AdvertInterval.Duration
		switch {
		case in.Protocol == ProtocolCARP || in.Version == 2:
			if adv < time.Second || adv%time.Second != 0 || adv > 255*time.Second {
				v.errorf(p+".advert_interval", "vrrp instance %q: advert_interval %s must be whole seconds from 1s to 255s for VRRPv2 and CARP", label, adv)
			}
		default:
			if adv < 10*time.Millisecond || adv%(10*time.Millisecond) != 0 || adv > 40950*time.Millisecond {
				v.errorf(p+".advert_interval", "vrrp instance %q: advert_interval %s must be a multiple of 10ms from 10ms to 40.95s", label, adv)
			}
		}
		switch {
		case in.Protocol == ProtocolCARP:
			if in.Password == "" || len(in.Password) > 19 {
				v.errorf(p+".password", "vrrp instance %q: CARP needs a password of 1 to 19 characters (ucarp -p)", label)
			}
		case in.Version == 2 && len(in.Password) > 8:
			v.errorf(p+".password", "vrrp instance %q: a VRRPv2 password has at most 8 characters", label)
		case in.Version == 3 && in.Password != "":
			v.errorf(p+".password", "vrrp instance %q: VRRPv3 has no authentication; remove password", label)
		}
		if len(in.Addresses) == 0 {
			v.errorf(p, "vrrp instance %q: addresses is empty", label)
		}
		var v4, v6 int
		for _, a := range in.Addresses {
			pfx, err := ParsePrefix(a)
			if err != nil {
				v.errorf(p+".addresses", "vrrp instance %q: %v", label, err)
				continue
			}
			if pfx.Addr().Is4() {
				v4++
			} else {
				v6++
			}
		}
		if in.VRID >= 1 && in.VRID <= 255 && in.Interface != "" {
			key := fmt.Sprintf("%s/%d/%v", in.Interface, in.VRID, v6 > 0)
			if other, ok := vrids[key]; ok {
				v.errorf(p+".vrid", "vrrp instance %q: vrid %d on %s is already used by instance %q", label, in.VRID, in.Interface, other)
			}
			vrids[key] = label
		}
		switch {
		case v4 > 0 && v6 > 0:
			v.errorf(p+".addresses", "vrrp instance %q: addresses mix IPv4 and IPv6; VRRP runs one family per virtual router, so use two instances", label)
		case v6 > 0 && (in.Protocol == ProtocolCARP || in.Version == 2):
			v.errorf(p+".addresses", "vrrp instance %q: IPv6 addresses need VRRPv3", label)
		case in.Protocol == ProtocolCARP && len(in.Addresses) != 1:
			v.errorf(p+".addresses", "vrrp instance %q: CARP (as ucarp speaks it) carries exactly one address", label)
		}
		v.vrrpUnicast(p, label, in)
		if in.TrackURL != "" {
			if u, err := url.Parse(in.TrackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				v.errorf(p+".track_url", "vrrp instance %q: track_url %q is not an http URL", label, in.TrackURL)
			}
		}
		if in.TrackWeight < 0 || in.TrackWeight > 254 {
			v.errorf(p+".track_weight", "vrrp instance %q: track_weight must be 0..254", label)
		}
		if in.TrackInterfaceWeight < 0 || in.TrackInterfaceWeight > 254 {
			v.errorf(p+".track_interface_weight", "vrrp instance %q: track_interface_weight must be 0..254", label)
		}
		for _, name := range in.TrackInterfaces {
			if name == "" || strings.ContainsAny(name, " /") || len(name) > 15 {
				v.errorf(p+".track_interfaces", "vrrp instance %q: track_interfaces: %q is not an interface name", label, name)
			}
		}
		v.timeout(p+".debounce", in.Debounce)
		if strings.TrimSpace(in.Notify) == "" && in.Notify != "" {
			v.errorf(p+".notify", "vrrp instance %q: notify is blank", label)
		}
	}
}

// hostPort checks a host:port and returns a canonical form for comparing
// listen addresses.
func hostPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("has no port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not 1..65535", port)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	} else if strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("host %q is not an address or a name", host)
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(n)), nil
}

// ParsePrefix reads a CIDR, or an address as a one-address prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// notNormal says why a route path is not a normalized path.
func notNormal(norm, query string, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case query != "":
		return "it holds a query"
	}
	return fmt.Sprintf("its normal form is %q", norm)
}
