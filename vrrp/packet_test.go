package vrrp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// vector is one captured message from testdata/adverts.txt.
type vector struct {
	src, dst netip.Addr
	b        []byte
}

func readHexLines(t testing.TB, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		m[fields[0]] = fields[1:]
	}
	return m
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func adverts(t testing.TB) map[string]vector {
	t.Helper()
	m := map[string]vector{}
	for name, f := range readHexLines(t, "testdata/adverts.txt") {
		m[name] = vector{netip.MustParseAddr(f[0]), netip.MustParseAddr(f[1]), mustHex(t, f[2])}
	}
	return m
}

func frames(t testing.TB) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for name, f := range readHexLines(t, "testdata/frames.txt") {
		m[name] = mustHex(t, f[0])
	}
	return m
}

var (
	vip4 = netip.MustParseAddr("10.77.0.100")
	vip6 = netip.MustParseAddr("fd77::100")
	macA = net.HardwareAddr{0x02, 0x77, 0, 0, 0, 1}
)

func TestDecodeCaptured(t *testing.T) {
	vs := adverts(t)
	pass := AuthPassword("s3cr3t")
	tests := []struct {
		name string
		want *Advert
	}{
		{"v3-prio150", &Advert{Version: 3, VRID: 77, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip4}, Checksum: 0x42bf}},
		{"v3-prio0", &Advert{Version: 3, VRID: 77, Priority: 0, Interval: time.Second, Addresses: []netip.Addr{vip4}, Checksum: 0xd8bf}},
		{"v3-prio100-b", &Advert{Version: 3, VRID: 77, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{vip4}, Checksum: 0x74be}},
		{"v3-10cs", &Advert{Version: 3, VRID: 77, Priority: 150, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip4}, Checksum: 0x4319}},
		{"v2-pass", &Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, AuthType: AuthText, AuthData: pass, Addresses: []netip.Addr{vip4}, Checksum: 0x32ff}},
		{"v2-pass-prio0", &Advert{Version: 2, VRID: 51, Priority: 0, Interval: time.Second, AuthType: AuthText, AuthData: pass, Addresses: []netip.Addr{vip4}, Checksum: 0xc8ff}},
		{"v3-ipv6", &Advert{Version: 3, VRID: 78, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip6}, Checksum: 0x3c3e}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vs[tt.name]
			m, err := Decode(v.b, v.src, v.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, tt.want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", m, tt.want)
			}
			// Encoding what keepalived sent gives its bytes back.
			b, err := tt.want.Marshal(v.src, v.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, v.b) {
				t.Fatalf("marshal\n%x\nwant\n%x", b, v.b)
			}
		})
	}
}

func TestDecodeCapturedCARP(t *testing.T) {
	v := adverts(t)["carp-ucarp"]
	m, err := Decode(v.b, v.src, v.dst)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m.(*CARPAdvert)
	if !ok {
		t.Fatalf("decoded as %T, want *CARPAdvert", m)
	}
	if c.VHID != 42 || c.AdvBase != 1 || c.AdvSkew != 0 || c.Demote != 0 || c.Counter != 0x3eb56ca601d53521 || c.Checksum != 0x4ecd {
		t.Fatalf("decoded %+v", c)
	}
	if !c.Verify("s3cr3t", vip4) {
		t.Fatal("ucarp's digest does not verify with its password")
	}
	if c.Verify("secret", vip4) || c.Verify("s3cr3t", netip.MustParseAddr("10.77.0.101")) {
		t.Fatal("digest verifies with the wrong password or address")
	}
	if c.Interval() != time.Second || c.Resigns() {
		t.Fatalf("interval %s, resigns %v", c.Interval(), c.Resigns())
	}
	// Signing the same fields gives ucarp's bytes back.
	again := &CARPAdvert{VHID: 42, AdvBase: 1, Counter: c.Counter}
	again.Sign("s3cr3t", vip4)
	b, _ := again.MarshalBinary()
	if !bytes.Equal(b, v.b) {
		t.Fatalf("marshal\n%x\nwant\n%x", b, v.b)
	}
}

