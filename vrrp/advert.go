package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// IPProto is the IP protocol number that VRRP and CARP share.
const IPProto = 112

// The multicast groups adverts are sent to.
var (
	GroupV4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// Authentication types of VRRPv2 (RFC 3768 section 5.3.6).
const (
	AuthNone = 0
	AuthText = 1 // keepalived's auth_type PASS
)

// Why a message was refused. Decoders wrap them with details; DropReason
// names them for metrics.
var (
	ErrShort    = errors.New("too short")
	ErrVersion  = errors.New("unknown version")
	ErrType     = errors.New("not an advertisement")
	ErrChecksum = errors.New("bad checksum")
	ErrFamily   = errors.New("wrong address family")
)

// DropReason is a short label for a decode error, for metrics.
func DropReason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{{ErrShort, "short"}, {ErrVersion, "version"}, {ErrType, "type"}, {ErrChecksum, "checksum"}, {ErrFamily, "family"}} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "malformed"
}

// Advert is a VRRP advertisement, version 2 (RFC 3768, IPv4 only) or
// version 3 (RFC 5798, IPv4 or IPv6).
//
//	0 version|type  1 VRID  2 priority  3 count
//	v2: 4 auth type  5 interval (s)   v3: 4-5 rsvd(4 bits) | max adver int (12 bits, cs)
//	6-7 checksum  8.. count addresses  (v2: then 8 bytes of authentication data)
type Advert struct {
	Version  uint8 // 2 or 3
	VRID     uint8
	Priority uint8 // 0: the master resigns; 255: the address owner
	// Interval is the advertisement interval: whole seconds in version 2,
	// centiseconds in version 3.
	Interval  time.Duration
	AuthType  uint8        // version 2 only
	AuthData  [8]byte      // version 2 only: the password, NUL padded
	Addresses []netip.Addr // the virtual addresses, all of one family
	// Checksum is the value read by ParseAdvert or written by Marshal.
	Checksum uint16
}

// ID is the virtual router ID.
func (a *Advert) ID() uint8 { return a.VRID }

func (a *Advert) is6() bool { return len(a.Addresses) > 0 && a.Addresses[0].Is6() }

// Marshal encodes the advert as sent from src to dst. Version 3 includes
// src and dst in the checksum (the pseudo-header); when src is not valid,
// the checksum is left zero for the kernel to fill (IPV6_CHECKSUM).
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	if len(a.Addresses) > 255 {
		return nil, fmt.Errorf("vrrp: %d addresses, at most 255", len(a.Addresses))
	}
	v6 := a.is6()
	for _, ip := range a.Addresses {
		if !ip.IsValid() || ip.Is6() != v6 || ip.Is4In6() {
			return nil, fmt.Errorf("vrrp: addresses mix IPv4 and IPv6 or are invalid: %v", a.Addresses)
		}
	}
	alen := 4
	if v6 {
		alen = 16
	}
	n := 8 + len(a.Addresses)*alen
	switch a.Version {
	case 2:
		if v6 {
			return nil, errors.New("vrrp: version 2 is IPv4 only")
		}
		if a.Interval%time.Second != 0 || a.Interval < 0 || a.Interval > 255*time.Second {
			return nil, fmt.Errorf("vrrp: version 2 interval %s is not 0..255 whole seconds", a.Interval)
		}
		n += 8
	case 3:
		cs := a.Interval / (10 * time.Millisecond)
		if a.Interval%(10*time.Millisecond) != 0 || cs < 0 || cs > 0xfff {
			return nil, fmt.Errorf("vrrp: version 3 interval %s is not 0..40.95s in 10ms steps", a.Interval)
		}
	default:
		return nil, fmt.Errorf("vrrp: %w %d", ErrVersion, a.Version)
	}
	b := make([]byte, n)
	b[0] = a.Version<<4 | 1
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = uint8(len(a.Addresses))
	if a.Version == 2 {
		b[4] = a.AuthType
		b[5] = uint8(a.Interval / time.Second)
	} else {
		binary.BigEndian.PutUint16(b[4:], uint16(a.Interval/(10*time.Millisecond)))
	}
	off := 8
	for _, ip := range a.Addresses {
		off += copy(b[off:], ip.AsSlice())
	}
	if a.Version == 2 {
		copy(b[off:], a.AuthData[:])
		a.Checksum = checksum(b)
	} else if src.IsValid() {
		a.Checksum = pseudoChecksum(src, dst, IPProto, b)
	} else {
		a.Checksum = 0
	}
	binary.BigEndian.PutUint16(b[6:], a.Checksum)
	return b, nil
}

