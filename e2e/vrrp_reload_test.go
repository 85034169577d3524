package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vrrpReloadConfig is a quill.toml with instance www (VRID 77, the lab's VIP)
// and, when apiPrio > 0, instance api (VRID 78, 10.77.0.101); 100ms
// adverts; extra goes at the end.
func vrrpReloadConfig(wwwPrio, apiPrio int, extra string) string {
	s := fmt.Sprintf(`[log]
level = "info"

[[vrrp.instances]]
name = "www"
interface = "eth0"
vrid = 77
priority = %d
advert_interval = "100ms"
addresses = [%q]
listen = "127.0.0.1:9091"
`, wwwPrio, vipNet)
	if apiPrio > 0 {
		s += fmt.Sprintf(`
[[vrrp.instances]]
name = "api"
interface = "eth0"
vrid = 78
priority = %d
advert_interval = "100ms"
addresses = ["10.77.0.101/24"]
`, apiPrio)
	}
	return s + extra
}

const vipAPI = "10.77.0.101"

// transitionsOf lists the state changes the sidecar logged for one instance.
func (s *sidecar) transitionsOf(instance string) []string {
	var out []string
	for _, line := range strings.Split(s.out.String(), "\n") {
		if strings.Contains(line, `"instance": "`+instance+`"`) {
			for _, m := range transitionRE.FindAllStringSubmatch(line, -1) {
				out = append(out, m[1]+"->"+m[2])
			}
		}
	}
	return out
}

// HUP reloads `quill vrrp`: an unchanged instance goes on advertising with
// no transition and no gap; a removed one resigns, so that the peer takes
// over at once (priority 0) rather than after the master-down interval; a
// changed priority takes effect; an added instance starts; a file with
// errors, or an instance this host cannot run, changes nothing.
func TestVRRPReload(t *testing.T) {
	const adv = 100 * time.Millisecond
	masterDown := 3*adv + skew(100, adv)
	l := newLabPrefix(t, unicastPrefix, "a", "b")
	a, b := l.hosts["a"], l.hosts["b"]
	sn := l.sniff()
	dir := t.TempDir()
	pathA, pathB := filepath.Join(dir, "quill-a.toml"), filepath.Join(dir, "quill-b.toml")
	t0 := time.Now()
	sb := b.startVRRPAt(t, pathB, vrrpReloadConfig(100, 100, ""))
	sa := a.startVRRPAt(t, pathA, vrrpReloadConfig(150, 150, ""))
	a.vipEvent(true, t0, 5*time.Second)
	eventually(t, 5*time.Second, func() bool { return a.hasAddr(vipAPI) })
	time.Sleep(10 * adv)

	// api removed from a's file, www unchanged.
	wwwBefore := len(sa.transitionsOf("www"))
	t1 := time.Now()
	line := sa.reload(t, pathA, vrrpReloadConfig(150, 0, ""))
	if !strings.Contains(line, `"unchanged": ["www"]`) || !strings.Contains(line, `"removed": ["api"]`) {
		t.Fatalf("reload: %s", line)
	}
	eventually(t, 2*time.Second, func() bool { return b.hasAddr(vipAPI) })
	apiMoved := time.Since(t1)
	sb.waitLog(t, "master 10.77.0.1 resigned (priority 0)", time.Second)
	if a.hasAddr(vipAPI) {
		t.Error("a kept the removed instance's VIP")
	}
	if apiMoved >= masterDown {
		t.Errorf("removed instance: its VIP reached b after %s, not before the master-down interval (%s): no priority 0 advert?", apiMoved, masterDown)
	}
	time.Sleep(time.Second)
	t2 := time.Now()
	if tr := sa.transitionsOf("www"); len(tr) != wwwBefore {
		t.Errorf("a's www changed state across the reload: %v", tr)
	}
	if added, _ := b.vipEvents(t1); added != 0 {
		t.Errorf("b took www's VIP %d times across a's reload", added)
	}
	www := sn.adverts(77, a.ip, t1.Add(-time.Second), t2)
	gap := longestGap(www)
	t.Logf("www: %d adverts from a in the %s around the reload, longest gap %s; api moved to b in %s",
		len(www), t2.Sub(t1.Add(-time.Second)).Round(time.Millisecond), gap.Round(time.Millisecond), apiMoved.Round(time.Millisecond))
	if gap >= 3*adv || len(www) < 10 {
		t.Errorf("www's adverts across the reload: %d, longest gap %s (a gap of 3 intervals lets the backup take over)", len(www), gap)
	}
	if _, body, err := get(a.httpClient(5*time.Second), "http://127.0.0.1:9091/metrics"); err != nil || strings.Contains(body, `instance="api"`) {
		t.Errorf("a's /metrics still has the removed instance (%v)", err)
	}

	// b's www priority raised above a's: it restarts and preempts a.
	apiBefore := len(sb.transitionsOf("api"))
	t3 := time.Now()
	line = sb.reload(t, pathB, vrrpReloadConfig(200, 100, ""))
	if !strings.Contains(line, `"restarted": ["www"]`) || !strings.Contains(line, `"unchanged": ["api"]`) {
		t.Fatalf("reload: %s", line)
	}
	b.vipEvent(true, t3, 3*time.Second)
	a.vipEvent(false, t3, 3*time.Second)
	if !b.hasAddr(vipAPI) || len(sb.transitionsOf("api")) != apiBefore {
		t.Errorf("b's unchanged api moved: has its VIP %v, transitions %v", b.hasAddr(vipAPI), sb.transitionsOf("api"))
	}

	// api back in a's file with priority 250: it starts and preempts b.
	line = sa.reload(t, pathA, vrrpReloadConfig(150, 250, ""))
	if !strings.Contains(line, `"added": ["api"]`) {
		t.Fatalf("reload: %s", line)
	}
	eventually(t, 3*time.Second, func() bool { return a.hasAddr(vipAPI) && !b.hasAddr(vipAPI) })

	// Refused: a file with an error (FILE:LINE logged), and an instance on
	// an interface this host lacks. Nothing changes.
	time.Sleep(5 * adv)
	starts, trans := strings.Count(sa.out.String(), "\tstarting\t"), len(sa.transitions())
	line = sa.reload(t, pathA, strings.Replace(vrrpReloadConfig(150, 250, ""), `advert_interval = "100ms"`, `advert_interval = "150ms"
version = 2`, 1))
	if !strings.Contains(line, "reload refused: the config has errors; nothing changed") || !strings.Contains(line, "quill-a.toml:9: ") {
		t.Errorf("bad file: %s", line)
	}
	line = sa.reload(t, pathA, vrrpReloadConfig(200, 250, `
[[vrrp.instances]]
name = "db"
interface = "eth9"
vrid = 79
addresses = ["10.77.0.102/24"]
`))
	if !strings.Contains(line, "reload refused; nothing changed") || !strings.Contains(line, `interface \"eth9\" does not exist`) {
		t.Errorf("missing interface: %s", line)
	}
	line = sa.reload(t, pathA, "[log]\nlevel = \"info\"\n")
	if !strings.Contains(line, "reload refused; nothing changed") || !strings.Contains(line, "no [[vrrp.instances]] in the config") {
		t.Errorf("no instances: %s", line)
	}
	var taken net.Listener
	if err := a.inNetns(func() (err error) { taken, err = net.Listen("tcp", "127.0.0.1:9092"); return err }); err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	line = sa.reload(t, pathA, strings.Replace(vrrpReloadConfig(150, 250, ""), "127.0.0.1:9091", "127.0.0.1:9092", 1))
	if !strings.Contains(line, "reload refused; nothing changed") || !strings.Contains(line, "address already in use") {
		t.Errorf("listen port taken: %s", line)
	}
	time.Sleep(5 * adv)
	if n := strings.Count(sa.out.String(), "\tstarting\t"); n != starts || len(sa.transitions()) != trans {
		t.Errorf("a refused reload restarted %d instances and made %d transitions", n-starts, len(sa.transitions())-trans)
	}
	if !a.hasAddr(vipAPI) || a.hasVIP() || !b.hasVIP() {
		t.Errorf("after refused reloads: a has api %v, www %v; b has www %v", a.hasAddr(vipAPI), a.hasVIP(), b.hasVIP())
	}
	t.Logf("a: www %v, api %v", sa.transitionsOf("www"), sa.transitionsOf("api"))
	t.Logf("b: www %v, api %v", sb.transitionsOf("www"), sb.transitionsOf("api"))
}

// A VIP deleted by hand (`ip addr del`) on the master is put back within
// one advert interval, and the sidecar says so; the backup does not move.
func TestVRRPVIPRepair(t *testing.T) {
	const adv = time.Second
	l := newLabPrefix(t, unicastPrefix, "a", "b")
	a, b := l.hosts["a"], l.hosts["b"]
	t0 := time.Now()
	sb := b.startVRRP(t, vrrpConfig(100, "1s", ""))
	sa := a.startVRRP(t, vrrpConfig(150, "1s", ""))
	a.vipEvent(true, t0, 8*time.Second)
	time.Sleep(500 * time.Millisecond)
	for i := range 2 {
		t1 := time.Now()
		a.run("ip", "addr", "del", vipNet, "dev", "eth0")
		gone := a.vipEvent(false, t1, time.Second)
		back := a.vipEvent(true, gone, 2*time.Second).Sub(gone)
		eventually(t, time.Second, func() bool {
			return strings.Count(sa.out.String(), "a virtual address was removed from outside while master: put back") == i+1
		})
		t.Logf("VIP deleted by hand on the master: back after %s (advert interval %s)", back.Round(time.Millisecond), adv)
		if back > adv {
			t.Errorf("the VIP came back after %s, want within one advert interval (%s)", back, adv)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if added, _ := b.vipEvents(t0); added != 0 || len(sa.transitions()) != 2 {
		t.Errorf("the backup took the VIP %d times; a's transitions: %v", added, sa.transitions())
	}
	_ = sb
}
