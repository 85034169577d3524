package vrrp

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// unicastReceiver is receiver() with unicast_peers set.
func unicastReceiver(kind Kind, vrid int, password string, log *strings.Builder, peers ...netip.Addr) *instance {
	in := receiver(kind, vrid, password, log)
	in.unicast, in.peers, in.dests = true, peers, peers
	in.advBytes = make([][]byte, len(peers))
	return in
}

// With unicast_peers, adverts are heard from the peers only, whatever
// their TTL and destination; the VRRPv3 checksum covers the unicast
// destination (or, from keepalived 1.3.6 and earlier, the group).
func TestUnicastReceiveChecks(t *testing.T) {
	self := netip.MustParseAddr("10.77.0.2")
	peer := netip.MustParseAddr("10.77.0.1")
	stranger := netip.MustParseAddr("10.77.0.3")
	v3 := func(src, dst netip.Addr) []byte {
		b, err := (&Advert{Version: 3, VRID: 77, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip4}}).Marshal(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v2, err := (&Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second, AuthType: AuthText, AuthData: AuthPassword("s3cr3t"),
		Addresses: []netip.Addr{vip4}}).Marshal(netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		kind     Kind
		vrid     int
		password string
		r        received
		want     *Heard
		drop     string
	}{
		{"v3 from the peer", VRRPv3, 77, "", received{v3(peer, self), peer, self, 255}, &Heard{peer, 150, time.Second}, ""},
		{"v3 from the peer, TTL 64 (beyond a router)", VRRPv3, 77, "", received{v3(peer, self), peer, self, 64}, &Heard{peer, 150, time.Second}, ""},
		{"v3 checksum over the group (old keepalived)", VRRPv3, 77, "", received{v3(peer, GroupV4), peer, self, 255}, &Heard{peer, 150, time.Second}, ""},
		{"v3 checksum over another address", VRRPv3, 77, "", received{v3(peer, stranger), peer, self, 255}, nil, "checksum"},
		{"v3 from a stranger", VRRPv3, 77, "", received{v3(stranger, self), stranger, self, 255}, nil, "peer"},
		{"v3 multicast from a stranger", VRRPv3, 77, "", received{v3(stranger, GroupV4), stranger, GroupV4, 255}, nil, "peer"},
		{"v2 from the peer", VRRPv2, 51, "s3cr3t", received{v2, peer, self, 255}, &Heard{peer, 150, time.Second}, ""},
		{"v2 from a stranger", VRRPv2, 51, "s3cr3t", received{v2, stranger, self, 255}, nil, "peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			in := unicastReceiver(tt.kind, tt.vrid, tt.password, &log, peer)
			h, ok := in.check(tt.r)
			if ok != (tt.want != nil) || (ok && h != *tt.want) {
				t.Fatalf("got %+v %v, want %+v\n%s", h, ok, tt.want, log.String())
			}
			if tt.drop != "" {
				if n := testutil.ToFloat64(in.met.dropped.WithLabelValues("www", tt.drop)); n != 1 {
					t.Fatalf("dropped{reason=%q} = %v\n%s", tt.drop, n, log.String())
				}
			}
		})
	}
}

// The IPv6 receive path: keepalived's unicast adverts arrive with its
// global source and the kernel's default hop limit.
func TestUnicastReceiveIPv6(t *testing.T) {
	self, peer := netip.MustParseAddr("fd77::2"), netip.MustParseAddr("fd77::1")
	var log strings.Builder
	in := unicastReceiver(VRRPv3, 78, "", &log, peer)
	in.group, in.addrs, in.v6 = GroupV6, []netip.Addr{vip6}, true
	b, err := (&Advert{Version: 3, VRID: 78, Priority: 150, Interval: time.Second, Addresses: []netip.Addr{vip6}}).Marshal(peer, self)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := in.check(received{b, peer, self, 64}); !ok || h.Priority != 150 {
		t.Fatalf("refused %+v %v:\n%s", h, ok, log.String())
	}
	if _, ok := in.check(received{b, netip.MustParseAddr("fe80::77:ff:fe00:1"), self, 255}); ok {
		t.Fatal("accepted an advert from the peer's link-local address, which is not in unicast_peers")
	}
}

// One advert per peer, each with the checksum for its destination; the
// cache keeps the per-advert path free of allocations.
func TestUnicastAdvertPerPeer(t *testing.T) {
	src := netip.MustParseAddr("10.77.0.2")
	peers := []netip.Addr{netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.3")}
	for _, tc := range []struct {
		name         string
		kind         Kind
		vrid         int
		password     string
		sameForPeers bool
	}{
		{"v3", VRRPv3, 77, "", false},
		{"v2", VRRPv2, 51, "s3cr3t", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			in := unicastReceiver(tc.kind, tc.vrid, tc.password, &log, peers...)
			var sent [][]byte
			for i, peer := range peers {
				b, err := in.advert(120, src, i)
				if err != nil {
					t.Fatal(err)
				}
				a, err := ParseAdvert(b, src, peer)
				if err != nil {
					t.Fatalf("to %s: %v", peer, err)
				}
				if a.Priority != 120 || a.VRID != uint8(tc.vrid) {
					t.Fatalf("to %s: %+v", peer, a)
				}
				sent = append(sent, bytes.Clone(b))
			}
			if got := bytes.Equal(sent[0], sent[1]); got != tc.sameForPeers {
				t.Errorf("the adverts to the two peers are equal: %v, want %v", got, tc.sameForPeers)
			}
			if n := testing.AllocsPerRun(100, func() {
				for i := range peers {
					in.advert(120, src, i)
				}
			}); n != 0 {
				t.Errorf("encoding unicast adverts: %v allocations", n)
			}
		})
	}
}
