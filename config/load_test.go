package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDecodeErrors: what the TOML decoder refuses is in the FILE:LINE form
// of every other error, never toml's own "toml: line N (...)".
func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"string for an integer", "[global]\nshutdown_timeout = \"5s\"\nmax_connections = \"many\"\n" + base,
			`quill.toml:3: max_connections: a string where an integer is expected`},
		{"integer for a string", base + "[[vips.web.routes]]\npool = 3\n",
			`quill.toml:9: pool: an integer where a string is expected`},
		{"string for a boolean", base + "stubborn = \"yes\"\n",
			`quill.toml:8: stubborn: a string where a boolean is expected`},
		{"string for an array", base + "trusted_proxies = \"10.0.0.0/8\"\n",
			`quill.toml:8: trusted_proxies: a string where an array is expected`},
		{"value for a table", "admin = \"127.0.0.1:9090\"\n" + base,
			`quill.toml:1: admin: a string where a table is expected`},
		{"float for an integer", "[global]\nmax_connections = 1.5\n" + base,
			`quill.toml:2: max_connections: a float where an integer is expected`},
		{"syntax error", base + "a = [\n", `quill.toml:8: a: unexpected EOF; expected value`},
		{"duplicate key", base + "stubborn = true\nstubborn = false\n", `quill.toml:9:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("quill.toml", tt.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "toml: line") {
				t.Fatalf("error %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

// TestRelativePaths: a relative path in the file is in the file's
// directory, whatever the working directory.
func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	src := `[global]
pid_file = "run/quill.pid"
[access_log]
path = "logs/access.log"
[vips.web]
listen = ["127.0.0.1:8443"]
  [vips.web.tls]
  certificates = [{ cert = "certs/site.pem", key = "/etc/quill/site.key" }]
  acme = { email = "a@example.com", domains = ["example.com"], storage = "acme", root_ca = "../ca.pem" }
  [[vips.web.routes]]
  pool = "app"
  [vips.web.access_log]
  path = "-"
[vips.plain]
listen = ["127.0.0.1:8080"]
  [[vips.plain.routes]]
  pool = "app"
  [vips.plain.access_log]
  path = "plain.log"
  syslog = "unix:///dev/log"
[pools.app]
servers = [{ address = "127.0.0.1:9001" }]
[[vrrp.instances]]
name = "www"
interface = "eth0"
vrid = 51
addresses = ["10.0.0.3/24"]
notify = "scripts/notify.sh --quiet"
[[vrrp.instances]]
name = "www6"
interface = "eth0"
vrid = 52
addresses = ["fd00::3/64"]
notify = "logger -t quill"
`
	path := filepath.Join(dir, "quill.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	in := func(p string) string { return filepath.Join(dir, p) }
	tests := []struct {
		name, got, want string
	}{
		{"pid file", c.Global.PidFile, in("run/quill.pid")},
		{"access log", c.AccessLog.Path, in("logs/access.log")},
		{"certificate", c.VIPs["web"].TLS.Certificates[0].Cert, in("certs/site.pem")},
		{"absolute key stays", c.VIPs["web"].TLS.Certificates[0].Key, "/etc/quill/site.key"},
		{"acme storage", c.VIPs["web"].TLS.ACME.Storage, in("acme")},
		{"acme root CA", c.VIPs["web"].TLS.ACME.RootCA, filepath.Join(filepath.Dir(dir), "ca.pem")},
		{"stdout stays", c.VIPs["web"].AccessLog.Path, "-"},
		{"vip access log", c.VIPs["plain"].AccessLog.Path, in("plain.log")},
		{"syslog URL stays", c.VIPs["plain"].AccessLog.Syslog, "unix:///dev/log"},
		{"notify program with a slash", c.VRRP.Instances[0].Notify, in("scripts/notify.sh") + " --quiet"},
		{"notify program from PATH stays", c.VRRP.Instances[1].Notify, "logger -t quill"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestNotifyInDirectoryWithBlanks(t *testing.T) {
	src := vrrpBase + "notify = \"scripts/notify.sh\"\n"
	_, err := Parse("/etc/my quill/quill.toml", src)
	want := `/etc/my quill/quill.toml:14: vrrp instance "www": notify "scripts/notify.sh": the config file's directory "/etc/my quill" has blanks`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}
