package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// skew is the VRRP skew time of a backup with priority prio.
func skew(prio int, advert time.Duration) time.Duration { return time.Duration(256-prio) * advert / 256 }

// slack is what a measured failover may exceed its formula by: signal
// delivery, a netlink round trip and scheduling on a busy 2-core machine.
const slack = 60 * time.Millisecond

// Two quill hosts, 100ms adverts: the higher priority is elected; a
// graceful stop moves the VIP after the backup's skew time (priority 0
// advert); SIGKILL and link down after the master-down interval; a
// restarted master removes the copy of the VIP a SIGKILL left behind, then
// preempts.
func TestVRRPTwoQuill(t *testing.T) {
	const adv = 100 * time.Millisecond
	l := newLab(t, "a", "b")
	a, b := l.hosts["a"], l.hosts["b"]
	cfgA, cfgB := vrrpConfig(150, "100ms", ""), vrrpConfig(100, "100ms", "")
	masterDown := 3*adv + skew(100, adv)

	t0 := time.Now()
	sb := b.startVRRP(t, cfgB)
	sa := a.startVRRP(t, cfgA)
	a.vipEvent(true, t0, 5*time.Second)
	time.Sleep(5 * adv)
	if b.hasVIP() || !a.hasVIP() {
		t.Fatalf("after the election: a has the VIP %v, b %v", a.hasVIP(), b.hasVIP())
	}

	// Graceful stop: priority 0, the backup takes over after its skew.
	t1 := time.Now()
	sa.signal(syscall.SIGTERM)
	term := b.vipEvent(true, t1, 2*time.Second).Sub(t1)
	if err := sa.wait(t, 5*time.Second); err != nil {
		t.Fatalf("quill vrrp exited with %v", err)
	}
	if a.hasVIP() {
		t.Fatal("a kept the VIP after TERM")
	}
	if term > adv {
		t.Errorf("graceful stop: VIP on b after %s, want within one advert interval (%s)", term, adv)
	}

	// A restarted a preempts b.
	t2 := time.Now()
	sa = a.startVRRP(t, cfgA)
	a.vipEvent(true, t2, 3*time.Second)
	b.vipEvent(false, t2, 3*time.Second)

	// SIGKILL: no priority 0; b waits out the master-down interval. The
	// dead process leaves the VIP on a.
	time.Sleep(5 * adv)
	t3 := time.Now()
	sa.kill()
	kill := b.vipEvent(true, t3, 3*time.Second).Sub(t3)
	if !a.hasVIP() {
		t.Fatal("expected the killed quill's VIP to be left on a")
	}
	if kill > masterDown+slack {
		t.Errorf("SIGKILL: VIP on b after %s, want within 3×advert_interval+skew = %s", kill, masterDown)
	}

	// Restarted, a removes the stale copy before it elects, then preempts.
	t4 := time.Now()
	sa = a.startVRRP(t, cfgA)
	a.vipEvent(false, t4, 3*time.Second)
	sa.waitLog(t, "removed a virtual address left on the interface by an earlier run", 3*time.Second)
	a.vipEvent(true, t4, 3*time.Second)
	b.vipEvent(false, t4, 3*time.Second)

	// Link down on the master: b takes over after the master-down interval.
	time.Sleep(5 * adv)
	nh := a.handle()
	defer nh.Close()
	t5 := time.Now()
	a.setLink(nh, false)
	down := b.vipEvent(true, t5, 3*time.Second).Sub(t5)
	sa.waitLog(t, "MASTER -> FAULT", 2*time.Second)
	if a.hasVIP() {
		t.Error("a in FAULT kept the VIP")
	}
	a.setLink(nh, true)
	if down > masterDown+slack {
		t.Errorf("link down: VIP on b after %s, want within %s", down, masterDown)
	}
	// The link back for the debounce period (1s), a preempts again.
	t6 := time.Now()
	a.vipEvent(true, t6, 4*time.Second)
	b.vipEvent(false, t6, 4*time.Second)
	t.Logf("a: %v", sa.transitions())
	t.Logf("b: %v", sb.transitions())

	logFigures(t,
		figure{"quill↔quill, advert 100ms, SIGTERM master → VIP on backup", term, "target ≤ 0.100 s; keepalived 0.067–0.070 s"},
		figure{"quill↔quill, advert 100ms, SIGKILL master → VIP on backup", kill, "3×0.1+skew = 0.361 s"},
		figure{"quill↔quill, advert 100ms, link down on master → VIP on backup", down, "target ≤ 0.36 s; keepalived 0.27–0.36 s"},
	)
}

