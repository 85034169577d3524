// Package config is quill.toml as Go types: the schema, its defaults, and a
// validation that names the file and line of every problem it finds.
//
// The doc comment of each field is the user documentation of its key. Each
// struct fills in its own defaults (SetDefaults, beside it): no other
// package knows a default of the file. Keys that name a choice have a type
// of their own (Balance, StickyMode, ...) decoded and checked here.
package config

import "time"

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

// SetDefaults fills in every key the file left out.
func (c *Config) SetDefaults() {
	c.Global.SetDefaults()
	if c.Admin != nil {
		c.Admin.SetDefaults()
	}
	c.Log.SetDefaults()
	if c.AccessLog != nil {
		c.AccessLog.SetDefaults()
	}
	for _, v := range c.VIPs {
		v.SetDefaults()
	}
	for _, p := range c.Pools {
		p.SetDefaults()
	}
	for i := range c.VRRP.Instances {
		c.VRRP.Instances[i].SetDefaults()
	}
}

// Global holds process-wide settings.
type Global struct {
	// MaxConnections caps client connections held at once (pen -x); beyond
	// it, accept waits. Default 10000.
	MaxConnections int `toml:"max_connections"`
	// ShutdownTimeout bounds how long a graceful stop waits for in-flight
	// requests. Default 30s.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// PidFile is written at start and removed at exit (pen -p). A relative
	// path is in the config file's directory.
	PidFile string `toml:"pid_file"`
	// Secret derives the sticky-cookie key of every pool that has no secret
	// of its own, and the TLS session ticket keys of every TLS VIP. Both
	// hosts of an HA pair must share it.
	Secret string `toml:"secret"`
	// ReadHeaderTimeout bounds the time a client may take to send a request
	// head (slowloris). Default 10s.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive client connection idle this long.
	// Default 60s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// BodyTimeout bounds the wait for each read of a request body (nginx's
	// client_body_timeout): no body byte for this long is answered 408, or
	// closes the connection when the answer has begun. Default 60s.
	BodyTimeout Duration `toml:"body_timeout"`
	// SendTimeout closes the connection of a client that reads nothing of
	// the answer for this long (nginx's send_timeout). Default 60s.
	SendTimeout Duration `toml:"send_timeout"`
	// MaxHeaderBytes bounds a request head. Default 65536; larger heads get 431.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// MaxHeaderCount bounds the header fields of a request head (HAProxy
	// allows 101). Default 100; more get 431.
	MaxHeaderCount int `toml:"max_header_count"`
	// H2MaxResets bounds the RST_STREAM frames an HTTP/2 client may send on
	// one connection per second; past it the connection gets GOAWAY
	// (ENHANCE_YOUR_CALM) and is closed (rapid reset, CVE-2023-44487).
	// Default 100.
	H2MaxResets int `toml:"h2_max_resets"`
	// Watch reloads the configuration when its file changes on disk.
	Watch bool `toml:"watch"`
}

// SetDefaults fills in the keys of [global] the file left out.
func (g *Global) SetDefaults() {
	if g.MaxConnections == 0 {
		g.MaxConnections = 10000
	}
	g.ShutdownTimeout.Duration = g.ShutdownTimeout.Or(30 * time.Second)
	g.ReadHeaderTimeout.Duration = g.ReadHeaderTimeout.Or(10 * time.Second)
	g.IdleTimeout.Duration = g.IdleTimeout.Or(60 * time.Second)
	g.BodyTimeout.Duration = g.BodyTimeout.Or(60 * time.Second)
	g.SendTimeout.Duration = g.SendTimeout.Or(60 * time.Second)
	if g.MaxHeaderBytes == 0 {
		g.MaxHeaderBytes = 64 << 10
	}
	if g.MaxHeaderCount == 0 {
		g.MaxHeaderCount = 100
	}
	if g.H2MaxResets == 0 {
		g.H2MaxResets = 100
	}
}

// Admin is the listener for metrics, the status page and the runtime API.
type Admin struct {
	// Listen is the admin address. Default 127.0.0.1:9090. It must not be,
	// or overlap, the address of a VIP.
	Listen string `toml:"listen"`
	// Token, when set, must be sent as "Authorization: Bearer TOKEN" to the API.
	Token string `toml:"token"`
}

// SetDefaults fills in the keys of [admin] the file left out.
func (a *Admin) SetDefaults() {
	if a.Listen == "" {
		a.Listen = "127.0.0.1:9090"
	}
}

// Log configures the process's own log, on stderr.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level LogLevel `toml:"level"`
	// Format is console (default) or json.
	Format LogFormat `toml:"format"`
}

// SetDefaults fills in the keys of [log] the file left out.
func (l *Log) SetDefaults() {
	if l.Level == "" {
		l.Level = LevelInfo
	}
	if l.Format == "" {
		l.Format = Console
	}
}

// AccessLog configures a request log.
type AccessLog struct {
	// Path is the log file; "-" is stdout. Every VIP without its own
	// access_log table writes here. A relative path is in the config
	// file's directory; the file, or its directory, must be writable.
	Path string `toml:"path"`
	// Format is common (CLF, default) or combined.
	Format AccessFormat `toml:"format"`
	// Syslog ships lines to "udp://host:port" or "unix:///dev/log", beside
	// or instead of Path.
	Syslog string `toml:"syslog"`
	// Window holds lines this long so they are written in time order. Default 1s.
	Window Duration `toml:"window"`
	// Buffer is how many lines may wait for the writer. Default 65536.
	Buffer int `toml:"buffer"`
	// OnFull is block (default: lose nothing) or drop (count the loss).
	OnFull OnFull `toml:"on_full"`
}

// SetDefaults fills in the keys of an access_log table the file left out.
func (a *AccessLog) SetDefaults() {
	if a.Format == "" {
		a.Format = Common
	}
	if a.OnFull == "" {
		a.OnFull = Block
	}
	a.Window.Duration = a.Window.Or(time.Second)
	if a.Buffer == 0 {
		a.Buffer = 65536
	}
}
