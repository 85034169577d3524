package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveExecutable: the binary an upgrade starts is found at start,
// as an absolute path, however quill was started; a relative path stays
// right though the directory changes later.
func TestResolveExecutable(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "quill-test-binary")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Chdir(dir)
	tests := []struct {
		name, arg0, want string
		wantErr          bool
	}{
		{"absolute", exe, exe, false},
		{"relative to the directory at start", "bin/quill-test-binary", exe, false},
		{"found in PATH", "quill-test-binary", exe, false},
		{"not in PATH", "quill-missing-binary", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveExecutable(tt.arg0)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("resolveExecutable(%q) = %q, want an error", tt.arg0, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("resolveExecutable(%q) = %q, %v; want %q", tt.arg0, got, err, tt.want)
			}
		})
	}
}

// TestServiceUnitFollowsUpgrades: the unit waits for quill's READY=1 and
// takes MAINPID= from the process a binary upgrade started, so that systemd
// follows the new process and does not take the old one's exit for the
// service's end.
func TestServiceUnitFollowsUpgrades(t *testing.T) {
	f, err := os.Open("../../configs/quill.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && !strings.HasPrefix(k, "#") {
			got[k] = v
		}
	}
	for k, want := range map[string]string{"Type": "notify", "NotifyAccess": "all"} {
		if got[k] != want {
			t.Errorf("%s=%s, want %s", k, got[k], want)
		}
	}
}