// The same pair with 1s adverts, for the side-by-side with keepalived's
// figures at its default interval.
func TestVRRPTwoQuillOneSecond(t *testing.T) {
	const adv = time.Second
	l := newLab(t, "a", "b")
	a, b := l.hosts["a"], l.hosts["b"]
	cfgA, cfgB := vrrpConfig(150, "1s", ""), vrrpConfig(100, "1s", "")
	masterDown := 3*adv + skew(100, adv)

	t0 := time.Now()
	b.startVRRP(t, cfgB)
	sa := a.startVRRP(t, cfgA)
	a.vipEvent(true, t0, 6*time.Second)

	t1 := time.Now()
	sa.signal(syscall.SIGTERM)
	term := b.vipEvent(true, t1, 3*time.Second).Sub(t1)
	if term > adv {
		t.Errorf("graceful stop: VIP on b after %s, want within %s", term, adv)
	}

	t2 := time.Now()
	sa = a.startVRRP(t, cfgA)
	a.vipEvent(true, t2, 6*time.Second)
	time.Sleep(200 * time.Millisecond)
	t3 := time.Now()
	sa.kill()
	kill := b.vipEvent(true, t3, 6*time.Second).Sub(t3)
	if kill > masterDown+slack {
		t.Errorf("SIGKILL: VIP on b after %s, want within %s", kill, masterDown)
	}
	logFigures(t,
		figure{"quill↔quill, advert 1s, SIGTERM master → VIP on backup", term, "keepalived 0.616–0.626 s (skew 0.609 s)"},
		figure{"quill↔quill, advert 1s, SIGKILL master → VIP on backup", kill, "keepalived 3.59–3.60 s (≤ 3.609 s after the last advert)"},
	)
}

// Errors a user meets first are clear: a missing interface, missing
// capabilities.
func TestVRRPClearErrors(t *testing.T) {
	l := newLab(t, "a")
	a := l.hosts["a"]
	dir := t.TempDir()
	write := func(name, cfg string) string {
		p := filepath.Join(dir, name)
		if err := writeFile(p, cfg); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"unknown interface", []string{quillBin, "vrrp", "-c", write("eth9.toml", strings.Replace(vrrpConfig(100, "1s", ""), `"eth0"`, `"eth9"`, 1))},
			`interface "eth9" does not exist (this host has: lo, eth0)`},
		{"unknown tracked interface", []string{quillBin, "vrrp", "-c", write("track.toml", vrrpConfig(100, "1s", `track_interfaces = ["eth1"]`))},
			`track_interfaces: interface "eth1" does not exist`},
		{"no capabilities", []string{"setpriv", "--inh-caps=-net_raw,-net_admin", "--bounding-set=-net_raw,-net_admin", quillBin, "vrrp", "-c", write("ok.toml", vrrpConfig(100, "1s", ""))},
			"quill vrrp needs CAP_NET_RAW (raw sockets for adverts and ARP) and CAP_NET_ADMIN (virtual addresses); missing CAP_NET_RAW and CAP_NET_ADMIN"},
		{"bad config", []string{quillBin, "vrrp", "-c", write("bad.toml", vrrpConfig(100, "150ms", "version = 2"))},
			"advert_interval 150ms must be whole seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.argv[0] == "setpriv" {
				requireTool(t, "setpriv")
			}
			cmd := exec.Command("ip", append([]string{"netns", "exec", a.ns}, tt.argv...)...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exited 0:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestVRRPExampleConfigsPassCheck(t *testing.T) {
	for _, name := range []string{"lb1.toml", "lb2.toml"} {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(quillBin, "check", "-c", filepath.Join("..", "configs", "two-node-ha", name)).CombinedOutput()
			if err != nil {
				t.Fatalf("check failed: %v\n%s", err, out)
			}
		})
	}
}

