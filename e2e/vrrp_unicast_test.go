package e2e

import (
	"fmt"
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
		if f.ttl != 255 {
			t.Errorf("a unicast advert from %s with TTL %d, want 255", f.src, f.ttl)
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
