package vrrp

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// keepalived's unicast adverts decode, and encode back to its bytes; a
// VRRPv3 one does not check against the multicast group (its checksum
// covers the unicast destination), a VRRPv2 one has no pseudo-header.
func TestDecodeCapturedUnicast(t *testing.T) {
	vs := adverts(t)
	pass := AuthPassword("s3cr3t")
	vip := []netip.Addr{vip4}
	tests := []struct {
		name string
		want *Advert
	}{
		{"ka-unicast-v3-prio100", &Advert{Version: 3, VRID: 77, Priority: 100, Interval: 100 * time.Millisecond, Addresses: vip, Checksum: 0x4add}},
		{"ka-unicast-v3-prio0", &Advert{Version: 3, VRID: 77, Priority: 0, Interval: 100 * time.Millisecond, Addresses: vip, Checksum: 0xaedd}},
		{"ka-unicast-v2-pass-prio100", &Advert{Version: 2, VRID: 77, Priority: 100, Interval: time.Second, AuthType: AuthText, AuthData: pass, Addresses: vip, Checksum: 0x64e5}},
		{"ka-unicast-v2-pass-prio0", &Advert{Version: 2, VRID: 77, Priority: 0, Interval: time.Second, AuthType: AuthText, AuthData: pass, Addresses: vip, Checksum: 0xc8e5}},
		{"ka-unicast-ipv6-prio100", &Advert{Version: 3, VRID: 77, Priority: 100, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip6}, Checksum: 0x70b4}},
		{"ka-unicast-ipv6-prio0", &Advert{Version: 3, VRID: 77, Priority: 0, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vip6}, Checksum: 0xd4b4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := vs[tt.name]
			if !ok {
				t.Fatal("no such vector in testdata/adverts.txt")
			}
			m, err := Decode(v.b, v.src, v.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, tt.want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", m, tt.want)
			}
			b, err := tt.want.Marshal(v.src, v.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, v.b) {
				t.Fatalf("marshal\n%x\nwant\n%x", b, v.b)
			}
			group := GroupV4
			if v.dst.Is6() {
				group = GroupV6
			}
			_, err = ParseAdvert(v.b, v.src, group)
			if tt.want.Version == 3 && !errors.Is(err, ErrChecksum) {
				t.Fatalf("checked against the group: %v, want a checksum error", err)
			}
			if tt.want.Version == 2 && err != nil {
				t.Fatalf("VRRPv2 checked against the group: %v", err)
			}
		})
	}
}
