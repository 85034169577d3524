// Package config is quill.toml as Go types: the schema, its defaults, and a
// validation that names the file and line of every problem it finds.
//
// The doc comment of each field is the user documentation of its key.
package config

// Config is one quill.toml.
type Config struct {
	Global    Global           `toml:"global"`
	Admin     *Admin           `toml:"admin"`
	Log       Log              `toml:"log"`
	AccessLog *AccessLog       `toml:"access_log"`
	VIPs      map[string]*VIP  `toml:"vips"`
	Pools     map[string]*Pool `toml:"pools"`
	VRRP      VRRP             `toml:"vrrp"`

	// File is the path the config was read from, for messages.
	File string `toml:"-"`
	// Hash is a short SHA-256 of the file's bytes, to tell configs apart.
	Hash string `toml:"-"`
	// Warnings are findings that do not refuse the file (an expired certificate).
	Warnings []string `toml:"-"`

	pos positions
}

// Global holds process-wide settings.
type Global struct {
	// MaxConnections caps client connections held at once (pen -x); beyond
	// it, accept waits. Default 10000.
	MaxConnections int `toml:"max_connections"`
	// ShutdownTimeout bounds how long a graceful stop waits for in-flight
	// requests. Default 30s.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// PidFile is written at start and removed at exit (pen -p).
	PidFile string `toml:"pid_file"`
	// Secret derives the sticky-cookie key of every pool that has no secret
	// of its own. Both hosts of an HA pair must share it.
	Secret string `toml:"secret"`
	// ReadHeaderTimeout bounds the time a client may take to send a request
	// head (slowloris). Default 10s.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive client connection idle this long.
	// Default 60s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// MaxHeaderBytes bounds a request head. Default 65536; larger heads get 431.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// Watch reloads the configuration when its file changes on disk.
	Watch bool `toml:"watch"`
}

// Admin is the listener for metrics, the status page and the runtime API.
type Admin struct {
	// Listen is the admin address. Default 127.0.0.1:9090.
	Listen string `toml:"listen"`
	// Token, when set, must be sent as "Authorization: Bearer TOKEN" to the API.
	Token string `toml:"token"`
}

// Log configures the process's own log.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `toml:"level"`
	// Format is console (default) or json.
	Format string `toml:"format"`
}

// AccessLog configures a request log.
type AccessLog struct {
	// Path is the log file; "-" is stdout. Every VIP without its own
	// access_log table writes here.
	Path string `toml:"path"`
	// Format is common (CLF, default) or combined.
	Format string `toml:"format"`
	// Syslog ships lines to "udp://host:port" or "unix:///dev/log", beside
	// or instead of Path.
	Syslog string `toml:"syslog"`
	// Window holds lines this long so they are written in time order. Default 1s.
	Window Duration `toml:"window"`
	// Buffer is how many lines may wait for the writer. Default 65536.
	Buffer int `toml:"buffer"`
	// OnFull is block (default: lose nothing) or drop (count the loss).
	OnFull string `toml:"on_full"`
}

// VIP is one virtual address (several listen addresses may serve it).
type VIP struct {
	// Listen is the list of host:port addresses served.
	Listen []string `toml:"listen"`
	// RedirectHTTPS answers every request with a 308 to the https URL.
	RedirectHTTPS bool `toml:"redirect_https"`
	// HSTS is the Strict-Transport-Security value sent on a TLS VIP.
	HSTS string `toml:"hsts"`
	// TLS turns the VIP into HTTPS.
	TLS *TLS `toml:"tls"`
	// Routes are matched by host, then by the longest path prefix.
	Routes []Route `toml:"routes"`
	// AccessLog sends this VIP's requests to a file of its own.
	AccessLog *AccessLog `toml:"access_log"`
}

// TLS is the certificate set and policy of a TLS VIP.
type TLS struct {
	// Certificates are PEM files; several are chosen by SNI (pen -E/-K).
	Certificates []Certificate `toml:"certificates"`
	// ACME obtains and renews certificates.
	ACME *ACME `toml:"acme"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `toml:"min_version"`
}

// Certificate is a PEM certificate chain and its key.
type Certificate struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// ACME obtains certificates from an ACME CA.
type ACME struct {
	Email   string   `toml:"email"`
	Domains []string `toml:"domains"`
	// CA is the directory URL. Default: Let's Encrypt.
	CA string `toml:"ca"`
	// Storage is the directory holding accounts, keys and certificates.
	Storage string `toml:"storage"`
	// RootCA is a PEM file of roots trusted for the CA's own endpoint.
	RootCA string `toml:"root_ca"`
}

// Route sends matching requests to a pool.
type Route struct {
	// Host is an exact name or "*.suffix"; empty matches any host.
	Host string `toml:"host"`
	// Path is a path prefix; empty is "/".
	Path string `toml:"path"`
	// Pool is the pool that serves the route.
	Pool string `toml:"pool"`
}

// Pool is a set of backend servers and how to use them.
type Pool struct {
	// Balance is roundrobin (default, pen -r), weighted (pen -W),
	// leastconn, or hash (client IP, pen -h).
	Balance string `toml:"balance"`
	// ConnectTimeout bounds a backend connect (pen -t). Default 5s.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// Timeout bounds the wait for a backend's response head; past it the
	// client gets 504. Default 60s.
	Timeout Duration `toml:"timeout"`
	// FailTimeout is how long a server that refused or timed out a
	// connection stays down before it is tried again. Default 10s.
	FailTimeout Duration `toml:"fail_timeout"`
	// Stubborn never fails over to another server (pen -s).
	Stubborn bool `toml:"stubborn"`
	// ForwardedFor is append (default), replace or off (pen -H).
	ForwardedFor string `toml:"forwarded_for"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `toml:"trusted_proxies"`
	// Sticky keeps a client on one server.
	Sticky *Sticky `toml:"sticky"`
	// Servers are the backends.
	Servers []Server `toml:"servers"`
	// Health is the active health check; absent means passive checks only.
	Health *Health `toml:"health"`
}

// Sticky keeps a client on one server of the pool.
type Sticky struct {
	// Mode is cookie, ip or none (default).
	Mode string `toml:"mode"`
	// Cookie is the cookie name in cookie mode. Default QUILL.
	Cookie string `toml:"cookie"`
	// Secret is the HMAC key of the cookie token; default derived from
	// global.secret. Both HA hosts must share it.
	Secret string `toml:"secret"`
	// SameSite is Lax (default), Strict or None.
	SameSite string `toml:"samesite"`
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
	Type string `toml:"type"`
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
	Protocol string `toml:"protocol"`
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
	// STATE is MASTER, BACKUP, FAULT, or STOP when quill vrrp exits.
	Notify string `toml:"notify"`
	// Listen serves /metrics (Prometheus) and /status (JSON) on host:port.
	Listen string `toml:"listen"`
}
