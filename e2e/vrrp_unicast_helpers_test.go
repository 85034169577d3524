package e2e

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The unicast tests name their namespaces "qu…", apart from the other
// VRRP tests' "qv…".
const unicastPrefix = "qu"

// unicastConfig is vrrpConfig with unicast_peers.
func unicastConfig(prio int, advert string, peers []string, extra string) string {
	return vrrpConfig(prio, advert, `unicast_peers = ["`+strings.Join(peers, `", "`)+"\"]\n"+extra)
}

// keepalivedUnicast turns a keepalived.conf from keepalivedConf into a
// unicast one that also checks the source of what it hears.
func keepalivedUnicast(conf, src string, peers ...string) string {
	block := "    unicast_src_ip " + src + "\n    check_unicast_src\n    unicast_peer {\n"
	for _, p := range peers {
		block += "        " + p + "\n"
	}
	block += "    }\n    virtual_ipaddress {"
	return strings.Replace(conf, "    virtual_ipaddress {", block, 1)
}

// blockMulticast makes the segment a network without multicast: the bridge
// floods no multicast frame to any port (broadcast, so ARP, still goes).
// IPv6 then needs static neighbour entries: see staticNeighbours.
func (l *lab) blockMulticast() {
	l.t.Helper()
	for name := range l.hosts {
		l.ip("-n", l.bridge, "link", "set", "dev", "p-"+name, "type", "bridge_slave", "mcast_flood", "off")
	}
}

// staticNeighbours gives every host a permanent neighbour entry for every
// other host's IPv6 address fd77::N, as neighbour discovery needs multicast.
func (l *lab) staticNeighbours() {
	l.t.Helper()
	for _, h := range l.hosts {
		for _, o := range l.hosts {
			if o != h {
				h.run("ip", "-6", "neigh", "replace", ip6Of(o), "lladdr", o.mac.String(), "dev", "eth0", "nud", "permanent")
			}
		}
	}
}

// ip6Of is a host's global IPv6 address on the lab segment.
func ip6Of(h *host) string { return "fd77::" + strings.TrimPrefix(h.ip, "10.77.0.") }

// hasAddr tells whether addr is on the host's eth0 now.
func (h *host) hasAddr(addr string) bool {
	out, err := exec.Command("ip", "-n", h.ns, "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	return err == nil && strings.Contains(string(out), " "+addr+"/")
}

// startVRRPAt runs `quill vrrp` with its config at path, which the test
// may rewrite before a HUP.
func (h *host) startVRRPAt(t *testing.T, path, config string) *sidecar {
	t.Helper()
	if err := writeFile(path, config); err != nil {
		t.Fatal(err)
	}
	s := &sidecar{proc: h.start(t, vrrpBin, "vrrp", "-c", path), host: h}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// reload rewrites the sidecar's config and sends HUP; it waits for the
// reload's outcome in the log ("reloaded" or "reload refused") and
// returns that line.
func (s *sidecar) reload(t *testing.T, path, config string) string {
	t.Helper()
	outcomes := func() []string {
		var out []string
		for _, l := range strings.Split(s.out.String(), "\n") {
			if strings.Contains(l, "\treloaded\t") || strings.Contains(l, "\treload refused") {
				out = append(out, l)
			}
		}
		return out
	}
	before := len(outcomes())
	if err := writeFile(path, config); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, func() bool { return len(outcomes()) > before })
	return outcomes()[before]
}

// frame is one protocol-112 packet seen on the segment.
type frame struct {
	at        time.Time
	multicast bool // sent to a multicast MAC
	src, dst  netip.Addr
	ttl       int
	payload   []byte
	raw       []byte // the Ethernet frame
}

// sniffer records every protocol-112 packet that enters the bridge from
// a host: a packet socket in the bridge's namespace, so it sees frames the
// bridge then drops (multicast, when blocked) as well as those it forwards.
type sniffer struct {
	fd   int
	mu   sync.Mutex
	seen []frame
	stop chan struct{}
	done chan struct{}
}

func (l *lab) sniff() *sniffer {
	l.t.Helper()
	s := &sniffer{stop: make(chan struct{}), done: make(chan struct{})}
	bridge := &host{ns: l.bridge}
	err := bridge.inNetns(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		tv := unix.Timeval{Usec: 100_000}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		s.fd = fd
		return nil
	})
	if err != nil {
		l.t.Fatalf("packet socket in %s: %v", l.bridge, err)
	}
	go s.run()
	l.t.Cleanup(s.close)
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *sniffer) run() {
	defer close(s.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			continue
		}
		// Each frame crosses the bridge twice: in from the sender's port,
		// out to the others. Count it once, coming in.
		if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if f, ok := parseFrame(buf[:n]); ok {
			f.at = time.Now()
			s.mu.Lock()
			s.seen = append(s.seen, f)
			s.mu.Unlock()
		}
	}
}

func (s *sniffer) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
	unix.Close(s.fd)
}

// parseFrame reads an Ethernet frame carrying IPv4 or IPv6 protocol 112.
func parseFrame(b []byte) (frame, bool) {
	if len(b) < 14 {
		return frame{}, false
	}
	f := frame{multicast: b[0]&1 == 1 && b[0] != 0xff, raw: append([]byte(nil), b...)}
	ip := b[14:]
	switch binary.BigEndian.Uint16(b[12:]) {
	case 0x0800:
		if len(ip) < 20 || ip[9] != 112 {
			return frame{}, false
		}
		hl, total := int(ip[0]&0xf)*4, int(binary.BigEndian.Uint16(ip[2:]))
		if total > len(ip) || hl > total {
			return frame{}, false
		}
		f.ttl = int(ip[8])
		f.src, f.dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
		f.payload = append([]byte(nil), ip[hl:total]...)
	case 0x86dd:
		if len(ip) < 40 || ip[6] != 112 {
			return frame{}, false
		}
		end := 40 + int(binary.BigEndian.Uint16(ip[4:]))
		if end > len(ip) {
			return frame{}, false
		}
		f.ttl = int(ip[7])
		f.src, f.dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
		f.payload = append([]byte(nil), ip[40:end]...)
	default:
		return frame{}, false
	}
	return f, true
}

// frames lists what was seen after since.
func (s *sniffer) frames(since time.Time) []frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []frame
	for _, f := range s.seen {
		if !f.at.Before(since) {
			out = append(out, f)
		}
	}
	return out
}

// adverts lists the adverts for vrid from src seen between since and until.
func (s *sniffer) adverts(vrid int, src string, since, until time.Time) []frame {
	var out []frame
	for _, f := range s.frames(since) {
		if f.at.Before(until) && f.src.String() == src && len(f.payload) > 1 && int(f.payload[1]) == vrid {
			out = append(out, f)
		}
	}
	return out
}

// longestGap is the longest time between two frames in a row.
func longestGap(fs []frame) time.Duration {
	var gap time.Duration
	for i := 1; i < len(fs); i++ {
		gap = max(gap, fs[i].at.Sub(fs[i-1].at))
	}
	return gap
}

// median of a few measured durations.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// saveVectors appends captured adverts to the file QUILL_CAPTURE_VECTORS
// names, in vrrp/testdata/adverts.txt's format: how those vectors are
// made again.
func saveVectors(t *testing.T, lines []string) {
	path := os.Getenv("QUILL_CAPTURE_VECTORS")
	if path == "" || len(lines) == 0 {
		return
	}
	f, err := os.OpenFile(filepath.Clean(path), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
}
