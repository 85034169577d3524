package config

import (
	"strings"
	"testing"
)

// listenFile is a file with two VIPs on the given addresses and an admin
// listener; its lines: 2 vips.a.listen, 6 vips.b.listen, 10 admin.listen.
func listenFile(a, b, admin string) string {
	return `[vips.a]
listen = [` + a + `]
  [[vips.a.routes]]
  pool = "app"
[vips.b]
listen = [` + b + `]
  [[vips.b.routes]]
  pool = "app"
[admin]
listen = ` + admin + `
[pools.app]
servers = [{ address = "127.0.0.1:9001" }]
`
}

func TestListenOverlaps(t *testing.T) {
	tests := []struct {
		name      string
		a, b, adm string
		want      string // "" for a valid file
	}{
		{"distinct", `"127.0.0.1:80"`, `"127.0.0.2:80"`, `"127.0.0.1:9090"`, ""},
		{"same host other port", `"127.0.0.1:80"`, `"127.0.0.1:443"`, `"127.0.0.1:9090"`, ""},
		{"IPv6 and IPv4 specific", `"[::1]:80"`, `"127.0.0.1:80"`, `"127.0.0.1:9090"`, ""},
		{"same address twice in one vip", `"127.0.0.1:80", "127.0.0.1:80"`, `"127.0.0.2:80"`, `"127.0.0.1:9090"`,
			`quill.toml:2: vip "a": listen "127.0.0.1:80" appears twice`},
		{"same address in two vips", `"127.0.0.1:80"`, `"127.0.0.1:80"`, `"127.0.0.1:9090"`,
			`quill.toml:6: vip "b": listen "127.0.0.1:80" is already used by vip "a"`},
		{"same address spelt differently", `"[::ffff:127.0.0.1]:80"`, `"127.0.0.1:80"`, `"127.0.0.1:9090"`,
			`quill.toml:6: vip "b": listen "127.0.0.1:80" is already used by vip "a"`},
		{"IPv4 wildcard beside a specific address", `"127.0.0.1:80"`, `"0.0.0.0:80"`, `"127.0.0.1:9090"`,
			`quill.toml:6: vip "b": listen "0.0.0.0:80" overlaps listen "127.0.0.1:80" of vip "a": a wildcard address takes its port on every address of the host`},
		{"IPv6 wildcard beside an IPv4 address", `"[::]:80"`, `"192.0.2.1:80"`, `"127.0.0.1:9090"`,
			`quill.toml:6: vip "b": listen "192.0.2.1:80" overlaps listen "[::]:80" of vip "a"`},
		{"empty host is a wildcard", `":80"`, `"192.0.2.1:80"`, `"127.0.0.1:9090"`,
			`quill.toml:6: vip "b": listen "192.0.2.1:80" overlaps listen ":80" of vip "a"`},
		{"wildcard and specific in one vip", `"0.0.0.0:80", "192.0.2.1:80"`, `"127.0.0.2:81"`, `"127.0.0.1:9090"`,
			`quill.toml:2: vip "a": listen "192.0.2.1:80" overlaps listen "0.0.0.0:80" of vip "a"`},
		{"admin on a vip address", `"127.0.0.1:8080"`, `"127.0.0.2:80"`, `"127.0.0.1:8080"`,
			`quill.toml:10: admin: listen "127.0.0.1:8080" is the address of vip "a": the status page and ` + "`quill reload`" + ` would reach the proxied site; give the admin listener an address of its own`},
		{"admin beside a wildcard vip", `"0.0.0.0:9090"`, `"127.0.0.2:80"`, `"127.0.0.1:9090"`,
			`quill.toml:10: admin: listen "127.0.0.1:9090" overlaps listen "0.0.0.0:9090" of vip "a"`},
		{"admin wildcard beside a vip", `"127.0.0.1:80"`, `"127.0.0.2:81"`, `"0.0.0.0:80"`,
			`quill.toml:10: admin: listen "0.0.0.0:80" overlaps listen "127.0.0.1:80" of vip "a"`},
		{"admin without a port", `"127.0.0.1:80"`, `"127.0.0.2:81"`, `"127.0.0.1"`,
			`quill.toml:10: admin: listen "127.0.0.1": has no port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("quill.toml", listenFile(tt.a, tt.b, tt.adm))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestVRRPListenOverlapsAdmin(t *testing.T) {
	src := "[admin]\nlisten = \"127.0.0.1:9091\"\n" + vrrpBase + "listen = \"127.0.0.1:9091\"\n"
	want := `quill.toml:16: vrrp instance "www": listen "127.0.0.1:9091" is already used by admin`
	if _, err := Parse("quill.toml", src); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}
