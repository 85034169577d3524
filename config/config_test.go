package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	app := c.Pools["app"]
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"max connections", c.Global.MaxConnections, 500},
		{"shutdown timeout", c.Global.ShutdownTimeout.Duration, 5 * time.Second},
		{"default idle timeout", c.Global.IdleTimeout.Duration, 60 * time.Second},
		{"default header bytes", c.Global.MaxHeaderBytes, 65536},
		{"default header count", c.Global.MaxHeaderCount, 100},
		{"default h2 reset limit", c.Global.H2MaxResets, 100},
		{"balance", app.Balance, Weighted},
		{"weight", app.Servers[0].Weight, 3},
		{"default weight", app.Servers[1].Weight, 1},
		{"backup", app.Servers[1].Backup, true},
		{"default cookie", app.Sticky.Cookie, "QUILL"},
		{"default samesite", app.Sticky.SameSite, SameSiteLax},
		{"default connect timeout", app.ConnectTimeout.Duration, 5 * time.Second},
		{"default forwarded_for", app.ForwardedFor, Append},
		{"health path", app.Health.Path, "/health"},
		{"health default fall", app.Health.Fall, 3},
		{"route default path", c.VIPs["www-http"].Routes[1].Path, "/"},
		{"forward_normalized", c.VIPs["www-http"].ForwardNormalized, true},
		{"proxy_protocol", c.VIPs["www-http"].ProxyProtocol, true},
		{"proxy_protocol_from", strings.Join(c.VIPs["www-http"].ProxyProtocolFrom, " "), "10.0.0.0/24 192.168.0.9"},
		{"access log default format", c.AccessLog.Format, Common},
		{"access log default on_full", c.AccessLog.OnFull, Block},
		{"default log level", c.Log.Level, LevelInfo},
		{"default log format", c.Log.Format, Console},
		{"default balance", c.Pools["static"].Balance, RoundRobin},
		{"sticky mode", app.Sticky.Mode, StickyCookie},
		{"default health type", app.Health.Type, HealthHTTP},
		{"server id defaults to address", app.Servers[0].ID(), "127.0.0.1:9002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

// base is a minimal valid file that the error cases below extend.
const base = `[vips.web]
listen = ["127.0.0.1:8080"]
  [[vips.web.routes]]
  pool = "app"

[pools.app]
servers = [{ address = "127.0.0.1:9001" }]
`

// arrayBase writes the servers as an array of tables.
const arrayBase = `[vips.web]
listen = ["127.0.0.1:8080"]
  [[vips.web.routes]]
  pool = "app"
[[pools.app.servers]]
address = "127.0.0.1:9001"
`

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each must appear in the error text
	}{
		{"unknown key", base + "wieght = 2\n", []string{`quill.toml:8: unknown key "pools.app.wieght"`}},
		{"unknown key in array of tables", arrayBase + "wieght = 2\n", []string{`quill.toml:7: unknown key "pools.app.servers.wieght"`}},
		{"unknown table", base + "[globl]\nmax_connections = 1\n", []string{`quill.toml:9: unknown key "globl.max_connections"`}},
		{"server without port", strings.Replace(arrayBase, `"127.0.0.1:9001"`, `"foo"`, 1), []string{`quill.toml:6: pool "app": server address "foo" has no port`}},
		{"missing pool", strings.Replace(base, `pool = "app"`, `pool = "nope"`, 1), []string{`quill.toml:4: vip "web": route 1: pool "nope" does not exist`}},
		{"bad duration", base + "connect_timeout = \"5 seconds\"\n", []string{`quill.toml:8: connect_timeout: "5 seconds" is not a duration`}},
		{"zero weight", arrayBase + "weight = 0\n", []string{`quill.toml:7: pool "app": server "127.0.0.1:9001": weight must be > 0`}},
		{"bad balance", base + "balance = \"random\"\n", []string{`quill.toml:8: pool "app": balance "random"`}},
		{"pool without servers", base + "[pools.empty]\n", []string{`quill.toml:8: pool "empty" has no servers`}},
		{"two vips one address", base + "[vips.other]\nlisten = [\"127.0.0.1:8080\"]\n  [[vips.other.routes]]\n  pool = \"app\"\n",
			[]string{`quill.toml:2: vip "web": listen "127.0.0.1:8080" is already used by vip "other"`}},
		{"bad listen", strings.Replace(base, `"127.0.0.1:8080"`, `"127.0.0.1"`, 1), []string{`quill.toml:2: vip "web": listen "127.0.0.1": has no port`}},
		{"proxy_protocol open to all", strings.Replace(base, "listen = [\"127.0.0.1:8080\"]\n", "listen = [\"127.0.0.1:8080\"]\nproxy_protocol = true\n", 1),
			[]string{`quill.toml:3: vip "web": proxy_protocol needs proxy_protocol_from`}},
		{"proxy_protocol_from alone", strings.Replace(base, "listen = [\"127.0.0.1:8080\"]\n", "listen = [\"127.0.0.1:8080\"]\nproxy_protocol_from = [\"10.0.0.0/8\"]\n", 1),
			[]string{`quill.toml:3: vip "web": proxy_protocol_from without proxy_protocol = true`}},
		{"proxy_protocol_from bad CIDR", strings.Replace(base, "listen = [\"127.0.0.1:8080\"]\n", "listen = [\"127.0.0.1:8080\"]\nproxy_protocol = true\nproxy_protocol_from = [\"10.0.0.1\", \"10.0.0.0/33\", \"lb1\"]\n", 1),
			[]string{`quill.toml:4: vip "web": proxy_protocol_from: "10.0.0.0/33" is not a CIDR`, `quill.toml:4: vip "web": proxy_protocol_from: "lb1" is not an address or CIDR`}},
		{"bad trusted proxy", base + "trusted_proxies = [\"10.0.0.0/99\"]\n", []string{`quill.toml:8: pool "app": trusted_proxies: "10.0.0.0/99" is not a CIDR`}},
		{"tls 1.1 refused", base + "[vips.web.tls]\ncertificates = [{cert = \"a\", key = \"b\"}]\nmin_version = \"1.1\"\n", []string{`quill.toml:10: vip "web": min_version "1.1"`}},
		{"every error reported", base + "balance = \"x\"\nforwarded_for = \"y\"\n", []string{`quill.toml:8: pool "app": balance`, `quill.toml:9: pool "app": forwarded_for`}},
		{"negative h2 reset limit", "[global]\nh2_max_resets = -1\n" + base, []string{`quill.toml:2: global: h2_max_resets must be at least 1`}},
		{"pool name with a slash", strings.Replace(strings.Replace(base, `pool = "app"`, `pool = "a/b"`, 1), "[pools.app]", "[pools.\"a/b\"]", 1), []string{`pool name "a/b"`}},
		{"route path not normalized", strings.Replace(base, `pool = "app"`, "path = \"/static/../app/\"\n  pool = \"app\"", 1),
			[]string{`quill.toml:4: vip "web": route 1: path "/static/../app/" is not a normalized path (its normal form is "/app/"), so no request would match it`}},
		{"route path with doubled slash", strings.Replace(base, `pool = "app"`, "path = \"//static/\"\n  pool = \"app\"", 1),
			[]string{`quill.toml:4: vip "web": route 1: path "//static/" is not a normalized path (its normal form is "/static/")`}},
		{"route path with %2e", strings.Replace(base, `pool = "app"`, "path = \"/v%2e1/\"\n  pool = \"app\"", 1),
			[]string{`path "/v%2e1/" is not a normalized path (its normal form is "/v.1/")`}},
		{"route path above the root", strings.Replace(base, `pool = "app"`, "path = \"/../\"\n  pool = \"app\"", 1),
			[]string{`path "/../" is not a normalized path (path climbs above /)`}},
		{"route path with a query", strings.Replace(base, `pool = "app"`, "path = \"/a?b\"\n  pool = \"app\"", 1),
			[]string{`path "/a?b" is not a normalized path (it holds a query)`}},
		{"zero pool timeout", base + "timeout = \"0s\"\n", []string{`quill.toml:8: timeout: must be more than 0 (leave the key out for the default)`}},
		{"zero global timeout", "[global]\nbody_timeout = \"0s\"\n" + base, []string{`quill.toml:2: body_timeout: must be more than 0`}},
		{"zero health interval", base + "[pools.app.health]\ninterval = \"0s\"\n", []string{`quill.toml:9: interval: must be more than 0`}},
		{"zero log window", "[access_log]\npath = \"-\"\nwindow = \"0s\"\n" + base, []string{`quill.toml:3: window: must be more than 0`}},
		{"syntax error", base + "a = [\n", []string{"quill.toml:", "expected value"}},
		{"vrrp vrid", base + "[[vrrp.instances]]\nname = \"www\"\ninterface = \"eth0\"\nvrid = 300\naddresses = [\"10.0.0.3/24\"]\n", []string{`quill.toml:11: vrrp instance "www": vrid 300`}},
		{"vrrp v2 sub-second", base + "[[vrrp.instances]]\nname = \"www\"\ninterface = \"eth0\"\nvrid = 3\nversion = 2\nadvert_interval = \"100ms\"\naddresses = [\"10.0.0.3\"]\n", []string{`quill.toml:13: vrrp instance "www": advert_interval 100ms must be whole seconds`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("quill.toml", tt.src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

// TestZeroDurations: a zero the file sets is kept where it means something
// (the sticky ttl: a session cookie), and an omitted timeout is its default.
func TestZeroDurations(t *testing.T) {
	c, err := Parse("quill.toml", base+"[pools.app.sticky]\nmode = \"cookie\"\nsecret = \"s\"\nttl = \"0s\"\n")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pools["app"]
	if p.Sticky.TTL.Duration != 0 {
		t.Errorf("ttl = %v, want 0", p.Sticky.TTL.Duration)
	}
	if p.Timeout.Duration != 60*time.Second || c.Global.BodyTimeout.Duration != 60*time.Second {
		t.Errorf("defaults: pool timeout %v, body_timeout %v", p.Timeout.Duration, c.Global.BodyTimeout.Duration)
	}
}

func TestValidBase(t *testing.T) {
	if _, err := Parse("quill.toml", base); err != nil {
		t.Fatal(err)
	}
}

func TestStickyWithoutSecretWarns(t *testing.T) {
	c, err := Parse("quill.toml", base+"[pools.app.sticky]\nmode = \"cookie\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "random key") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestPositions(t *testing.T) {
	src := "[a]\nx = 1\n[[a.b]]\ny = 2\n[[a.b]]\ny = 3\n[a.b.c]\nz = 4\n\"q.k\" = 5\n"
	pos := indexPositions(src)
	tests := []struct {
		key  string
		want int
	}{
		{"a.x", 2},
		{"a.b.0.y", 4},
		{"a.b.1.y", 6},
		{"a.b.y", 4},
		{"a.b.1.c.z", 8},
		{"a.b.1.c.q.k", 9},
		{"a.b.1.missing", 5},
		{"nothing", 0},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := pos.line(tt.key); got != tt.want {
				t.Errorf("line(%q) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}

func TestStatusRange(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		min, max int
		bad      bool
	}{
		{"integer", "204", 204, 204, false},
		{"class", `"2xx"`, 200, 299, false},
		{"upper-case class", `"3XX"`, 300, 399, false},
		{"range", `"200-399"`, 200, 399, false},
		{"reversed range", `"399-200"`, 0, 0, true},
		{"not a status", "42", 0, 0, true},
		{"garbage", `"ok"`, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("quill.toml", base+"[pools.app.health]\nexpect_status = "+tt.value+"\n")
			if tt.bad {
				if err == nil || !strings.Contains(err.Error(), "quill.toml:9: pool \"app\": expect_status") {
					t.Errorf("error %v, want one at line 9", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Pools["app"].Health.ExpectStatus; got.Min != tt.min || got.Max != tt.max {
				t.Errorf("got %d-%d, want %d-%d", got.Min, got.Max, tt.min, tt.max)
			}
		})
	}
}
