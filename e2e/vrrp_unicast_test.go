package e2e

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A pair of quill sidecars with unicast_peers on a segment that floods no
// multicast (where a multicast pair elects two masters): one master, adverts as unicast frames with TTL 255 and none
// to the multicast group; a graceful stop moves the VIP after the backup's
// skew (priority 0), SIGKILL after the master-down interval. A third
// router that is not a configured peer is not heard (its adverts are
// dropped and counted).
func TestVRRPUnicastPair(t *testing.T) {
	const adv = 100 * time.Millisecond
	l := newLabPrefix(t, unicastPrefix, "a", "b", "c")
	a, b, c := l.hosts["a"], l.hosts["b"], l.hosts["c"]
	l.blockMulticast()
	sn := l.sniff()
	metrics := `listen = "127.0.0.1:9091"`
	cfgA := unicastConfig(150, "100ms", []string{b.ip}, metrics)
	cfgB := unicastConfig(100, "100ms", []string{a.ip}, metrics)
	masterDown := 3*adv + skew(100, adv)

	// The control: on this segment multicast adverts do not arrive, so a
	// multicast pair elects two masters.
	mb, ma := b.startVRRP(t, vrrpConfig(100, "100ms", "")), a.startVRRP(t, vrrpConfig(150, "100ms", ""))
	eventually(t, 5*time.Second, func() bool { return a.hasVIP() && b.hasVIP() })
	// /proc/net/igmp lists 224.0.0.18 as 120000E0.
	joined := func(h *host) bool { return strings.Contains(h.run("cat", "/proc/net/igmp"), "120000E0") }
	if !joined(a) {
		t.Fatal("the multicast sidecar did not join 224.0.0.18")
	}
	ma.stop(t)
	mb.stop(t)

	t0 := time.Now()
	sb := b.startVRRP(t, cfgB)
	sa := a.startVRRP(t, cfgA)
	a.vipEvent(true, t0, 5*time.Second)
	time.Sleep(10 * adv)
	if b.hasVIP() || !a.hasVIP() {
		t.Fatalf("after the election: a has the VIP %v, b %v\na: %s\nb: %s", a.hasVIP(), b.hasVIP(), sa.out.String(), sb.out.String())
	}
	if joined(a) || joined(b) {
		t.Error("a unicast sidecar joined 224.0.0.18")
	}
	if n := advertsReceived(t, b); n < 5 {
		t.Fatalf("b received %v adverts from a", n)
	}
	var mcast, ucast int
	for _, f := range sn.frames(t0) {
		if f.multicast || f.dst.IsMulticast() {
			mcast++
			continue
		}
		ucast++
		if f.ttl != 255 || f.raw[15] != 0xc0 {
			t.Errorf("a unicast advert from %s with TTL %d and TOS %#x, want 255 and 0xc0", f.src, f.ttl, f.raw[15])
		}
		if f.src.String() == a.ip && f.dst.String() != b.ip {
			t.Errorf("a sent an advert to %s, not to its peer %s", f.dst, b.ip)
		}
	}
	t.Logf("on the wire: %d unicast adverts, %d multicast", ucast, mcast)
	if mcast != 0 || ucast == 0 {
		t.Fatalf("%d multicast and %d unicast protocol-112 frames on the wire, want none and some", mcast, ucast)
	}

	// c, not a peer of a or b, claims the VRID with priority 200: a and b
	// drop its adverts, count them, and a stays master.
	sc := c.startVRRP(t, unicastConfig(200, "100ms", []string{a.ip, b.ip}, ""))
	sa.waitLog(t, "not one of unicast_peers", 5*time.Second)
	if got := metric(t, a, `quill_vrrp_packets_dropped_total{instance="www",reason="peer"}`); got < 1 {
		t.Errorf("a counted %v adverts from a stranger", got)
	}
	if !a.hasVIP() || strings.Contains(strings.Join(sa.transitions(), " "), "MASTER->BACKUP") {
		t.Fatalf("a yielded to a router that is not its peer: %v", sa.transitions())
	}
	sc.stop(t)

	// Graceful stop: priority 0 by unicast, b takes over after its skew.
	t1 := time.Now()
	sa.signal(syscall.SIGTERM)
	term := b.vipEvent(true, t1, 2*time.Second).Sub(t1)
	sa.wait(t, 5*time.Second)
	sb.waitLog(t, "resigned (priority 0)", time.Second)
	if term > adv+slack {
		t.Errorf("graceful stop: VIP on b after %s, want within one advert interval (%s)", term, adv)
	}

	// a back: it preempts; then SIGKILL, b waits out the master-down interval.
	t2 := time.Now()
	sa = a.startVRRP(t, cfgA)
	a.vipEvent(true, t2, 3*time.Second)
	b.vipEvent(false, t2, 3*time.Second)
	time.Sleep(5 * adv)
	t3 := time.Now()
	sa.kill()
	kill := b.vipEvent(true, t3, 3*time.Second).Sub(t3)
	if kill > masterDown+slack {
		t.Errorf("SIGKILL: VIP on b after %s, want within %s", kill, masterDown)
	}
	if n := len(sn.frames(t0)); n == 0 {
		t.Fatal("no frame seen")
	}
	for _, f := range sn.frames(t0) {
		if f.multicast || f.dst.IsMulticast() {
			t.Fatalf("a multicast advert on the wire: %s -> %s", f.src, f.dst)
		}
	}
	logFigures(t,
		figure{"unicast quill↔quill, advert 100ms, SIGTERM master → VIP on backup", term, "skew(100) = 0.061 s"},
		figure{"unicast quill↔quill, advert 100ms, SIGKILL master → VIP on backup", kill, fmt.Sprintf("3×0.1+skew = %.3f s", masterDown.Seconds())},
	)
}