// quill and keepalived elect one master, and either one's failure moves
// the VIP to the other: VRRPv3 with 100ms adverts, and VRRPv2 with
// keepalived's PASS authentication.
func TestVRRPKeepalived(t *testing.T) {
	tests := []struct {
		name     string
		version  int
		advert   time.Duration
		password string
	}{
		{"v3", 3, 100 * time.Millisecond, ""},
		{"v2 pass", 2, time.Second, "s3cr3t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv := tt.advert
			l := newLab(t, "a", "b")
			a, b := l.hosts["a"], l.hosts["b"]
			extra := ""
			if tt.version == 2 {
				extra = "version = 2\npassword = \"" + tt.password + "\""
			}
			kaAdvert := strings.TrimSuffix(strings.TrimSuffix(adv.String(), "s"), "m")
			if adv < time.Second {
				kaAdvert = "0.1"
			}
			quillCfg := func(prio int) string { return vrrpConfig(prio, adv.String(), extra) }

			// quill 150, keepalived 100: quill is master.
			t0 := time.Now()
			ka := b.startKeepalived(t, keepalivedConf(tt.version, 100, kaAdvert, tt.password))
			sa := a.startVRRP(t, quillCfg(150))
			a.vipEvent(true, t0, 3*adv+time.Second+5*time.Second)
			time.Sleep(3 * adv)
			if b.hasVIP() {
				t.Fatalf("keepalived holds the VIP beside quill\n%s", ka.out.String())
			}

			// quill stops: keepalived takes over after its skew.
			t1 := time.Now()
			sa.signal(syscall.SIGTERM)
			quillToKa := b.vipEvent(true, t1, 3*time.Second).Sub(t1)
			sa.wait(t, 5*time.Second)
			if !strings.Contains(ka.out.String(), "Backup received priority 0 advertisement") {
				t.Errorf("keepalived did not see quill's priority 0 advert\n%s", ka.out.String())
			}

			// quill back with priority 50: it stays backup under keepalived.
			sa = a.startVRRP(t, quillCfg(50))
			sa.waitLog(t, "INIT -> BACKUP", 3*time.Second)
			time.Sleep(3*adv + 500*time.Millisecond)
			if a.hasVIP() || !b.hasVIP() {
				t.Fatalf("a (quill, priority 50) has the VIP %v, b (keepalived, 100) %v", a.hasVIP(), b.hasVIP())
			}

			// keepalived stops: quill takes over after its skew.
			t2 := time.Now()
			ka.stop(t)
			kaToQuill := a.vipEvent(true, t2, 3*time.Second).Sub(t2)
			sa.waitLog(t, "resigned (priority 0)", time.Second)
			if kaToQuill > adv+skew(50, adv)+slack {
				t.Errorf("keepalived stop: VIP on quill after %s", kaToQuill)
			}
			if quillToKa > adv+slack {
				t.Errorf("quill stop: VIP on keepalived after %s", quillToKa)
			}
			logFigures(t,
				figure{"quill 150 → keepalived 100, " + tt.name + " " + adv.String() + ", SIGTERM quill", quillToKa, "skew(100) = " + skew(100, adv).String()},
				figure{"keepalived 100 → quill 50, " + tt.name + " " + adv.String() + ", SIGTERM keepalived", kaToQuill, "skew(50) = " + skew(50, adv).String()},
			)
		})
	}
}

