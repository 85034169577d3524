package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"quill/proxy"
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

// TestUpgraderRun starts shell scripts in place of the new binary and
// checks what the running process makes of each: the sockets it hands
// over (named in the environment, open in the new process), the answer it
// waits for, and every way the new process can fail to give it.
func TestUpgraderRun(t *testing.T) {
	dir := t.TempDir()
	admin, vip := freeLoopback(t), freeLoopback(t)
	cfgPath := filepath.Join(dir, "quill.toml")
	cfg := fmt.Sprintf("[admin]\nlisten = %q\n[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = \"127.0.0.1:1\" }]\n",
		admin, vip)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(c, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	p.Serve()

	// Each script records its pid and what it inherited before it acts.
	record := `echo "$QUILL_LISTEN_FDS" > "$0.env"; ls /proc/$$/fd > "$0.fds"; echo $$ > "$0.pid"; `
	tests := []struct {
		name    string
		script  string // "" for a binary that does not exist
		abort   bool
		wantErr string
	}{
		{"serves", `eval "echo ready >&$QUILL_READY_FD"; exec sleep 30`, false, ""},
		{"exits before it serves", "exit 1", false, "exited before it served: exit status 1"},
		{"closes the pipe without a word", `eval "exec $QUILL_READY_FD>&-"; exec sleep 30`, false, "closed its readiness pipe without a word; killed"},
		{"never answers", "exec sleep 30", false, "did not serve within 500ms; killed"},
		{"this process stops meanwhile", "exec sleep 30", true, "killed: this process is stopping"},
		{"binary missing", "", false, "no such file or directory"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exe := filepath.Join(dir, fmt.Sprintf("quill-%d", i))
			if tt.script != "" {
				if err := os.WriteFile(exe, []byte("#!/bin/sh\n"+record+tt.script+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			u := &upgrader{exe: exe, log: zap.NewNop(), timeout: 500 * time.Millisecond, upgraded: make(chan int, 1), stop: make(chan struct{})}
			if tt.abort {
				go func() {
					for {
						if _, err := os.Stat(exe + ".pid"); err == nil {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
					u.abort()
				}()
			}
			pid, err := u.run(p)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer syscall.Kill(pid, syscall.SIGKILL)
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run: %v, want an error with %q", err, tt.wantErr)
			}
			if tt.script == "" {
				return
			}
			env, _ := os.ReadFile(exe + ".env")
			socks, err := decodeHandover(strings.TrimSpace(string(env)))
			got := map[string]bool{}
			for _, s := range socks {
				got[s.addr] = true
			}
			if err != nil || len(socks) != 2 || !got[admin] || !got[vip] {
				t.Fatalf("QUILL_LISTEN_FDS=%s (%v), want the admin and the VIP sockets", env, err)
			}
			fds, _ := os.ReadFile(exe + ".fds")
			for _, s := range socks {
				if !strings.Contains("\n"+string(fds), "\n"+strconv.Itoa(s.fd)+"\n") {
					t.Errorf("descriptor %d (%s) not open in the new process: %q", s.fd, s.addr, fds)
				}
			}
			if tt.wantErr != "" {
				b, _ := os.ReadFile(exe + ".pid")
				child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", child)); err == nil && syscall.Kill(child, 0) == nil {
					if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child)); !strings.Contains(string(st), ") Z") {
						t.Errorf("new process %d still runs after a failed upgrade", child)
					}
				}
			}
		})
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