// The captured frames carry the captured messages behind an IPv4 header
// with TTL 255 and the TOS each implementation uses.
func TestCapturedFrames(t *testing.T) {
	vs, fs := adverts(t), frames(t)
	for _, tc := range []struct {
		name string
		tos  byte
	}{{"v3-prio150", 0xc0}, {"v2-pass", 0xc0}, {"carp-ucarp", 0x10}} {
		f := fs[tc.name]
		ip := f[14:]
		if ip[1] != tc.tos || ip[8] != 255 || ip[9] != IPProto {
			t.Errorf("%s: tos %#x ttl %d proto %d", tc.name, ip[1], ip[8], ip[9])
		}
		if checksum(ip[:20]) != 0 {
			t.Errorf("%s: IP header checksum", tc.name)
		}
		if !bytes.Equal(ip[20:], vs[tc.name].b) {
			t.Errorf("%s: frame payload differs from the message", tc.name)
		}
	}
}

func TestAnnouncementFrames(t *testing.T) {
	fs := frames(t)
	if got := GratuitousARP(macA, vip4); !bytes.Equal(got, fs["garp"]) {
		t.Errorf("gratuitous ARP\n%x\nwant\n%x", got, fs["garp"])
	}
	if got := UnsolicitedNA(macA, vip6); !bytes.Equal(got, fs["na"]) {
		t.Errorf("unsolicited NA\n%x\nwant\n%x", got, fs["na"])
	}
}

func TestRoundTrip(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	tests := []struct {
		name     string
		a        *Advert
		src, dst netip.Addr
	}{
		{"v2 no auth", &Advert{Version: 2, VRID: 1, Priority: 100, Interval: 3 * time.Second, Addresses: []netip.Addr{vip4}}, vip4, GroupV4},
		{"v2 pass two addresses", &Advert{Version: 2, VRID: 255, Priority: 255, Interval: time.Second, AuthType: AuthText, AuthData: AuthPassword("12345678"),
			Addresses: []netip.Addr{vip4, netip.MustParseAddr("192.168.0.3")}}, vip4, GroupV4},
		{"v3 ipv4", &Advert{Version: 3, VRID: 9, Priority: 1, Interval: 40950 * time.Millisecond, Addresses: []netip.Addr{vip4}}, netip.MustParseAddr("10.0.0.1"), GroupV4},
		{"v3 ipv4 prio 0", &Advert{Version: 3, VRID: 9, Priority: 0, Interval: 10 * time.Millisecond, Addresses: []netip.Addr{vip4}}, netip.MustParseAddr("10.0.0.1"), GroupV4},
		{"v3 ipv6 three addresses", &Advert{Version: 3, VRID: 200, Priority: 150, Interval: 100 * time.Millisecond,
			Addresses: []netip.Addr{vip6, netip.MustParseAddr("fd77::101"), netip.MustParseAddr("2001:db8::1")}}, ll, GroupV6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Marshal(tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(b, tt.src, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, tt.a) {
				t.Fatalf("got\n%+v\nwant\n%+v", m, tt.a)
			}
			// A version 3 checksum depends on the addresses of the IP header.
			if tt.a.Version == 3 {
				other := netip.MustParseAddr("10.9.9.9")
				if tt.src.Is6() {
					other = netip.MustParseAddr("fe80::99")
				}
				if _, err := Decode(b, other, tt.dst); !errors.Is(err, ErrChecksum) {
					t.Fatalf("decoded with another source: %v", err)
				}
			}
		})
	}
	t.Run("carp", func(t *testing.T) {
		c := &CARPAdvert{VHID: 7, AdvSkew: 100, AdvBase: 2, Demote: 3, Counter: 1 << 40}
		c.Sign("pw", vip4)
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b, vip4, GroupV4)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m, c) || !m.(*CARPAdvert).Verify("pw", vip4) {
			t.Fatalf("got %+v want %+v", m, c)
		}
	})
}