// quill and keepalived with unicast_peer elect one master on a segment
// without multicast, both ways: VRRPv3 (100ms), VRRPv2 with PASS (1s),
// and VRRPv3 over IPv6 (quill's default source there is its global
// address, which keepalived's check_unicast_src accepts). keepalived's
// adverts are captured from the wire; with QUILL_CAPTURE_VECTORS=FILE
// they are appended to FILE in vrrp/testdata/adverts.txt's format.
func TestVRRPUnicastKeepalived(t *testing.T) {
	tests := []struct {
		name     string
		version  int
		advert   time.Duration
		password string
		v6       bool
	}{
		{"v3", 3, 100 * time.Millisecond, "", false},
		{"v2-pass", 2, time.Second, "s3cr3t", false},
		{"ipv6", 3, 100 * time.Millisecond, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv := tt.advert
			l := newLabPrefix(t, unicastPrefix, "a", "b")
			a, b := l.hosts["a"], l.hosts["b"]
			l.blockMulticast()
			vipAddr, vipPrefix, srcA, srcB := vip, vipNet, a.ip, b.ip
			if tt.v6 {
				for _, h := range []*host{a, b} {
					h.run("ip", "-6", "addr", "add", ip6Of(h)+"/64", "dev", "eth0", "nodad")
				}
				l.staticNeighbours()
				vipAddr, vipPrefix, srcA, srcB = "fd77::100", "fd77::100/64", ip6Of(a), ip6Of(b)
			}
			has := func(h *host) bool { return h.hasAddr(vipAddr) }
			// takeover is how long after since the VIP reached h: from the
			// netlink event for IPv4, polled every 20ms for IPv6.
			takeover := func(h *host, since time.Time) time.Duration {
				if !tt.v6 {
					return h.vipEvent(true, since, 3*time.Second).Sub(since)
				}
				eventually(t, 3*time.Second, func() bool { return has(h) })
				return time.Since(since)
			}
			extra := ""
			if tt.version == 2 {
				// The source named, as keepalived's unicast_src_ip.
				extra = "version = 2\npassword = \"" + tt.password + "\"\nunicast_source = \"" + srcA + "\""
			}
			quillCfg := func(prio int) string {
				return strings.Replace(unicastConfig(prio, adv.String(), []string{srcB}, extra), vipNet, vipPrefix, 1)
			}
			kaAdvert := "1"
			if adv < time.Second {
				kaAdvert = "0.1"
			}
			kaConf := keepalivedUnicast(strings.Replace(keepalivedConf(tt.version, 100, kaAdvert, tt.password), vipNet, vipPrefix, 1), srcB, srcA)
			sn := l.sniff()

			// quill 150, keepalived 100: quill is master.
			ka := b.startKeepalived(t, kaConf)
			sa := a.startVRRP(t, quillCfg(150))
			eventually(t, 3*adv+6*time.Second, func() bool { return has(a) })
			time.Sleep(3 * adv)
			if has(b) {
				t.Fatalf("keepalived holds the VIP beside quill\n%s", ka.out.String())
			}

			// quill stops: keepalived takes over after its skew.
			t1 := time.Now()
			sa.signal(syscall.SIGTERM)
			quillToKa := takeover(b, t1)
			sa.wait(t, 5*time.Second)
			if !strings.Contains(ka.out.String(), "Backup received priority 0 advertisement") {
				t.Errorf("keepalived did not see quill's priority 0 advert\n%s", ka.out.String())
			}

			// quill back with priority 50: it stays backup under keepalived.
			sa = a.startVRRP(t, quillCfg(50))
			sa.waitLog(t, "INIT -> BACKUP", 3*time.Second)
			time.Sleep(3*adv + 500*time.Millisecond)
			if has(a) || !has(b) {
				t.Fatalf("a (quill, priority 50) has the VIP %v, b (keepalived, 100) %v\n%s", has(a), has(b), sa.out.String())
			}
			if strings.Contains(sa.out.String(), "dropped a packet") {
				t.Fatalf("quill dropped keepalived's adverts:\n%s", sa.out.String())
			}

			// keepalived stops: quill takes over after its skew.
			t2 := time.Now()
			ka.signal(syscall.SIGTERM)
			kaToQuill := takeover(a, t2)
			ka.stop(t)
			sa.waitLog(t, "resigned (priority 0)", time.Second)
			// IPv6 is polled by running ip every 20ms: allow for that.
			var poll time.Duration
			if tt.v6 {
				poll = 100 * time.Millisecond
			}
			if kaToQuill > adv+skew(50, adv)+slack+poll {
				t.Errorf("keepalived stop: VIP on quill after %s", kaToQuill)
			}
			if quillToKa > adv+slack+poll {
				t.Errorf("quill stop: VIP on keepalived after %s", quillToKa)
			}

			// What keepalived sent: unicast to quill, from its source; what
			// quill sent: unicast to keepalived with TTL / hop limit 255; no
			// multicast from anyone.
			var vectors []string
			var kaFrames int
			for _, f := range sn.frames(t1) {
				if f.multicast || f.dst.IsMulticast() {
					t.Fatalf("a multicast advert on the wire: %s -> %s", f.src, f.dst)
				}
				if f.src.String() == srcA && (f.ttl != 255 || f.dst.String() != srcB) {
					t.Errorf("quill sent an advert to %s with TTL %d, want %s and 255", f.dst, f.ttl, srcB)
				}
				if f.src.String() != srcB {
					continue
				}
				kaFrames++
				if f.dst.String() != srcA {
					t.Errorf("keepalived sent to %s, want %s", f.dst, srcA)
				}
				name := fmt.Sprintf("ka-unicast-%s-prio%d", tt.name, f.payload[2])
				line := fmt.Sprintf("%-26s %-10s %-10s %x  # TTL %d", name, f.src, f.dst, f.payload, f.ttl)
				if !strings.Contains(strings.Join(vectors, "\n"), name+" ") {
					vectors = append(vectors, line)
				}
			}
			if kaFrames == 0 {
				t.Fatal("no advert from keepalived on the wire")
			}
			t.Logf("keepalived's unicast adverts:\n%s", strings.Join(vectors, "\n"))
			saveVectors(t, vectors)
			logFigures(t,
				figure{"unicast quill 150 → keepalived 100, " + tt.name + " " + adv.String() + ", SIGTERM quill", quillToKa, "skew(100) = " + skew(100, adv).String()},
				figure{"unicast keepalived 100 → quill 50, " + tt.name + " " + adv.String() + ", SIGTERM keepalived", kaToQuill, "skew(50) = " + skew(50, adv).String()},
			)
		})
	}
}