// ParseAdvert decodes a VRRP advert received from src to dst (the IP
// header's addresses, which tell the address family and enter the version
// 3 checksum). b is the IP payload; bytes after the message are ignored
// by the length checks but covered by the checksum, as the RFCs say.
func ParseAdvert(b []byte, src, dst netip.Addr) (*Advert, error) {
	a := new(Advert)
	if err := a.parse(b, src, dst); err != nil {
		return nil, err
	}
	return a, nil
}

// parse is ParseAdvert into a, reusing a.Addresses' storage, so that the
// receive path does not allocate.
func (a *Advert) parse(b []byte, src, dst netip.Addr) error {
	if len(b) < 8 {
		return fmt.Errorf("vrrp: %w: %d bytes", ErrShort, len(b))
	}
	*a = Advert{Version: b[0] >> 4, VRID: b[1], Priority: b[2], Addresses: a.Addresses[:0]}
	if b[0]&0x0f != 1 {
		return fmt.Errorf("vrrp: %w: type %d", ErrType, b[0]&0x0f)
	}
	v6 := dst.Is6() && !dst.Is4In6()
	alen := 4
	if v6 {
		alen = 16
	}
	count := int(b[3])
	need := 8 + count*alen
	switch a.Version {
	case 2:
		if v6 {
			return fmt.Errorf("vrrp: %w: version 2 over IPv6", ErrFamily)
		}
		need += 8
		a.AuthType = b[4]
		a.Interval = time.Duration(b[5]) * time.Second
	case 3:
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0xfff) * 10 * time.Millisecond
	default:
		return fmt.Errorf("vrrp: %w %d", ErrVersion, a.Version)
	}
	if len(b) < need {
		return fmt.Errorf("vrrp: %w: %d bytes for %d addresses, need %d", ErrShort, len(b), count, need)
	}
	a.Checksum = binary.BigEndian.Uint16(b[6:])
	if a.Version == 2 {
		if checksum(b) != 0 {
			return fmt.Errorf("vrrp: %w (0x%04x)", ErrChecksum, a.Checksum)
		}
		copy(a.AuthData[:], b[8+count*4:])
	} else if pseudoChecksum(src, dst, IPProto, b) != 0 {
		return fmt.Errorf("vrrp: %w (0x%04x)", ErrChecksum, a.Checksum)
	}
	if a.Addresses == nil {
		a.Addresses = make([]netip.Addr, 0, count)
	}
	for i := range count {
		p := b[8+i*alen : 8+(i+1)*alen]
		if v6 {
			a.Addresses = append(a.Addresses, netip.AddrFrom16([16]byte(p)))
		} else {
			a.Addresses = append(a.Addresses, netip.AddrFrom4([4]byte(p)))
		}
	}
	return nil
}

// isCARP tells a CARP advert from a VRRP one (see Decode).
func isCARP(b []byte) bool { return len(b) == carpLen && b[0]>>4 == 2 && b[3] == 7 }

// AuthPassword is keepalived's auth_pass as it travels: truncated or NUL
// padded to 8 bytes.
func AuthPassword(s string) (d [8]byte) {
	copy(d[:], s)
	return d
}
