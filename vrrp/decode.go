package vrrp

import (
	"fmt"
	"net/netip"
)

// Message is a decoded protocol-112 message: *Advert or *CARPAdvert.
type Message interface {
	// ID is the VRID (VRRP) or vhid (CARP).
	ID() uint8
}

// Decode reads a protocol-112 message carried from src to dst. VRRPv2 and
// CARP share their first byte (0x21); a CARP advert is told apart by its
// fixed length of 36 bytes with authlen 7 in the place of VRRP's address
// count (a VRRPv2 advert with 7 addresses is 44 bytes long), which is how
// quill notices a peer speaking the other protocol on its VRID.
func Decode(b []byte, src, dst netip.Addr) (Message, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("vrrp: %w: %d bytes", ErrShort, len(b))
	}
	if isCARP(b) {
		c := new(CARPAdvert)
		if err := c.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		return c, nil
	}
	a, err := ParseAdvert(b, src, dst)
	if err != nil {
		return nil, err
	}
	return a, nil
}