// Unicast failover times beside multicast, measured the same way: a pair
// at 100ms adverts (a 150 master, b 100), the master stopped (SIGTERM),
// killed (SIGKILL) or its link set down at a random point between two
// adverts, timed from that event to the netlink notice of the VIP on b;
// the median of 5 runs of each (1 with -short). The unicast pair runs on a
// segment that floods no multicast.
func TestVRRPUnicastFailoverFigures(t *testing.T) {
	const adv = 100 * time.Millisecond
	runs := 5
	if testing.Short() {
		runs = 1
	}
	masterDown := 3*adv + skew(100, adv)
	var figs []figure
	for _, mode := range []string{"multicast", "unicast"} {
		l := newLabPrefix(t, unicastPrefix, "a", "b")
		a, b := l.hosts["a"], l.hosts["b"]
		cfgA, cfgB := vrrpConfig(150, "100ms", ""), vrrpConfig(100, "100ms", "")
		if mode == "unicast" {
			l.blockMulticast()
			cfgA, cfgB = unicastConfig(150, "100ms", []string{b.ip}, ""), unicastConfig(100, "100ms", []string{a.ip}, "")
		}
		nh := a.handle()
		t0 := time.Now()
		b.startVRRP(t, cfgB)
		sa := a.startVRRP(t, cfgA)
		a.vipEvent(true, t0, 5*time.Second)
		times := map[string][]time.Duration{}
		for range runs {
			for _, event := range []string{"SIGTERM", "SIGKILL", "link down"} {
				time.Sleep(5*adv + time.Duration(rand.IntN(int(adv))))
				t1 := time.Now()
				switch event {
				case "SIGTERM":
					sa.signal(syscall.SIGTERM)
				case "SIGKILL":
					sa.kill()
				case "link down":
					a.setLink(nh, false)
				}
				took := b.vipEvent(true, t1, 3*time.Second).Sub(t1)
				times[event] = append(times[event], took)
				t2 := time.Now()
				if event == "link down" {
					a.setLink(nh, true)
				} else {
					sa.wait(t, 5*time.Second)
					sa = a.startVRRP(t, cfgA)
				}
				a.vipEvent(true, t2, 5*time.Second)
				b.vipEvent(false, t2, 5*time.Second)
			}
		}
		nh.Close()
		for _, event := range []string{"SIGTERM", "SIGKILL", "link down"} {
			ref := fmt.Sprintf("≤ 3×0.1+skew = %.3f s", masterDown.Seconds())
			if event == "SIGTERM" {
				ref = fmt.Sprintf("skew(100) = %.3f s", skew(100, adv).Seconds())
			}
			figs = append(figs, figure{fmt.Sprintf("%s, advert 100ms, %s master → VIP on backup (median of %d: %s)", mode, event, runs, roundAll(times[event])),
				median(times[event]), ref})
			if m := median(times[event]); m > masterDown+slack {
				t.Errorf("%s, %s: median failover %s, want within %s", mode, event, m, masterDown)
			}
		}
	}
	logFigures(t, figs...)
}

func roundAll(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.3f", d.Seconds()))
	}
	return strings.Join(s, " ")
}

// What can only be checked on the host is, when quill vrrp starts, with a
// clear error: a unicast_source that is not on the interface, a peer that
// is one of this host's own addresses.
func TestVRRPUnicastClearErrors(t *testing.T) {
	l := newLabPrefix(t, unicastPrefix, "a")
	a := l.hosts["a"]
	dir := t.TempDir()
	tests := []struct {
		name, cfg, want string
	}{
		{"source not on the interface", unicastConfig(100, "1s", []string{"10.77.0.2"}, `unicast_source = "10.77.0.9"`),
			`unicast_source 10.77.0.9 is not an address of interface eth0 (it has: 10.77.0.1)`},
		{"peer is this host", unicastConfig(100, "1s", []string{"10.77.0.2", "10.77.0.1"}, ""),
			`unicast peer 10.77.0.1 is an address of this host's interface eth0`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("%d.toml", i))
			if err := writeFile(path, tt.cfg); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("ip", "netns", "exec", a.ns, vrrpBin, "vrrp", "-c", path).CombinedOutput()
			if err == nil {
				t.Fatalf("exited 0:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}
