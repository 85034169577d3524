package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		verbs    []string
		wantPath string
		wantRest []string
		wantErr  string // "" for none; "help" for errHelp
	}{
		{name: "default", args: nil, wantPath: defaultConfig},
		{name: "flag", args: []string{"-c", "a.toml"}, wantPath: "a.toml"},
		{name: "flag with =", args: []string{"-c=a.toml"}, wantPath: "a.toml"},
		{name: "positional", args: []string{"a.toml"}, wantPath: "a.toml"},
		{name: "positional before the flag, same file", args: []string{"a.toml", "-c", "a.toml"}, wantPath: "a.toml"},
		{name: "flag and positional, same file", args: []string{"-c", "a.toml", "a.toml"}, wantPath: "a.toml"},
		{name: "after --", args: []string{"--", "-odd.toml"}, wantPath: "-odd.toml"},
		{name: "two positional files", args: []string{"a.toml", "b.toml"}, wantErr: `quill check: one config file, not 2: "a.toml", "b.toml"`},
		{name: "flag and another positional", args: []string{"-c", "a.toml", "b.toml"}, wantErr: `one config file, not 2: "a.toml", "b.toml"`},
		{name: "two flags", args: []string{"-c", "a.toml", "-c", "b.toml"}, wantErr: `one config file, not 2`},
		{name: "an extra argument", args: []string{"a.toml", "now"}, wantErr: `one config file, not 2: "a.toml", "now"`},
		{name: "unknown flag", args: []string{"-x"}, wantErr: "flag provided but not defined: -x"},
		{name: "flag without value", args: []string{"-c"}, wantErr: "flag needs an argument: -c"},
		{name: "help", args: []string{"-h"}, wantErr: "help"},
		{name: "verb with default file", args: []string{"servers"}, verbs: []string{"servers", "set"}, wantPath: defaultConfig, wantRest: []string{"servers"}},
		{name: "positional file and verb", args: []string{"a.toml", "set", "app", "web1", "weight=2"}, verbs: []string{"servers", "set"},
			wantPath: "a.toml", wantRest: []string{"set", "app", "web1", "weight=2"}},
		{name: "flag and verb", args: []string{"-c", "a.toml", "servers"}, verbs: []string{"servers", "set"}, wantPath: "a.toml", wantRest: []string{"servers"}},
		{name: "verb missing", args: []string{"a.toml"}, verbs: []string{"servers", "set"}, wantErr: "what to do? servers or set"},
		{name: "two files before the verb", args: []string{"-c", "a.toml", "b.toml", "servers"}, verbs: []string{"servers", "set"}, wantErr: "one config file, not 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, rest, err := configArgs("check", tt.args, tt.verbs...)
			switch {
			case tt.wantErr == "help":
				if err != errHelp {
					t.Fatalf("error %v, want errHelp", err)
				}
			case tt.wantErr != "":
				ue, ok := err.(*usageError)
				if !ok || !strings.Contains(ue.Error(), tt.wantErr) {
					t.Fatalf("error %v, want a usage error with %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case path != tt.wantPath || strings.Join(rest, " ") != strings.Join(tt.wantRest, " "):
				t.Fatalf("got %q %q, want %q %q", path, rest, tt.wantPath, tt.wantRest)
			}
		})
	}
}

// valid is a config that passes check and names nothing on disk.
const valid = `[vips.web]
listen = ["127.0.0.1:18080"]
  [[vips.web.routes]]
  pool = "app"
[pools.app]
servers = [{ address = "127.0.0.1:19001" }]
`

func writeConfig(t *testing.T, dir, name, src string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommandLines runs the commands that take a config as the binary does,
// and checks the exit status and what each says: the file named, however it
// is named, is the file used.
func TestCommandLines(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "good.toml", valid)
	other := writeConfig(t, dir, "other.toml", valid)
	bad := writeConfig(t, dir, "bad.toml", valid+"balance = \"random\"\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantErr    string
		wantNotErr string
	}{
		{"check positional", []string{"check", good}, 0, good + ": ok", "", ""},
		{"check flag", []string{"check", "-c", good}, 0, good + ": ok", "", ""},
		{"check both ways, one file", []string{"check", "-c", good, good}, 0, good + ": ok", "", ""},
		{"check positional bad file", []string{"check", bad}, 1, "", bad + `:7: pool "app": balance "random"`, defaultConfig},
		{"check two files", []string{"check", good, other}, 2, "", "usage: quill check [-c FILE | FILE]", ""},
		{"check flag and another file", []string{"check", "-c", good, other}, 2, "", `one config file, not 2`, ""},
		{"check help", []string{"check", "-h"}, 0, "usage: quill check", "", ""},
		{"help check", []string{"help", "check"}, 0, "usage: quill check", "", ""},
		{"reload positional reads the file", []string{"reload", good}, 1, "", "has neither [admin] nor global.pid_file", ""},
		{"reload positional bad file", []string{"reload", bad}, 1, "", bad + ":7:", ""},
		{"reload extra argument", []string{"reload", good, "now"}, 2, "", "usage: quill reload", ""},
		{"run positional bad file", []string{"run", bad}, 1, "", bad + ":7:", ""},
		{"run two files", []string{"run", "-c", good, other}, 2, "", "usage: quill run", ""},
		{"vrrp positional reads the file", []string{"vrrp", good}, 1, "", good + ": no [[vrrp.instances]] to run", ""},
		{"vrrp two files", []string{"vrrp", good, other}, 2, "", "usage: quill vrrp", ""},
		{"ctl positional reads the file", []string{"ctl", good, "servers"}, 1, "", good + " has no [admin] listener", ""},
		{"ctl without a verb", []string{"ctl", good}, 2, "", "usage: quill ctl", ""},
		{"ctl unknown words", []string{"ctl", good, "set", "app"}, 2, "", `"set app" is not servers or set`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runQuill(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantOut, stdout)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr)
			}
			if tt.wantNotErr != "" && strings.Contains(stderr, tt.wantNotErr) {
				t.Errorf("stderr names %q:\n%s", tt.wantNotErr, stderr)
			}
		})
	}
}

// runQuill runs a command line as main does and returns its exit status
// and output. What commands write to the process's stderr themselves is
// caught too, so tests must not run in parallel.
func runQuill(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	var out, errw bytes.Buffer
	code = run(args, &out, &errw)
	os.Stderr = saved
	direct, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errw.String() + string(direct)
}
