package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quill/tlsterm"
)

// TestCheckRefusesWhatRunWould: quill check exits 1 with FILE:LINE for
// everything run would refuse short of binding, and passes what it takes.
func TestCheckRefusesWhatRunWould(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, _, err := tlsterm.SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	otherCert, _, _, err := tlsterm.SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"site.pem": certPEM, "site.key": keyPEM, "other.pem": otherCert, "file": nil} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(dir, p) }
	// head is 2 lines; then valid's lines 3 to 8.
	withGlobal := func(head string) string { return head + valid }
	tlsVIP := func(cert string) string {
		return valid + "[vips.secure]\nlisten = [\"127.0.0.1:18443\"]\n  [vips.secure.tls]\n  certificates = [{ cert = \"" + cert + "\", key = \"site.key\" }]\n  [[vips.secure.routes]]\n  pool = \"app\"\n"
	}
	tests := []struct {
		name string
		src  string
		want string // the line after "FILE:"; "" when check passes
	}{
		{"relative log in the config's directory", withGlobal("[access_log]\npath = \"logs/access.log\"\n"), ""},
		{"relative certificate in the config's directory", tlsVIP("site.pem"), ""},
		{"pid file in the config's directory", withGlobal("[global]\npid_file = \"quill.pid\"\n"), ""},
		{"log directory missing", withGlobal("[access_log]\npath = \"/nonexistent/quill/access.log\"\n"),
			`2: access_log: path "/nonexistent/quill/access.log": directory "/nonexistent/quill" does not exist`},
		{"relative log directory missing", withGlobal("[access_log]\npath = \"nope/access.log\"\n"),
			`2: access_log: path "` + at("nope/access.log") + `": directory "` + at("nope") + `" does not exist`},
		{"log directory is a file", withGlobal("[access_log]\npath = \"file/access.log\"\n"),
			`2: access_log: path "` + at("file/access.log") + `": "` + at("file") + `" is not a directory`},
		{"pid directory missing", withGlobal("[global]\npid_file = \"/run/nonexistent-quill/quill.pid\"\n"),
			`2: global: pid_file "/run/nonexistent-quill/quill.pid": directory "/run/nonexistent-quill" does not exist`},
		{"admin on a vip address", withGlobal("[admin]\nlisten = \"127.0.0.1:18080\"\n"),
			`2: admin: listen "127.0.0.1:18080" is the address of vip "web"`},
		{"wildcard beside a specific address", valid + "[vips.all]\nlisten = [\"0.0.0.0:18080\"]\n  [[vips.all.routes]]\n  pool = \"app\"\n",
			`2: vip "web": listen "127.0.0.1:18080" overlaps listen "0.0.0.0:18080" of vip "all"`},
		{"missing certificate", tlsVIP("missing.pem"), `10: vip "secure": certificate "` + at("missing.pem") + `": open ` + at("missing.pem") + `: no such file or directory`},
		{"certificate and key that do not match", tlsVIP("other.pem"),
			`10: vip "secure": certificate "` + at("other.pem") + `" and key "` + at("site.key") + `": the private key does not match the certificate's public key`},
		{"TOML type error", withGlobal("[global]\nmax_connections = \"many\"\n"),
			`2: max_connections: a string where an integer is expected`},
		{"ip stickiness with round robin", valid + "balance = \"roundrobin\"\n  [pools.app.sticky]\n  mode = \"ip\"\n",
			`7: pool "app": balance "roundrobin" cannot go with sticky mode "ip"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, dir, "quill"+string(rune('a'+i))+".toml", tt.src)
			code, stdout, stderr := runQuill(t, "check", path)
			if tt.want == "" {
				if code != 0 {
					t.Fatalf("exit %d:\n%s", code, stderr)
				}
				return
			}
			if code != 1 || !strings.Contains(stderr, path+":"+tt.want) {
				t.Fatalf("exit %d, stderr\n%s\nwant exit 1 and %q", code, stderr, path+":"+tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout of a refused file: %q", stdout)
			}
		})
	}
}
