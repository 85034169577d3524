package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keepalived is a keepalived run in a host's namespace: -n keeps the
// parent in the foreground (its PID is the one started); its VRRP child
// writes its own PID file.
type keepalived struct {
	*proc
	host     *host
	childPID string
}

// keepalivedConf is a keepalived.conf for the lab's VIP on VRID 77;
// version 2 with a password uses auth_type PASS.
func keepalivedConf(version, prio int, advert, password string) string {
	auth := ""
	if password != "" {
		auth = fmt.Sprintf("    authentication {\n        auth_type PASS\n        auth_pass %s\n    }\n", password)
	}
	return fmt.Sprintf(`global_defs {
    router_id lab
    vrrp_version %d
}
vrrp_instance VI_77 {
    state BACKUP
    interface eth0
    virtual_router_id 77
    priority %d
    advert_int %s
%s    virtual_ipaddress {
        %s dev eth0
    }
}
`, version, prio, advert, auth, vipNet)
}

func (h *host) startKeepalived(t *testing.T, conf string) *keepalived {
	t.Helper()
	requireTool(t, "keepalived")
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &keepalived{host: h, childPID: filepath.Join(dir, "vrrp.pid")}
	// PID files per run: /run is shared between namespaces.
	k.proc = h.start(t, "keepalived", "-n", "-l", "-D", "-G", "-P", "-f", path, "-p", filepath.Join(dir, "keepalived.pid"), "-r", k.childPID)
	t.Cleanup(func() { k.stop(t) })
	return k
}

// stop sends TERM (the VRRP child resigns with priority 0) and makes sure
// the child is gone too: killing only the parent would orphan it.
func (k *keepalived) stop(t *testing.T) {
	select {
	case <-k.done:
	default:
		k.signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(5 * time.Second):
			t.Errorf("keepalived on %s still running 5s after TERM", k.host.name)
		}
	}
	if b, err := os.ReadFile(k.childPID); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			if syscall.Kill(pid, 0) == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// ucarp is ucarp run in a host's namespace with up/down scripts that add
// and remove the VIP (ucarp does not touch addresses itself).
type ucarp struct {
	*proc
	host *host
}

func (h *host) startUcarp(t *testing.T, vhid, advskew int, password string) *ucarp {
	t.Helper()
	requireTool(t, "ucarp")
	dir := t.TempDir()
	up, down := filepath.Join(dir, "vip-up.sh"), filepath.Join(dir, "vip-down.sh")
	os.WriteFile(up, []byte("#!/bin/sh\nexec ip addr add \"$2\"/24 dev \"$1\"\n"), 0o755)
	os.WriteFile(down, []byte("#!/bin/sh\nexec ip addr del \"$2\"/24 dev \"$1\"\n"), 0o755)
	// -P preempt, -z run the down script at exit, -n no down script at start.
	u := &ucarp{host: h, proc: h.start(t, "ucarp", "-i", "eth0", "-s", h.ip, "-v", strconv.Itoa(vhid), "-p", password, "-a", vip,
		"-b", "1", "-k", strconv.Itoa(advskew), "-P", "-z", "-n", "-u", up, "-d", down)}
	t.Cleanup(func() {
		select {
		case <-u.done:
		default:
			u.signal(syscall.SIGTERM)
			select {
			case <-u.done:
			case <-time.After(3 * time.Second):
			}
		}
	})
	return u
}
