package vrrp

import "net/netip"

// sum adds b to the running one's complement sum s, 16 bits at a time.
func sum(s uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

// fold finishes an Internet checksum (RFC 1071).
func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// checksum is the Internet checksum of b.
func checksum(b []byte) uint16 { return fold(sum(0, b)) }

// pseudoChecksum is the Internet checksum of b preceded by the IPv4 or
// IPv6 pseudo-header for src, dst and protocol proto.
func pseudoChecksum(src, dst netip.Addr, proto uint8, b []byte) uint16 {
	var s uint32
	if src.Is4() {
		s4, d4 := src.As4(), dst.As4()
		s = sum(s, s4[:])
		s = sum(s, d4[:])
		s += uint32(proto) + uint32(len(b))
	} else {
		s16, d16 := src.As16(), dst.As16()
		s = sum(s, s16[:])
		s = sum(s, d16[:])
		s += uint32(len(b)>>16) + uint32(len(b)&0xffff) + uint32(proto)
	}
	return fold(sum(s, b))
}
