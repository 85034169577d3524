package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The VRRP tests build a throw-away layer-2 segment out of network
// namespaces: a bridge in its own namespace and one namespace per host,
// each with eth0 (a veth into the bridge) at 10.77.0.N/24. Nothing
// touches the test machine's own namespace, and everything is deleted
// when the test ends, passed or failed.

const (
	vip    = "10.77.0.100"
	vipNet = vip + "/24"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the VRRP tests need root (network namespaces, raw sockets); CI must run them as root")
		}
		t.Skip("needs root: network namespaces and raw sockets")
	}
	requireTool(t, "ip")
}

// lab is one segment.
type lab struct {
	t      *testing.T
	prefix string
	bridge string
	hosts  map[string]*host
}

// host is one namespace on the segment.
type host struct {
	lab  *lab
	name string // a, b, c...
	ns   string
	ip   string
	mac  net.HardwareAddr

	mu     sync.Mutex
	events []addrEvent // VIP appearing and going, as netlink reports it
	wake   chan struct{}
}

type addrEvent struct {
	at    time.Time
	added bool
}

// newLab creates the bridge and the hosts, host i (from 1) at 10.77.0.i;
// the last one is often the client.
func newLab(t *testing.T, names ...string) *lab { return newLabPrefix(t, "qv", names...) }

// newLabPrefix is newLab with namespaces named prefix+random+"-"+name, so
// that the tests of one file can tell their namespaces from others'.
func newLabPrefix(t *testing.T, prefix string, names ...string) *lab {
	t.Helper()
	return newLabPrefixed(t, "qv", names...)
}

