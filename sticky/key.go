package sticky

import (
	"encoding/binary"
	"net/netip"
)

// DefaultV6PrefixBits is the IPv6 prefix length that identifies one client
// when none is configured. A /64 is the smallest block handed to a site, and
// privacy extensions rotate the low 64 bits of a client's address, so keying
// on the full address would break stickiness every few hours.
const DefaultV6PrefixBits = 64

// Key identifies one client in a [Table] and in rendezvous hashing. It holds
// the 16 bytes of the client's (masked) address in big-endian order: Hi is
// the first 8 bytes and Lo the last 8. IPv4 clients are stored in their
// IPv4-mapped form, which no IPv6 key can take since [ClientKey] unmaps such
// addresses first.
type Key struct {
	Hi, Lo uint64
}

// ClientKey returns the key of the client at ip. An IPv4 address, or an
// IPv4-mapped IPv6 address, is keyed by its full address. An IPv6 address is
// masked to its first v6PrefixBits bits, so that all the addresses of one
// client network share a key: 0 or a negative value selects
// [DefaultV6PrefixBits] and values above 128 are treated as 128. The zone is
// ignored. The zero netip.Addr yields the zero Key.
func ClientKey(ip netip.Addr, v6PrefixBits int) Key {
	ip = ip.Unmap()
	b := ip.As16()
	k := Key{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
	if ip.Is4() {
		return k
	}
	bits := v6PrefixBits
	if bits <= 0 {
		bits = DefaultV6PrefixBits
	}
	switch {
	case bits <= 64:
		k.Hi &= ^uint64(0) << (64 - bits)
		k.Lo = 0
	case bits < 128:
		k.Lo &= ^uint64(0) << (128 - bits)
	}
	return k
}

// Hash returns a well-mixed 64-bit hash of both halves of the key. It is the
// client value given to [Score], [Rendezvous] and [Pick], and it is the
// same in every quill process.
func (k Key) Hash() uint64 {
	return mix64(k.Hi ^ mix64(k.Lo^keySeed))
}
