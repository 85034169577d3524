package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadFile is a config with an admin listener, a plain VIP, a TLS VIP
// serving cert, and web1 at weight w beside web2; extraListen are more
// addresses of the plain VIP.
func reloadFile(admin, plain, secure string, cert certPair, w int, web1, web2 *backend, extraListen ...string) string {
	listen := []string{fmt.Sprintf("%q", plain)}
	for _, a := range extraListen {
		listen = append(listen, fmt.Sprintf("%q", a))
	}
	return fmt.Sprintf(`[global]
shutdown_timeout = "5s"
[admin]
listen = %q
[vips.web]
listen = [%s]
  [[vips.web.routes]]
  pool = "app"
[vips.secure]
listen = [%q]
  [vips.secure.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.secure.routes]]
  pool = "app"
[pools.app]
balance = "weighted"
servers = [{ name = "web1", address = %q, weight = %d }, { name = "web2", address = %q }]
`, admin, strings.Join(listen, ", "), secure, cert.cert, cert.key, web1.addr, w, web2.addr)
}

// weightOf reads a server's weight from GET /api/servers.
func weightOf(t *testing.T, admin, name string) int {
	t.Helper()
	var servers []struct {
		Name   string
		Weight int
	}
	if err := json.Unmarshal([]byte(mustCurl(t, "http://"+admin+"/api/servers")), &servers); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if s.Name == name {
			return s.Weight
		}
	}
	t.Fatalf("no server %s in /api/servers", name)
	return 0
}

// goroutines reads go_goroutines from /metrics.
func goroutines(t *testing.T, admin string) int {
	t.Helper()
	for _, line := range strings.Split(mustCurl(t, "http://"+admin+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no go_goroutines in /metrics")
	return 0
}

// TestRefusedReloadKeepsCertificateAndWeights is issue 10's first check: a
// file that adds a taken address and also changes a certificate and a
// weight is refused, and the served certificate, /api/servers and the
// goroutine count stay as they were.
func TestRefusedReloadKeepsCertificateAndWeights(t *testing.T) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	ca := newTestCA(t)
	v1 := ca.pair(t, dir, "v1", leafSpec{cn: "www.example.test", ou: "v1"})
	v2 := ca.pair(t, dir, "v2", leafSpec{cn: "www.example.test", ou: "v2"})
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	admin, plain, secure := freeAddr(t), freeAddr(t), freeAddr(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	q := startQuill(t, reloadFile(admin, plain, secure, v1, 1, web1, web2), plain, secure, admin)
	subject := servedSubject(t, secure, "www.example.test", ca)
	if !strings.Contains(subject, "v1") {
		t.Fatalf("served %s, want the v1 certificate", subject)
	}
	// Let the start-up goroutines settle before counting.
	time.Sleep(500 * time.Millisecond)
	before := goroutines(t, admin)

	q.rewrite(t, reloadFile(admin, plain, secure, v2, 9, web1, web2, taken.Addr().String()))
	out, err := exec.Command(quillBin, "reload", "-c", q.config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("quill reload: %v\n%s", err, out)
	}
	if got := servedSubject(t, secure, "www.example.test", ca); got != subject {
		t.Errorf("after the refused reload the VIP serves %s, want %s", got, subject)
	}
	if w := weightOf(t, admin, "web1"); w != 1 {
		t.Errorf("after the refused reload web1 has weight %d, want 1", w)
	}
	eventually(t, 5*time.Second, func() bool { return goroutines(t, admin) <= before })
	if got := mustCurl(t, "http://"+plain+"/"); !strings.HasPrefix(got, "web") {
		t.Errorf("the plain VIP answers %q", got)
	}

	taken.Close()
	out, err = exec.Command(quillBin, "reload", "-c", q.config).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reload applied") {
		t.Fatalf("the same file once the address is free: %v\n%s", err, out)
	}
	if got := servedSubject(t, secure, "www.example.test", ca); !strings.Contains(got, "v2") {
		t.Errorf("after the applied reload the VIP serves %s, want v2", got)
	}
	if w := weightOf(t, admin, "web1"); w != 9 {
		t.Errorf("after the applied reload web1 has weight %d, want 9", w)
	}
}

// TestAdminListenFollowsReload is issue 10's second check: change [admin]
// listen and reload; the new address answers and `quill reload` works.
// An admin address equal to a VIP's is refused.
func TestAdminListenFollowsReload(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	cert := ca.pair(t, dir, "www", leafSpec{cn: "www.example.test"})
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	oldAdmin, newAdmin, plain, secure := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	q := startQuill(t, reloadFile(oldAdmin, plain, secure, cert, 1, web1, web2), plain, oldAdmin)

	q.rewrite(t, reloadFile(newAdmin, plain, secure, cert, 2, web1, web2))
	q.signal(syscall.SIGHUP)
	waitListening(t, newAdmin, q.proc)
	if w := weightOf(t, newAdmin, "web1"); w != 2 {
		t.Errorf("the new admin address shows weight %d, want 2", w)
	}
	eventually(t, 5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", oldAdmin, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	q.rewrite(t, reloadFile(newAdmin, plain, secure, cert, 3, web1, web2))
	out, err := exec.Command(quillBin, "reload", "-c", q.config).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reload applied") {
		t.Fatalf("quill reload through the new admin address: %v\n%s", err, out)
	}
	if w := weightOf(t, newAdmin, "web1"); w != 3 {
		t.Errorf("weight %d after quill reload, want 3", w)
	}

	q.rewrite(t, reloadFile(plain, plain, secure, cert, 4, web1, web2))
	q.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "reload refused") })
	if w := weightOf(t, newAdmin, "web1"); w != 3 {
		t.Errorf("weight %d after the refused reload, want 3", w)
	}
	if got := mustCurl(t, "http://"+plain+"/"); !strings.HasPrefix(got, "web") {
		t.Errorf("the VIP answers %q", got)
	}
}

// TestQuillReloadMovesAdmin: `quill reload` of a file that moves [admin]
// listen finds nothing on the new address, signals the pid in pid_file,
// and reports the reload applied once the new address answers; a file
// refused for another reason leaves the new address silent, and quill
// reload fails (as `systemctl reload` then does).
func TestQuillReloadMovesAdmin(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	cert := ca.pair(t, dir, "www", leafSpec{cn: "www.example.test"})
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	pid := filepath.Join(dir, "quill.pid")
	withPid := func(src string) string {
		return strings.Replace(src, "[global]\n", fmt.Sprintf("[global]\npid_file = %q\n", pid), 1)
	}
	admin1, admin2, admin3, plain, secure := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	q := startQuill(t, withPid(reloadFile(admin1, plain, secure, cert, 1, web1, web2)), plain, admin1)

	q.rewrite(t, withPid(reloadFile(admin2, plain, secure, cert, 2, web1, web2)))
	out, err := exec.Command(quillBin, "reload", "-c", q.config).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reload applied") {
		t.Fatalf("quill reload moving the admin listener: %v\n%s", err, out)
	}
	if w := weightOf(t, admin2, "web1"); w != 2 {
		t.Errorf("weight %d on the new admin address, want 2", w)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	q.rewrite(t, withPid(reloadFile(admin3, plain, secure, cert, 3, web1, web2, taken.Addr().String())))
	out, err = exec.Command(quillBin, "reload", "-c", q.config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not answer") {
		t.Fatalf("quill reload of a refused file that moves the admin listener: %v\n%s", err, out)
	}
	if w := weightOf(t, admin2, "web1"); w != 2 {
		t.Errorf("weight %d after the refused reload, want 2", w)
	}
}
