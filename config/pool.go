package config

import "time"

// Pool is a set of backend servers and how to use them.
type Pool struct {
	// Balance places a client the pool has no server for yet: roundrobin
	// (pen -r), weighted (pen -W), leastconn, or hash (client IP, pen -h).
	// Default roundrobin; with sticky mode "ip" the default, and the only
	// choice, is hash.
	Balance Balance `toml:"balance"`
	// ConnectTimeout bounds a backend connect (pen -t). Default 5s.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// Timeout bounds the wait for a backend's response head, past which
	// the client gets 504, and then each wait for more of its response
	// body, past which the client's connection is closed short of the
	// answer's length. Default 60s.
	Timeout Duration `toml:"timeout"`
	// BufferRequest is how much of a request body is read before a server
	// is chosen (HAProxy's http-buffer-request): a body up to this size is
	// read whole first, so that a slow client never holds a server, and
	// can be sent again on a retry; of a larger body this much is read
	// first and the rest streamed. "0" turns it off. Default 64KiB.
	BufferRequest Size `toml:"buffer_request"`
	// FailTimeout is how long a server that refused or timed out a
	// connection stays down before it is tried again. Default 10s.
	FailTimeout Duration `toml:"fail_timeout"`
	// Stubborn never fails over to another server (pen -s).
	Stubborn bool `toml:"stubborn"`
	// ForwardedFor is append (default), replace or off (pen -H).
	ForwardedFor ForwardedFor `toml:"forwarded_for"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `toml:"trusted_proxies"`
	// Sticky keeps a client on one server.
	Sticky *Sticky `toml:"sticky"`
	// Servers are the backends.
	Servers []Server `toml:"servers"`
	// Health is the active health check; absent means passive checks only.
	Health *Health `toml:"health"`
}

// SetDefaults fills in the keys of a [pools.NAME] table the file left out.
func (p *Pool) SetDefaults() {
	if p.Sticky != nil {
		p.Sticky.SetDefaults()
	}
	if p.Balance == "" {
		p.Balance = RoundRobin
		if p.Sticky != nil && p.Sticky.Mode == StickyIP {
			p.Balance = Hash
		}
	}
	p.ConnectTimeout.Duration = p.ConnectTimeout.Or(5 * time.Second)
	p.Timeout.Duration = p.Timeout.Or(60 * time.Second)
	p.FailTimeout.Duration = p.FailTimeout.Or(10 * time.Second)
	p.BufferRequest = p.BufferRequest.Or(64 << 10)
	if p.ForwardedFor == "" {
		p.ForwardedFor = Append
	}
	for i := range p.Servers {
		p.Servers[i].SetDefaults()
	}
	if p.Health != nil {
		p.Health.SetDefaults()
	}
}

// Sticky keeps a client on one server of the pool.
type Sticky struct {
	// Mode is cookie, ip or none (default). ip places a new client by
	// rendezvous hashing of its address (balance "hash"), so that both
	// hosts of an HA pair agree without sharing their tables.
	Mode StickyMode `toml:"mode"`
	// Cookie is the cookie name in cookie mode. Default QUILL.
	Cookie string `toml:"cookie"`
	// Secret is the HMAC key of the cookie token; default derived from
	// global.secret. Both HA hosts must share it.
	Secret string `toml:"secret"`
	// SameSite is Lax (default), Strict or None.
	SameSite SameSite `toml:"samesite"`
	// Domain is the cookie's Domain attribute; empty omits it.
	Domain string `toml:"domain"`
	// PassCookie forwards the cookie to the backend instead of removing it.
	PassCookie bool `toml:"pass_cookie"`
	// TTL forgets an idle client (pen -T); the cookie's Max-Age. Zero keeps
	// ip entries until evicted and makes the cookie a session cookie.
	TTL Duration `toml:"ttl"`
	// MaxClients bounds the ip table (pen -c). Default 20000.
	MaxClients int `toml:"max_clients"`
	// IPv6Prefix is how many leading bits key an IPv6 client. Default 64.
	IPv6Prefix int `toml:"ipv6_prefix"`
}

// SetDefaults fills in the keys of a sticky table the file left out.
func (s *Sticky) SetDefaults() {
	if s.Mode == "" {
		s.Mode = StickyNone
	}
	if s.Cookie == "" {
		s.Cookie = "QUILL"
	}
	if s.SameSite == "" {
		s.SameSite = SameSiteLax
	}
	if s.MaxClients == 0 {
		s.MaxClients = 20000
	}
	if s.IPv6Prefix == 0 {
		s.IPv6Prefix = 64
	}
}

// Server is one backend.
type Server struct {
	// Address is host:port.
	Address string `toml:"address"`
	// Name is the server's stable identity, named by sticky cookies.
	// Default: the address.
	Name string `toml:"name"`
	// Weight is the share in weighted balancing. Default 1.
	Weight int `toml:"weight"`
	// Backup servers take traffic only when every other server is down (pen -e).
	Backup bool `toml:"backup"`
}

// SetDefaults fills in the keys of a server the file left out.
func (s *Server) SetDefaults() {
	if s.Weight == 0 {
		s.Weight = 1
	}
}

// ID is the server's stable identity.
func (s Server) ID() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Address
}

// Health is an active health check.
type Health struct {
	// Type is http (default: a GET) or tcp (a connect).
	Type HealthType `toml:"type"`
	// Path is requested with GET. Default "/".
	Path string `toml:"path"`
	// Host is the Host header of the check; default the server's address.
	Host string `toml:"host"`
	// Interval between checks. Default 2s.
	Interval Duration `toml:"interval"`
	// Timeout of one check. Default 1s.
	Timeout Duration `toml:"timeout"`
	// ExpectStatus is the status that means healthy: 200 (default), "2xx"
	// or "200-399".
	ExpectStatus StatusRange `toml:"expect_status"`
	// ExpectBody, when set, must appear in the first 64 KiB of the body.
	ExpectBody string `toml:"expect_body"`
	// ExpectMD5 is the MD5 digest of the whole body in hex, as
	// keepalived's HTTP_GET digest.
	ExpectMD5 string `toml:"expect_md5"`
	// Rise is how many good checks bring a server up. Default 2.
	Rise int `toml:"rise"`
	// Fall is how many failed checks take a server down. Default 3.
	Fall int `toml:"fall"`
}

// SetDefaults fills in the keys of a health table the file left out.
func (h *Health) SetDefaults() {
	if h.Type == "" {
		h.Type = HealthHTTP
	}
	if h.Path == "" {
		h.Path = "/"
	}
	h.Interval.Duration = h.Interval.Or(2 * time.Second)
	h.Timeout.Duration = h.Timeout.Or(time.Second)
	if h.ExpectStatus == (StatusRange{}) {
		h.ExpectStatus = StatusRange{Min: 200, Max: 200}
	}
	if h.Rise == 0 {
		h.Rise = 2
	}
	if h.Fall == 0 {
		h.Fall = 3
	}
}