// quill with protocol = "carp" and ucarp elect one master; quill's stop
// (advbase = advskew = 255) makes ucarp take over without waiting out its
// dead interval; ucarp's stop (it sends nothing) after 3×advbase+advskew.
func TestVRRPUcarp(t *testing.T) {
	l := newLab(t, "a", "b")
	a, b := l.hosts["a"], l.hosts["b"]
	carp := func(prio int) string {
		return strings.Replace(vrrpConfig(prio, "1s", "protocol = \"carp\"\npassword = \"s3cr3t\""), "vrid = 77", "vrid = 42", 1)
	}
	// quill priority 200 = advskew 55, ucarp advskew 100: quill advertises more often and wins.
	t0 := time.Now()
	uc := b.startUcarp(t, 42, 100, "s3cr3t")
	sa := a.startVRRP(t, carp(200))
	a.vipEvent(true, t0, 8*time.Second)
	time.Sleep(1500 * time.Millisecond)
	if b.hasVIP() {
		t.Fatalf("ucarp holds the VIP beside quill\n%s", uc.out.String())
	}

	t1 := time.Now()
	sa.signal(syscall.SIGTERM)
	quillToUcarp := b.vipEvent(true, t1, 4*time.Second).Sub(t1)
	sa.wait(t, 5*time.Second)

	// quill back with priority 100 = advskew 155: it stays backup.
	sa = a.startVRRP(t, carp(100))
	sa.waitLog(t, "INIT -> BACKUP", 3*time.Second)
	time.Sleep(4 * time.Second)
	if a.hasVIP() || !b.hasVIP() {
		t.Fatalf("a (quill, advskew 155) has the VIP %v, b (ucarp, advskew 100) %v", a.hasVIP(), b.hasVIP())
	}
	if strings.Contains(sa.out.String(), "dropped") {
		t.Fatalf("quill dropped ucarp's adverts:\n%s", sa.out.String())
	}

	t2 := time.Now()
	uc.signal(syscall.SIGTERM)
	ucarpToQuill := a.vipEvent(true, t2, 6*time.Second).Sub(t2)
	deadline := 3*time.Second + 155*time.Second/256
	if ucarpToQuill > deadline+slack {
		t.Errorf("ucarp stop: VIP on quill after %s, want within %s", ucarpToQuill, deadline)
	}
	logFigures(t,
		figure{"quill (advskew 55) → ucarp (advskew 100), SIGTERM quill", quillToUcarp, "ucarp→ucarp SIGTERM: 4.2–4.4 s (no resign)"},
		figure{"ucarp (advskew 100) → quill (advskew 155), SIGTERM ucarp", ucarpToQuill, "3+155/256 = 3.605 s after ucarp's last advert"},
	)
}

// Another protocol or version on quill's VRID is logged loudly: keepalived
// speaking VRRPv2, then ucarp speaking CARP, on VRID 77.
func TestVRRPRefusesMixedProtocols(t *testing.T) {
	l := newLab(t, "a", "b")
	a, b := l.hosts["a"], l.hosts["b"]
	sa := a.startVRRP(t, vrrpConfig(100, "1s", ""))
	ka := b.startKeepalived(t, keepalivedConf(2, 100, "1", ""))
	sa.waitLog(t, "a VRRPv2 router uses VRID 77 on this segment, and we speak VRRPv3: both will be master", 8*time.Second)
	if !strings.Contains(sa.out.String(), `"peer": "10.77.0.2"`) {
		t.Errorf("the conflict does not name the peer:\n%s", sa.out.String())
	}
	ka.stop(t)
	b.run("ip", "addr", "flush", "dev", "eth0", "label", "eth0", "to", vipNet)
	b.startUcarp(t, 77, 0, "pw")
	sa.waitLog(t, "a CARP router uses vhid 77, our VRID, on this segment", 8*time.Second)
}
