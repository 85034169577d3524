package vrrp

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash"
	"net/netip"
	"time"
)

// carpLen is the size of a CARP advert: a fixed header, no addresses.
const carpLen = 36

// CARPAdvert is a CARP advertisement as ucarp (and OpenBSD) send it.
//
//	0 version=2|type=1  1 vhid  2 advskew  3 authlen=7  4 demote  5 advbase (s)
//	6-7 checksum of these 36 bytes  8-15 counter  16-35 HMAC-SHA1
//
// There is no priority: the router that advertises most often
// (advbase + advskew/256 seconds) wins.
type CARPAdvert struct {
	VHID    uint8
	AdvSkew uint8
	AdvBase uint8
	Demote  uint8
	Counter uint64
	Digest  [20]byte
	// Checksum is the value read or written.
	Checksum uint16
}

// ID is the virtual host ID.
func (c *CARPAdvert) ID() uint8 { return c.VHID }

// Interval is the period the sender advertises with.
func (c *CARPAdvert) Interval() time.Duration {
	return time.Duration(c.AdvBase)*time.Second + time.Duration(c.AdvSkew)*time.Second/256
}

// Resigns tells an advert with advbase and advskew both 255: the sender
// will not advertise again, so a backup takes over at once. OpenBSD sends
// it when the carp interface goes down, quill when it stops.
func (c *CARPAdvert) Resigns() bool { return c.AdvBase == 255 && c.AdvSkew == 255 }

// MarshalBinary encodes the advert and sets Checksum.
func (c *CARPAdvert) MarshalBinary() ([]byte, error) {
	b := make([]byte, carpLen)
	c.marshalTo(b)
	return b, nil
}

// marshalTo encodes the advert into b[:36].
func (c *CARPAdvert) marshalTo(b []byte) {
	b = b[:carpLen]
	clear(b)
	b[0] = 2<<4 | 1
	b[1] = c.VHID
	b[2] = c.AdvSkew
	b[3] = 7
	b[4] = c.Demote
	b[5] = c.AdvBase
	binary.BigEndian.PutUint64(b[8:], c.Counter)
	copy(b[16:], c.Digest[:])
	c.Checksum = checksum(b)
	binary.BigEndian.PutUint16(b[6:], c.Checksum)
}

// UnmarshalBinary decodes a CARP advert and checks its checksum; the
// digest is checked by Verify, which needs the password.
func (c *CARPAdvert) UnmarshalBinary(b []byte) error {
	if len(b) < carpLen {
		return fmt.Errorf("carp: %w: %d bytes", ErrShort, len(b))
	}
	if b[0]>>4 != 2 {
		return fmt.Errorf("carp: %w %d", ErrVersion, b[0]>>4)
	}
	if b[0]&0x0f != 1 {
		return fmt.Errorf("carp: %w: type %d", ErrType, b[0]&0x0f)
	}
	if checksum(b[:carpLen]) != 0 {
		return fmt.Errorf("carp: %w (0x%04x)", ErrChecksum, binary.BigEndian.Uint16(b[6:]))
	}
	*c = CARPAdvert{
		VHID: b[1], AdvSkew: b[2], Demote: b[4], AdvBase: b[5],
		Checksum: binary.BigEndian.Uint16(b[6:]),
		Counter:  binary.BigEndian.Uint64(b[8:]),
		Digest:   [20]byte(b[16:carpLen]),
	}
	return nil
}

// Sign sets the digest for password and the virtual address.
func (c *CARPAdvert) Sign(password string, vip netip.Addr) {
	c.Digest = CARPDigest(password, c.VHID, vip, c.Counter)
}

// Verify tells whether the digest matches password and the virtual address.
func (c *CARPAdvert) Verify(password string, vip netip.Addr) bool {
	d := CARPDigest(password, c.VHID, vip, c.Counter)
	return hmac.Equal(d[:], c.Digest[:])
}

// CARPDigest is ucarp's HMAC-SHA1 over version, type, vhid, the virtual
// IPv4 address and the counter, keyed with the password.
func CARPDigest(password string, vhid uint8, vip netip.Addr, counter uint64) [20]byte {
	return newCARPMAC(password).digest(vhid, vip, counter)
}

// carpMAC computes CARP digests with one keyed HMAC, reused: no
// allocation per advert. One goroutine at a time.
type carpMAC struct {
	h   hash.Hash
	msg [3 + 4 + 8]byte
	sum [sha1.Size]byte
}

func newCARPMAC(password string) *carpMAC {
	return &carpMAC{h: hmac.New(sha1.New, []byte(password))}
}

func (m *carpMAC) digest(vhid uint8, vip netip.Addr, counter uint64) [20]byte {
	m.msg[0], m.msg[1], m.msg[2] = 2, 1, vhid
	v4 := vip.As4()
	copy(m.msg[3:7], v4[:])
	binary.BigEndian.PutUint64(m.msg[7:], counter)
	m.h.Reset()
	m.h.Write(m.msg[:])
	return [20]byte(m.h.Sum(m.sum[:0]))
}
