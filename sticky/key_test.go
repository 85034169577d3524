package sticky

import (
	"net/netip"
	"testing"
)

func TestClientKeyValue(t *testing.T) {
	tests := []struct {
		name string
		ip   string
		bits int
		want Key
	}{
		{"IPv4 in mapped form", "192.0.2.1", 0, Key{Hi: 0, Lo: 0x0000ffff_c0000201}},
		{"IPv4-mapped IPv6 unmapped", "::ffff:192.0.2.1", 0, Key{Hi: 0, Lo: 0x0000ffff_c0000201}},
		{"IPv4 ignores prefix", "192.0.2.1", 8, Key{Hi: 0, Lo: 0x0000ffff_c0000201}},
		{"IPv6 default /64", "2001:db8:1:2:3:4:5:6", 0, Key{Hi: 0x20010db8_00010002, Lo: 0}},
		{"IPv6 negative means /64", "2001:db8:1:2:3:4:5:6", -1, Key{Hi: 0x20010db8_00010002, Lo: 0}},
		{"IPv6 /48", "2001:db8:1:2:3:4:5:6", 48, Key{Hi: 0x20010db8_00010000, Lo: 0}},
		{"IPv6 /1", "ffff::1", 1, Key{Hi: 1 << 63, Lo: 0}},
		{"IPv6 /96", "2001:db8:1:2:3:4:5:6", 96, Key{Hi: 0x20010db8_00010002, Lo: 0x00030004_00000000}},
		{"IPv6 /128 full address", "2001:db8:1:2:3:4:5:6", 128, Key{Hi: 0x20010db8_00010002, Lo: 0x00030004_00050006}},
		{"IPv6 above 128 means /128", "2001:db8:1:2:3:4:5:6", 200, Key{Hi: 0x20010db8_00010002, Lo: 0x00030004_00050006}},
		{"zero address", "", 0, Key{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ip netip.Addr
			if tt.ip != "" {
				ip = netip.MustParseAddr(tt.ip)
			}
			if got := ClientKey(ip, tt.bits); got != tt.want {
				t.Errorf("ClientKey(%s, %d) = %#x, want %#x", tt.ip, tt.bits, got, tt.want)
			}
		})
	}
}

func TestClientKeySharing(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		bits int
		same bool
	}{
		{"two addresses in one /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 0, true},
		{"neighbouring /64s", "2001:db8:1:2::1", "2001:db8:1:3::1", 0, false},
		{"IPv4-mapped equals IPv4", "::ffff:198.51.100.7", "198.51.100.7", 0, true},
		{"IPv4 addresses are never grouped", "198.51.100.7", "198.51.100.8", 1, false},
		{"IPv4-compatible IPv6 is not IPv4", "::198.51.100.7", "198.51.100.7", 128, false},
		{"/128 keeps the full address", "2001:db8:1:2::1", "2001:db8:1:2::2", 128, false},
		{"/128 same address", "2001:db8:1:2::1", "2001:db8:1:2::1", 128, true},
		{"/56 groups its /64s", "2001:db8:1:200::1", "2001:db8:1:2ff::1", 56, true},
		{"/56 boundary", "2001:db8:1:200::1", "2001:db8:1:300::1", 56, false},
		{"/120 groups a low byte", "2001:db8::1:0", "2001:db8::1:ff", 120, true},
		{"/120 boundary", "2001:db8::1:0", "2001:db8::2:0", 120, false},
		{"zone is ignored", "fe80::1%eth0", "fe80::1%eth1", 128, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ClientKey(netip.MustParseAddr(tt.a), tt.bits)
			b := ClientKey(netip.MustParseAddr(tt.b), tt.bits)
			if (a == b) != tt.same {
				t.Errorf("keys %#x and %#x: same = %v, want %v", a, b, a == b, tt.same)
			}
			if (a.Hash() == b.Hash()) != tt.same {
				t.Errorf("hashes %#x and %#x: same = %v, want %v", a.Hash(), b.Hash(), a.Hash() == b.Hash(), tt.same)
			}
		})
	}
}
