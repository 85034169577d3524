package config

import "time"

// Defaults of the keys a file may leave out.
const (
	DefaultMaxConnections    = 10000
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultAdminListen       = "127.0.0.1:9090"
	DefaultConnectTimeout    = 5 * time.Second
	DefaultTimeout           = 60 * time.Second
	DefaultFailTimeout       = 10 * time.Second
	DefaultCookie            = "QUILL"
	DefaultMaxClients        = 20000
	DefaultIPv6Prefix        = 64
	DefaultAdvertInterval    = time.Second
)

func (c *Config) setDefaults() {
	g := &c.Global
	if g.MaxConnections == 0 {
		g.MaxConnections = DefaultMaxConnections
	}
	g.ShutdownTimeout.Duration = g.ShutdownTimeout.Or(DefaultShutdownTimeout)
	g.ReadHeaderTimeout.Duration = g.ReadHeaderTimeout.Or(DefaultReadHeaderTimeout)
	g.IdleTimeout.Duration = g.IdleTimeout.Or(DefaultIdleTimeout)
	if g.MaxHeaderBytes == 0 {
		g.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Admin != nil && c.Admin.Listen == "" {
		c.Admin.Listen = DefaultAdminListen
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "console"
	}
	c.AccessLog.setDefaults()
	for _, v := range c.VIPs {
		v.AccessLog.setDefaults()
		if v.TLS != nil && v.TLS.MinVersion == "" {
			v.TLS.MinVersion = "1.2"
		}
		for i := range v.Routes {
			if v.Routes[i].Path == "" {
				v.Routes[i].Path = "/"
			}
		}
	}
	for _, p := range c.Pools {
		p.setDefaults()
	}
	for i := range c.VRRP.Instances {
		in := &c.VRRP.Instances[i]
		if in.Version == 0 {
			in.Version = 3
		}
		if in.Protocol == "" {
			in.Protocol = "vrrp"
		}
		if in.Priority == 0 {
			in.Priority = 100
		}
		in.AdvertInterval.Duration = in.AdvertInterval.Or(DefaultAdvertInterval)
		if in.Preempt == nil {
			t := true
			in.Preempt = &t
		}
		if in.TrackURL != "" && in.TrackWeight == 0 {
			in.TrackWeight = 100
		}
		in.Debounce.Duration = in.Debounce.Or(max(time.Second, 10*in.AdvertInterval.Duration))
	}
}

func (a *AccessLog) setDefaults() {
	if a == nil {
		return
	}
	if a.Format == "" {
		a.Format = "common"
	}
	if a.OnFull == "" {
		a.OnFull = "block"
	}
	a.Window.Duration = a.Window.Or(time.Second)
	if a.Buffer == 0 {
		a.Buffer = 65536
	}
}

func (p *Pool) setDefaults() {
	if p.Balance == "" {
		p.Balance = "roundrobin"
	}
	p.ConnectTimeout.Duration = p.ConnectTimeout.Or(DefaultConnectTimeout)
	p.Timeout.Duration = p.Timeout.Or(DefaultTimeout)
	p.FailTimeout.Duration = p.FailTimeout.Or(DefaultFailTimeout)
	if p.ForwardedFor == "" {
		p.ForwardedFor = "append"
	}
	for i := range p.Servers {
		if p.Servers[i].Weight == 0 {
			p.Servers[i].Weight = 1
		}
	}
	if s := p.Sticky; s != nil {
		if s.Mode == "" {
			s.Mode = "none"
		}
		if s.Cookie == "" {
			s.Cookie = DefaultCookie
		}
		if s.SameSite == "" {
			s.SameSite = "Lax"
		}
		if s.MaxClients == 0 {
			s.MaxClients = DefaultMaxClients
		}
		if s.IPv6Prefix == 0 {
			s.IPv6Prefix = DefaultIPv6Prefix
		}
	}
	if h := p.Health; h != nil {
		if h.Type == "" {
			h.Type = "http"
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
}
