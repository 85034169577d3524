package config

import (
	"crypto/tls"
	"strings"
	"testing"
)

// TestChoiceErrors refuses a misspelt value of every choice key at its line,
// beside the other errors of the file.
func TestChoiceErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"balance", base + "balance = \"random\"\n",
			`quill.toml:8: pool "app": balance "random" is not "roundrobin", "weighted", "leastconn" or "hash"`},
		{"forwarded_for", base + "forwarded_for = \"on\"\n",
			`quill.toml:8: pool "app": forwarded_for "on" is not "append", "replace" or "off"`},
		{"sticky mode", base + "[pools.app.sticky]\nmode = \"source\"\n",
			`quill.toml:9: pool "app": sticky mode "source" is not "cookie", "ip" or "none"`},
		{"samesite", base + "[pools.app.sticky]\nmode = \"cookie\"\nsamesite = \"lax\"\n",
			`quill.toml:10: pool "app": samesite "lax" is not "Lax", "Strict" or "None"`},
		{"health type", base + "[pools.app.health]\ntype = \"icmp\"\n",
			`quill.toml:9: pool "app": health type "icmp" is not "http" or "tcp"`},
		{"log level", "[log]\nlevel = \"verbose\"\n" + base,
			`quill.toml:2: log: level "verbose" is not "debug", "info", "warn" or "error"`},
		{"log format", "[log]\nformat = \"text\"\n" + base,
			`quill.toml:2: log: format "text" is not "console" or "json"`},
		{"access log format", "[access_log]\npath = \"-\"\nformat = \"clf\"\n" + base,
			`quill.toml:3: access_log: format "clf" is not "common" or "combined"`},
		{"access log on_full", "[access_log]\npath = \"-\"\non_full = \"wait\"\n" + base,
			`quill.toml:3: access_log: on_full "wait" is not "block" or "drop"`},
		{"vip access log format", base + "[vips.web.access_log]\npath = \"-\"\nformat = \"json\"\n",
			`quill.toml:10: vips.web.access_log: format "json" is not "common" or "combined"`},
		{"min_version 1.1", base + "[vips.web.tls]\ncertificates = [{cert = \"a\", key = \"b\"}]\nmin_version = \"1.1\"\n",
			`quill.toml:10: vip "web": min_version "1.1" is refused: TLS 1.1 is insecure`},
		{"min_version garbage", base + "[vips.web.tls]\ncertificates = [{cert = \"a\", key = \"b\"}]\nmin_version = \"tls1.3\"\n",
			`quill.toml:10: vip "web": min_version "tls1.3" is not "1.2" or "1.3"`},
		{"a number where a choice is expected", base + "balance = 3\n",
			`quill.toml:8: pool "app": balance "3" is not`},
		{"vrrp protocol", vrrpBase + "protocol = \"hsrp\"\n",
			`quill.toml:14: vrrp instance "www": protocol "hsrp" is not "vrrp" or "carp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("quill.toml", tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestChoiceValues(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(c *Config) bool
	}{
		{"hash", "balance = \"hash\"\n", func(c *Config) bool { return c.Pools["app"].Balance == Hash }},
		{"leastconn", "balance = \"leastconn\"\n", func(c *Config) bool { return c.Pools["app"].Balance == LeastConn }},
		{"forwarded_for off", "forwarded_for = \"off\"\n", func(c *Config) bool { return c.Pools["app"].ForwardedFor == PassOn }},
		{"samesite None", "[pools.app.sticky]\nmode = \"cookie\"\nsamesite = \"None\"\n", func(c *Config) bool { return c.Pools["app"].Sticky.SameSite == SameSiteNone }},
		{"tcp check", "[pools.app.health]\ntype = \"tcp\"\n", func(c *Config) bool { return c.Pools["app"].Health.Type == HealthTCP }},
		{"TLS 1.3", "[vips.web.tls]\ncertificates = [{cert = \"a\", key = \"b\"}]\nmin_version = \"1.3\"\n",
			func(c *Config) bool { return c.VIPs["web"].TLS.MinVersion.ID() == tls.VersionTLS13 }},
		{"TLS default", "[vips.web.tls]\ncertificates = [{cert = \"a\", key = \"b\"}]\n",
			func(c *Config) bool { return c.VIPs["web"].TLS.MinVersion == TLS12 && TLS12.ID() == tls.VersionTLS12 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("quill.toml", base+tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Error("value not decoded as expected")
			}
		})
	}
}

// TestIPStickinessBalance: ip stickiness places by hashing, so any other
// balance written beside it is an error, and no balance means hash.
func TestIPStickinessBalance(t *testing.T) {
	ip := "[pools.app.sticky]\nmode = \"ip\"\n"
	tests := []struct {
		name    string
		src     string
		want    Balance
		wantErr string
	}{
		{"no balance", base + ip, Hash, ""},
		{"balance hash", base + "balance = \"hash\"\n" + ip, Hash, ""},
		{"balance roundrobin", base + "balance = \"roundrobin\"\n" + ip, "",
			`quill.toml:8: pool "app": balance "roundrobin" cannot go with sticky mode "ip": ip stickiness places a new client by rendezvous hashing of its address, so that both hosts of an HA pair agree`},
		{"balance weighted", base + "balance = \"weighted\"\n" + ip, "", `quill.toml:8: pool "app": balance "weighted" cannot go with sticky mode "ip"`},
		{"cookie keeps roundrobin", base + "[pools.app.sticky]\nmode = \"cookie\"\n", RoundRobin, ""},
		{"none keeps leastconn", base + "balance = \"leastconn\"\n[pools.app.sticky]\nmode = \"none\"\n", LeastConn, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("quill.toml", tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Pools["app"].Balance; got != tt.want {
				t.Errorf("balance %q, want %q", got, tt.want)
			}
		})
	}
}