// newLabPrefixed is newLab with the namespaces' names starting with
// prefix, which tells one group of tests' namespaces from another's.
func newLabPrefixed(t *testing.T, prefix string, names ...string) *lab {
	t.Helper()
	requireRoot(t)
	var rnd [3]byte
	rand.Read(rnd[:])
	l := &lab{t: t, prefix: prefix + hex.EncodeToString(rnd[:]), hosts: map[string]*host{}}
	l.bridge = l.prefix + "-br"
	t.Cleanup(l.destroy)
	l.ip("netns", "add", l.bridge)
	l.ip("-n", l.bridge, "link", "set", "lo", "up")
	// No multicast snooping: the bridge floods 224.0.0.18 and ff02::12 as a plain switch does.
	l.ip("-n", l.bridge, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
	l.ip("-n", l.bridge, "link", "set", "br0", "up")
	for i, name := range names {
		h := &host{lab: l, name: name, ns: l.prefix + "-" + name, ip: fmt.Sprintf("10.77.0.%d", i+1),
			mac: net.HardwareAddr{0x02, 0x77, 0, 0, 0, byte(i + 1)}, wake: make(chan struct{}, 1)}
		l.hosts[name] = h
		l.ip("netns", "add", h.ns)
		l.ip("-n", h.ns, "link", "set", "lo", "up")
		// Set before eth0 exists so that it inherits them: no tentative
		// link-local address, IPv6 addresses kept across link down.
		h.run("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.keep_addr_on_down=1")
		l.ip("link", "add", "p-"+name, "netns", l.bridge, "type", "veth", "peer", "name", "eth0", "netns", h.ns, "address", h.mac.String())
		l.ip("-n", l.bridge, "link", "set", "p-"+name, "master", "br0", "up")
		l.ip("-n", h.ns, "link", "set", "eth0", "up")
		l.ip("-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
		h.watchVIP()
	}
	return l
}

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (l *lab) destroy() {
	for _, h := range l.hosts {
		exec.Command("ip", "netns", "del", h.ns).Run()
	}
	exec.Command("ip", "netns", "del", l.bridge).Run()
}

// run runs a command in the host's namespace and returns its output.
func (h *host) run(args ...string) string {
	h.lab.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.ns}, args...)...).CombinedOutput()
	if err != nil {
		h.lab.t.Fatalf("%s: %s: %v\n%s", h.ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start starts a long-running command in the namespace (ip netns exec
// execs it, so the PID is the command's own).
func (h *host) start(t *testing.T, args ...string) *proc {
	t.Helper()
	return start(t, nil, "ip", append([]string{"netns", "exec", h.ns}, args...)...)
}

// handle is a netlink handle inside the host's namespace.
func (h *host) handle() *netlink.Handle {
	h.lab.t.Helper()
	ns, err := netns.GetFromName(h.ns)
	if err != nil {
		h.lab.t.Fatal(err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		h.lab.t.Fatal(err)
	}
	return nh
}

// setLink takes eth0 down or up, at once (no process start-up).
func (h *host) setLink(nh *netlink.Handle, up bool) {
	h.lab.t.Helper()
	link, err := nh.LinkByName("eth0")
	if err != nil {
		h.lab.t.Fatal(err)
	}
	if up {
		err = nh.LinkSetUp(link)
	} else {
		err = nh.LinkSetDown(link)
	}
	if err != nil {
		h.lab.t.Fatal(err)
	}
}

// hasVIP tells whether the VIP is on the host's eth0 now.
func (h *host) hasVIP() bool {
	out, err := exec.Command("ip", "-n", h.ns, "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	return err == nil && strings.Contains(string(out), " "+vip+"/")
}

// watchVIP records, with the time netlink reports them, the VIP coming and
// going on the host.
func (h *host) watchVIP() {
	ns, err := netns.GetFromName(h.ns)
	if err != nil {
		h.lab.t.Fatal(err)
	}
	ch := make(chan netlink.AddrUpdate, 256)
	done := make(chan struct{})
	err = netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{Namespace: &ns})
	ns.Close()
	if err != nil {
		h.lab.t.Fatal(err)
	}
	h.lab.t.Cleanup(func() { close(done) })
	want := netip.MustParseAddr(vip)
	go func() {
		for u := range ch {
			ip, _ := netip.AddrFromSlice(u.LinkAddress.IP)
			if ip.Unmap() != want {
				continue
			}
			h.mu.Lock()
			h.events = append(h.events, addrEvent{time.Now(), u.NewAddr})
			h.mu.Unlock()
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}()
}

// vipEvent waits until the VIP is added (or removed) on the host after
// since, and returns when; it fails the test after timeout.
func (h *host) vipEvent(added bool, since time.Time, timeout time.Duration) time.Time {
	h.lab.t.Helper()
	at, ok := h.tryVIPEvent(added, since, timeout)
	if !ok {
		h.lab.t.Fatalf("%s: VIP %s within %s: no (has it now: %v)", h.name, map[bool]string{true: "added", false: "removed"}[added], timeout, h.hasVIP())
	}
	return at
}

func (h *host) tryVIPEvent(added bool, since time.Time, timeout time.Duration) (time.Time, bool) {
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		for _, e := range h.events {
			if e.added == added && !e.at.Before(since) {
				h.mu.Unlock()
				return e.at, true
			}
		}
		h.mu.Unlock()
		select {
		case <-h.wake:
		case <-deadline:
			return time.Time{}, false
		}
	}
}

// vipEvents counts VIP additions and removals on the host after since.
func (h *host) vipEvents(since time.Time) (added, removed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e.at.Before(since) {
			continue
		}
		if e.added {
			added++
		} else {
			removed++
		}
	}
	return
}

// vrrpConfig is a quill.toml with one VRRP instance for the lab's VIP;
// extra lines go into the instance.
func vrrpConfig(prio int, advert, extra string) string {
	return fmt.Sprintf(`[log]
level = "info"

[[vrrp.instances]]
name = "www"
interface = "eth0"
vrid = 77
priority = %d
advert_interval = %q
addresses = [%q]
%s
`, prio, advert, vipNet, extra)
}

// sidecar is a running `quill vrrp`.
type sidecar struct {
	*proc
	host *host
}

// startVRRP runs `quill vrrp` on the host with config. At the end of the
// test it is stopped with TERM (so it removes what it added) before the
// harness kills whatever is left.
func (h *host) startVRRP(t *testing.T, config string) *sidecar {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quill-"+h.name+".toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sidecar{proc: h.start(t, vrrpBin, "vrrp", "-c", path), host: h}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends TERM and waits for the exit.
func (s *sidecar) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	s.signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Errorf("quill vrrp on %s still running 5s after TERM", s.host.name)
	}
}

// transitions lists the state changes the sidecar logged ("BACKUP -> MASTER").
var transitionRE = regexp.MustCompile(`\b(INIT|BACKUP|MASTER|FAULT) -> (INIT|BACKUP|MASTER|FAULT)\b`)

func (s *sidecar) transitions() []string {
	var out []string
	for _, m := range transitionRE.FindAllStringSubmatch(s.out.String(), -1) {
		out = append(out, m[1]+"->"+m[2])
	}
	return out
}

// waitLog waits until the sidecar's output contains s.
func (s *sidecar) waitLog(t *testing.T, sub string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() bool { return strings.Contains(s.out.String(), sub) })
}

// inNetns runs f on an OS thread that has entered the host's network
// namespace; sockets f creates belong to that namespace. The thread is
// thrown away afterwards, so the test process's other threads never move.
func (h *host) inNetns(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fd, err := unix.Open("/run/netns/"+h.ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// httpClient is an HTTP client whose connections are made from the host's
// namespace; each request opens a new connection (no keep-alive), so a
// request after a failover reaches whichever host holds the VIP then.
func (h *host) httpClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := h.inNetns(func() error {
					var err error
					c, err = d.DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// figure is one measured failover, printed beside keepalived's.
type figure struct {
	name      string
	got       time.Duration
	reference string // keepalived's figure from the lab, or the target
}

func logFigures(t *testing.T, figs ...figure) {
	t.Helper()
	w := len("scenario")
	for _, f := range figs {
		w = max(w, len([]rune(f.name)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %10s   %s\n", w, "scenario", "measured", "reference")
	for _, f := range figs {
		fmt.Fprintf(&b, "%s%s %9.3fs   %s\n", f.name, strings.Repeat(" ", w-len([]rune(f.name))), f.got.Seconds(), f.reference)
	}
	t.Logf("failover figures:\n%s", b.String())
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

// touch opens (and drops) a TCP connection from the host to addr, so that
// the host resolves the address's neighbour entry; a refusal is fine.
func (h *host) touch(addr string) {
	h.inNetns(func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return nil
	})
}
