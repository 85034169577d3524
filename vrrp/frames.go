package vrrp

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Ethernet types.
const (
	etherARP  = 0x0806
	etherIPv6 = 0x86dd
)

var allNodes = netip.MustParseAddr("ff02::1")

// GratuitousARP is the Ethernet frame that tells the segment ip is now at
// mac: a broadcast ARP request with sender and target address both ip, as
// keepalived sends it.
func GratuitousARP(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 42)
	copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], etherARP)
	a := b[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // protocol: IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	copy(a[8:14], mac)
	ip4 := ip.As4()
	copy(a[14:18], ip4[:])
	copy(a[18:24], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(a[24:28], ip4[:])
	return b
}

// UnsolicitedNA is the Ethernet frame of an unsolicited neighbour
// advertisement for ip at mac (RFC 4861 section 7.2.6): from ip to all
// nodes (ff02::1), Override set, with a Target Link-Layer Address option,
// so that neighbours replace what they cached.
func UnsolicitedNA(mac net.HardwareAddr, ip netip.Addr) []byte {
	const icmpLen = 32
	b := make([]byte, 14+40+icmpLen)
	copy(b[0:6], []byte{0x33, 0x33, 0, 0, 0, 1})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], etherIPv6)
	h := b[14:54]
	h[0] = 6 << 4
	binary.BigEndian.PutUint16(h[4:], icmpLen)
	h[6] = 58 // ICMPv6
	h[7] = 255
	src, dst := ip.As16(), allNodes.As16()
	copy(h[8:24], src[:])
	copy(h[24:40], dst[:])
	m := b[54:]
	m[0] = 136  // neighbour advertisement
	m[4] = 0x20 // Override
	copy(m[8:24], src[:])
	m[24], m[25] = 2, 1 // Target Link-Layer Address, 8 bytes
	copy(m[26:32], mac)
	binary.BigEndian.PutUint16(m[2:], pseudoChecksum(ip, allNodes, 58, m))
	return b
}