func TestMarshalRefuses(t *testing.T) {
	tests := []struct {
		name string
		a    *Advert
	}{
		{"v2 ipv6", &Advert{Version: 2, Interval: time.Second, Addresses: []netip.Addr{vip6}}},
		{"v2 fraction", &Advert{Version: 2, Interval: 1500 * time.Millisecond, Addresses: []netip.Addr{vip4}}},
		{"v3 too long", &Advert{Version: 3, Interval: 41 * time.Second, Addresses: []netip.Addr{vip4}}},
		{"v3 5ms", &Advert{Version: 3, Interval: 5 * time.Millisecond, Addresses: []netip.Addr{vip4}}},
		{"mixed families", &Advert{Version: 3, Interval: time.Second, Addresses: []netip.Addr{vip4, vip6}}},
		{"version 4", &Advert{Version: 4, Interval: time.Second, Addresses: []netip.Addr{vip4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.a.Marshal(vip4, GroupV4); err == nil {
				t.Fatalf("encoded %x", b)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	vs := adverts(t)
	v3 := vs["v3-prio150"]
	v2 := vs["v2-pass"]
	flip := func(b []byte, i int, x byte) []byte {
		c := bytes.Clone(b)
		c[i] ^= x
		return c
	}
	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     error
	}{
		{"empty", nil, v3.src, v3.dst, ErrShort},
		{"header only", v3.b[:7], v3.src, v3.dst, ErrShort},
		{"count beyond the packet", flip(v3.b, 3, 0x7f), v3.src, v3.dst, ErrShort},
		{"v3 truncated address", v3.b[:10], v3.src, v3.dst, ErrShort},
		{"v2 without auth data", v2.b[:16], v2.src, v2.dst, ErrShort},
		{"v3 bad checksum", flip(v3.b, 2, 1), v3.src, v3.dst, ErrChecksum},
		{"v2 bad checksum", flip(v2.b, 15, 1), v2.src, v2.dst, ErrChecksum},
		{"version 4", flip(v3.b, 0, 0x70), v3.src, v3.dst, ErrVersion},
		{"type 2", flip(v3.b, 0, 0x03), v3.src, v3.dst, ErrType},
		{"v2 over ipv6", v2.b, netip.MustParseAddr("fe80::1"), GroupV6, ErrFamily},
		{"v3 ipv4 read as ipv6", v3.b, netip.MustParseAddr("fe80::1"), GroupV6, ErrShort},
		{"carp bad checksum", flip(vs["carp-ucarp"].b, 20, 1), v3.src, v3.dst, ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.b, tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want %v", m, err, tt.want)
			}
			if DropReason(err) == "malformed" {
				t.Fatalf("no metric label for %v", err)
			}
		})
	}
}

// Ethernet pads short frames; the decoder reads by the count, and the
// checksum of a padded v3 advert still verifies when the IP length is used.
func TestTrailingBytesNeedTheIPLength(t *testing.T) {
	v := adverts(t)["v3-prio150"]
	padded := append(bytes.Clone(v.b), 0, 0, 0, 0)
	if _, err := Decode(padded[:len(v.b)], v.src, v.dst); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range adverts(f) {
		f.Add(v.b, v.src.Is6())
	}
	f.Add([]byte{0x21, 1, 2, 0xff, 0, 0, 0, 0}, false)
	f.Add([]byte{0x31, 1, 2, 0xff, 0, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		src, dst := netip.MustParseAddr("10.0.0.1"), GroupV4
		if v6 {
			src, dst = netip.MustParseAddr("fe80::1"), GroupV6
		}
		m, err := Decode(b, src, dst)
		if err != nil {
			if m != nil {
				t.Fatal("message and error")
			}
			return
		}
		// Whatever decodes encodes back to the same fields.
		var again []byte
		switch m := m.(type) {
		case *Advert:
			again, err = m.Marshal(src, dst)
		case *CARPAdvert:
			again, err = m.MarshalBinary()
		}
		if err != nil {
			t.Fatalf("%+v decodes but does not encode: %v", m, err)
		}
		m2, err := Decode(again, src, dst)
		if err != nil {
			t.Fatalf("%+v encodes to %x, which does not decode: %v", m, again, err)
		}
		// Bytes after the message enter the checksum read, not the one written.
		if a, ok := m.(*Advert); ok {
			a.Checksum, m2.(*Advert).Checksum = 0, 0
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v -> %x -> %+v", m, again, m2)
		}
	})
}
