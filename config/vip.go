package config

// VIP is one virtual address (several listen addresses may serve it).
type VIP struct {
	// Listen is the list of host:port addresses served. No two addresses
	// of the file (VIPs and admin) may overlap: the same address twice,
	// or a wildcard (0.0.0.0:P, [::]:P, :P) beside any address of port P.
	Listen []string `toml:"listen"`
	// RedirectHTTPS answers every request with a 308 to the https URL.
	RedirectHTTPS bool `toml:"redirect_https"`
	// HSTS is the Strict-Transport-Security value sent on a TLS VIP.
	HSTS string `toml:"hsts"`
	// ForwardNormalized sends the backend the normalized path (and the
	// query as sent) instead of the target as the client sent it. Routing
	// always decides on the normalized path.
	ForwardNormalized bool `toml:"forward_normalized"`
	// ProxyProtocol expects a PROXY protocol header (v1 or v2) on every
	// connection, from one of ProxyProtocolFrom; its client address
	// replaces the connection's.
	ProxyProtocol bool `toml:"proxy_protocol"`
	// ProxyProtocolFrom are the CIDRs or addresses of the L4 balancers
	// allowed to send the header; any other peer is refused.
	ProxyProtocolFrom []string `toml:"proxy_protocol_from"`
	// TLS turns the VIP into HTTPS.
	TLS *TLS `toml:"tls"`
	// Routes are matched by host, then by the longest path prefix.
	Routes []Route `toml:"routes"`
	// AccessLog sends this VIP's requests to a file of its own.
	AccessLog *AccessLog `toml:"access_log"`
}

// SetDefaults fills in the keys of a [vips.NAME] table the file left out.
func (v *VIP) SetDefaults() {
	if v.TLS != nil {
		v.TLS.SetDefaults()
	}
	for i := range v.Routes {
		v.Routes[i].SetDefaults()
	}
	if v.AccessLog != nil {
		v.AccessLog.SetDefaults()
	}
}

// TLS is the certificate set and policy of a TLS VIP.
type TLS struct {
	// Certificates are PEM files; several are chosen by SNI (pen -E/-K).
	Certificates []Certificate `toml:"certificates"`
	// ACME obtains and renews certificates.
	ACME *ACME `toml:"acme"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion TLSVersion `toml:"min_version"`
}

// SetDefaults fills in the keys of a tls table the file left out.
func (t *TLS) SetDefaults() {
	if t.MinVersion == "" {
		t.MinVersion = TLS12
	}
}

// Certificate is a PEM certificate chain and its key. Relative paths are
// in the config file's directory.
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
	// Storage is the directory holding accounts, keys and certificates
	// (relative: in the config file's directory). Default: certmagic's,
	// under the user's home.
	Storage string `toml:"storage"`
	// RootCA is a PEM file of roots trusted for the CA's own endpoint.
	RootCA string `toml:"root_ca"`
}

// Route sends matching requests to a pool.
type Route struct {
	// Host is an exact name or "*.suffix"; empty matches any host.
	Host string `toml:"host"`
	// Path is a path prefix. Default "/".
	Path string `toml:"path"`
	// Pool is the pool that serves the route.
	Pool string `toml:"pool"`
}

// SetDefaults fills in the keys of a route the file left out.
func (r *Route) SetDefaults() {
	if r.Path == "" {
		r.Path = "/"
	}
}
