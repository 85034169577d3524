package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"quill/config"
	"quill/tlsterm"
)

// unitDirs reads the directories a systemd unit lets its service write:
// RuntimeDirectory, LogsDirectory and StateDirectory (relative to /run,
// /var/log and /var/lib) and ReadWritePaths; and its Exec lines.
func unitDirs(t *testing.T, path string) (dirs []string, exec map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exec = map[string]string{}
	roots := map[string]string{"RuntimeDirectory": "/run", "LogsDirectory": "/var/log", "StateDirectory": "/var/lib"}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch {
		case roots[k] != "":
			for _, d := range strings.Fields(v) {
				dirs = append(dirs, filepath.Join(roots[k], d))
			}
		case k == "ReadWritePaths":
			dirs = append(dirs, strings.Fields(v)...)
		case strings.HasPrefix(k, "Exec"):
			exec[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return dirs, exec
}

// TestServiceUnit: the unit checks before it starts, and reloads with
// quill reload, which waits for the proxy's answer, so that
// `systemctl reload` fails on a refused file.
func TestServiceUnit(t *testing.T) {
	dirs, exec := unitDirs(t, "../../configs/quill.service")
	const conf = " -c /etc/quill/quill.toml"
	tests := []struct {
		key, want string
	}{
		{"ExecStartPre", "/usr/local/bin/quill check" + conf},
		{"ExecStart", "/usr/local/bin/quill run" + conf},
		{"ExecReload", "/usr/local/bin/quill reload" + conf},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if exec[tt.key] != tt.want {
				t.Errorf("%s=%s, want %s", tt.key, exec[tt.key], tt.want)
			}
		})
	}
	if strings.Join(dirs, " ") != "/run/quill /var/log/quill /var/lib/quill" {
		t.Errorf("the unit writes %q, want /run/quill /var/log/quill /var/lib/quill", dirs)
	}
}

// TestExamplesPassCheckUnderTheUnit: every example writes only where the
// unit lets quill write, and passes quill check once those directories
// exist, as they do under the unit (here they are made in a temporary
// root, and the example's paths moved there).
func TestExamplesPassCheckUnderTheUnit(t *testing.T) {
	dirs, _ := unitDirs(t, "../../configs/quill.service")
	examples, err := filepath.Glob("../../configs/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../../configs/*/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	examples = append(examples, more...)
	nested, err := filepath.Glob("../../configs/*/*/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	examples = append(examples, nested...)
	if len(examples) < 9 {
		t.Fatalf("found only %q", examples)
	}
	for _, path := range examples {
		t.Run(strings.TrimPrefix(path, "../../configs/"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(path, string(src))
			if err != nil {
				t.Fatal(err)
			}
			written := writtenPaths(cfg)
			if cfg.Global.PidFile == "" {
				t.Error("no pid_file: quill reload has nothing to fall back on without [admin]")
			}
			for _, w := range written {
				if !under(w, dirs) {
					t.Errorf("%s is written outside the unit's directories %q", w, dirs)
				}
			}
			root := t.TempDir()
			moved := string(src)
			for _, d := range dirs {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
				moved = strings.ReplaceAll(moved, `"`+d+`/`, `"`+filepath.Join(root, d)+`/`)
			}
			// Certificate files are the operator's, in /etc/quill: made here.
			if strings.Contains(moved, `"/etc/quill/`) {
				moved = strings.ReplaceAll(moved, `"/etc/quill/`, `"`+filepath.Join(root, "etc/quill")+`/`)
				writeCertificates(t, cfg, root)
			}
			file := writeConfig(t, root, filepath.Base(path), moved)
			if code, _, stderr := runQuill(t, "check", file); code != 0 {
				t.Fatalf("quill check: exit %d\n%s", code, stderr)
			}
		})
	}
}

// writeCertificates writes a self-signed certificate and key, under root,
// for each certificate file of cfg in /etc/quill.
func writeCertificates(t *testing.T, cfg *config.Config, root string) {
	t.Helper()
	certPEM, keyPEM, _, err := tlsterm.SelfSigned([]string{"www.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range cfg.VIPs {
		if v.TLS == nil {
			continue
		}
		for _, c := range v.TLS.Certificates {
			for path, pem := range map[string][]byte{c.Cert: certPEM, c.Key: keyPEM} {
				if !strings.HasPrefix(path, "/etc/quill/") {
					t.Fatalf("certificate file %s outside /etc/quill", path)
				}
				at := filepath.Join(root, path)
				if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(at, pem, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// writtenPaths are the files and directories quill writes for cfg.
func writtenPaths(cfg *config.Config) []string {
	var out []string
	add := func(p string) {
		if p != "" && p != "-" {
			out = append(out, p)
		}
	}
	add(cfg.Global.PidFile)
	if cfg.AccessLog != nil {
		add(cfg.AccessLog.Path)
	}
	for _, v := range cfg.VIPs {
		if v.AccessLog != nil {
			add(v.AccessLog.Path)
		}
		if v.TLS != nil && v.TLS.ACME != nil {
			add(v.TLS.ACME.Storage)
		}
	}
	return out
}

func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}
