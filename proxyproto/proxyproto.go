// Package proxyproto reads and writes the header of the PROXY protocol,
// versions 1 (text) and 2 (binary), as HAProxy's proxy-protocol.txt
// specifies it: the line or block an L4 balancer (HAProxy in TCP mode,
// IPVS with a PROXY module, a cloud network load balancer) puts before
// the client's bytes so that the server learns who the client is.
//
// Only TCP over IPv4 and IPv6 carries addresses here, which is all an HTTP
// proxy can use. Every other valid header (v1 UNKNOWN, v2 LOCAL, AF_UNSPEC,
// UDP, AF_UNIX) parses with no addresses, the spec's fallback: the receiver
// then keeps the connection's own endpoints.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"strconv"
)

// Command is the v2 command. A v1 header is always Proxy.
type Command uint8

const (
	// Local is a connection the balancer made itself (a health check):
	// its endpoints are the connection's own.
	Local Command = 0
	// Proxy is a connection relayed for the client of Source.
	Proxy Command = 1
)

// Header is one PROXY protocol header.
type Header struct {
	// Version is 1 or 2.
	Version int
	Command Command
	// Source is the client, Destination the address it connected to. Both
	// are the zero AddrPort when the header carries no TCP addresses.
	Source, Destination netip.AddrPort
	// TLVs are the v2 type-length-value fields after the addresses, in
	// order. Parse leaves their values pointing into its input.
	TLVs []TLV
}

// TLV is one v2 type-length-value field.
type TLV struct {
	Type  byte
	Value []byte
}

// Registered TLV types that this package looks at.
const (
	TypeCRC32C byte = 0x03
	TypeNoop   byte = 0x04
)

// Limits of the two formats.
const (
	// MaxV1Length is the longest v1 line with its CRLF (the spec's worst
	// case, "PROXY UNKNOWN" with two full IPv6 addresses and ports).
	MaxV1Length = 107
	// MaxV2Body bounds the v2 length field (addresses and TLVs). The
	// field allows 65535; HAProxy refuses what does not fit its buffer,
	// and what balancers send (addresses, a few TLVs of tens of bytes)
	// fits many times in 4 KiB.
	MaxV2Body = 4096
	// MaxLength is the longest header Parse accepts.
	MaxLength = v2HeadLen + MaxV2Body
)

var (
	// ErrIncomplete says that the bytes given are a valid beginning of a
	// header, not a whole one.
	ErrIncomplete = errors.New("proxyproto: incomplete header")
	// ErrInvalid is wrapped by every error about a malformed header.
	ErrInvalid = errors.New("invalid PROXY protocol header")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var (
	v1Prefix = []byte("PROXY ")
	// v2Signature is the 12 bytes that open a v2 header.
	v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

const v2HeadLen = 16 // signature, version and command, family and protocol, length

// Parse reads the header at the start of b and returns it with its length
// in bytes; what follows it in b is the client's. It returns ErrIncomplete
// while b is the beginning of a valid header, and an error wrapping
// ErrInvalid as soon as b cannot begin one.
func Parse(b []byte) (Header, int, error) {
	switch {
	case len(b) == 0:
		return Header{}, 0, ErrIncomplete
	case b[0] == v1Prefix[0]:
		return parseV1(b)
	case b[0] == v2Signature[0]:
		return parseV2(b)
	}
	return Header{}, 0, invalid("no PROXY protocol signature")
}

// hasPrefix compares b with as much of prefix as b holds: complete says
// that b holds all of it.
func hasPrefix(b, prefix []byte) (match, complete bool) {
	n := min(len(b), len(prefix))
	return bytes.Equal(b[:n], prefix[:n]), n == len(prefix)
}

func parseV1(b []byte) (Header, int, error) {
	match, complete := hasPrefix(b, v1Prefix)
	if !match {
		return Header{}, 0, invalid("no PROXY protocol signature")
	}
	if !complete {
		return Header{}, 0, ErrIncomplete
	}
	window := b[:min(len(b), MaxV1Length)]
	end := bytes.IndexAny(window, "\r\n")
	switch {
	case end < 0 && len(window) == MaxV1Length:
		return Header{}, 0, invalid("v1 line longer than %d bytes", MaxV1Length)
	case end < 0:
		return Header{}, 0, ErrIncomplete
	case window[end] == '\n':
		return Header{}, 0, invalid("v1 line ends in LF without CR")
	case end+1 == len(window) && end+1 < MaxV1Length:
		return Header{}, 0, ErrIncomplete
	case end+1 == MaxV1Length:
		return Header{}, 0, invalid("v1 line longer than %d bytes", MaxV1Length)
	case window[end+1] != '\n':
		return Header{}, 0, invalid("v1 line has a CR without LF")
	}
	h := Header{Version: 1, Command: Proxy}
	line := b[len(v1Prefix):end]
	fields := bytes.Split(line, []byte(" "))
	switch string(fields[0]) {
	case "UNKNOWN":
		// The sender could not tell the addresses; the spec has the
		// receiver ignore whatever else the line holds.
		return h, end + 2, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, invalid("v1 protocol %q is not TCP4, TCP6 or UNKNOWN", fields[0])
	}
	if len(fields) != 5 {
		return Header{}, 0, invalid("v1 %s line has %d fields, not 5", fields[0], len(fields))
	}
	v6 := fields[0][3] == '6'
	src, err := v1Addr(fields[1], v6)
	if err != nil {
		return Header{}, 0, err
	}
	dst, err := v1Addr(fields[2], v6)
	if err != nil {
		return Header{}, 0, err
	}
	sport, err := v1Port(fields[3])
	if err != nil {
		return Header{}, 0, err
	}
	dport, err := v1Port(fields[4])
	if err != nil {
		return Header{}, 0, err
	}
	h.Source = netip.AddrPortFrom(src, sport)
	h.Destination = netip.AddrPortFrom(dst, dport)
	return h, end + 2, nil
}

// v1Addr parses an address of the family the line announced. netip
// already refuses leading zeros in IPv4; zones are not addresses.
func v1Addr(f []byte, v6 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(f))
	if err != nil || a.Zone() != "" || a.Is6() != v6 {
		fam := "TCP4"
		if v6 {
			fam = "TCP6"
		}
		return netip.Addr{}, invalid("v1 address %q is not a %s address", f, fam)
	}
	return a, nil
}

// v1Port parses a decimal port with no sign and no leading zero.
func v1Port(f []byte) (uint16, error) {
	bad := len(f) == 0 || len(f) > 5 || (f[0] == '0' && len(f) > 1)
	for _, c := range f {
		bad = bad || c < '0' || c > '9'
	}
	if !bad {
		if n, err := strconv.ParseUint(string(f), 10, 16); err == nil {
			return uint16(n), nil
		}
	}
	return 0, invalid("v1 port %q is not a number from 0 to 65535", f)
}

// Address families and transport protocols of a v2 header (its 14th byte).
const (
	famUnspec = 0x0
	famInet   = 0x1
	famInet6  = 0x2
	famUnix   = 0x3

	protoUnspec = 0x0
	protoStream = 0x1
	protoDgram  = 0x2
)

// v2AddrLen is the address block's length by family.
var v2AddrLen = [...]int{famUnspec: 0, famInet: 12, famInet6: 36, famUnix: 216}

func parseV2(b []byte) (Header, int, error) {
	match, complete := hasPrefix(b, v2Signature)
	if !match {
		return Header{}, 0, invalid("no PROXY protocol signature")
	}
	if !complete || len(b) < v2HeadLen {
		return Header{}, 0, ErrIncomplete
	}
	if v := b[12] >> 4; v != 2 {
		return Header{}, 0, invalid("v2 version %d", v)
	}
	cmd := Command(b[12] & 0xf)
	if cmd != Local && cmd != Proxy {
		return Header{}, 0, invalid("v2 command %d", cmd)
	}
	length := int(binary.BigEndian.Uint16(b[14:16]))
	if length > MaxV2Body {
		return Header{}, 0, invalid("v2 length %d beyond %d", length, MaxV2Body)
	}
	if len(b) < v2HeadLen+length {
		return Header{}, 0, ErrIncomplete
	}
	h := Header{Version: 2, Command: cmd}
	if cmd == Local {
		// The spec has the receiver discard the whole block, family
		// included, and keep the connection's endpoints.
		return h, v2HeadLen + length, nil
	}
	fam, proto := b[13]>>4, b[13]&0xf
	if fam > famUnix || proto > protoDgram || (fam == famUnspec) != (proto == protoUnspec) {
		return Header{}, 0, invalid("v2 family and protocol 0x%02x", b[13])
	}
	body := b[v2HeadLen : v2HeadLen+length]
	addrLen := v2AddrLen[fam]
	if len(body) < addrLen {
		return Header{}, 0, invalid("v2 length %d too short for the addresses of family %d", length, fam)
	}
	if proto == protoStream {
		// The other valid combinations (UNSPEC, UDP, AF_UNIX) fall back
		// to the connection's own endpoints, as the spec lets a
		// receiver do.
		switch fam {
		case famInet:
			h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
		case famInet6:
			h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])), binary.BigEndian.Uint16(body[34:36]))
		}
	}
	for rest, off := body[addrLen:], v2HeadLen+addrLen; len(rest) > 0; {
		if len(rest) < 3 {
			return Header{}, 0, invalid("v2 TLV truncated: %d bytes left", len(rest))
		}
		t, l := rest[0], int(binary.BigEndian.Uint16(rest[1:3]))
		if l > len(rest)-3 {
			return Header{}, 0, invalid("v2 TLV 0x%02x of %d bytes overruns the header by %d", t, l, l-(len(rest)-3))
		}
		v := rest[3 : 3+l]
		if t == TypeCRC32C {
			if err := checkCRC32C(b[:v2HeadLen+length], off+3, v); err != nil {
				return Header{}, 0, err
			}
		}
		h.TLVs = append(h.TLVs, TLV{Type: t, Value: v})
		rest, off = rest[3+l:], off+3+l
	}
	return h, v2HeadLen + length, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkCRC32C verifies a PP2_TYPE_CRC32C field: the CRC32c of the whole
// header with the field's value taken as zeros. A receiver that supports
// it must refuse a header whose checksum differs.
func checkCRC32C(header []byte, at int, v []byte) error {
	if len(v) != 4 {
		return invalid("v2 CRC32C TLV of %d bytes, not 4", len(v))
	}
	sum := crc32.Update(0, castagnoli, header[:at])
	sum = crc32.Update(sum, castagnoli, []byte{0, 0, 0, 0})
	sum = crc32.Update(sum, castagnoli, header[at+4:])
	if sum != binary.BigEndian.Uint32(v) {
		return invalid("v2 CRC32C mismatch")
	}
	return nil
}

// Append writes h in its version's format after b. A header with no
// Source is written as v1 UNKNOWN or v2 AF_UNSPEC; Source and Destination
// must be of one family (an IPv4-mapped IPv6 address is IPv6).
func (h *Header) Append(b []byte) ([]byte, error) {
	hasAddrs := h.Source.IsValid() || h.Destination.IsValid()
	if hasAddrs {
		if !h.Source.IsValid() || !h.Destination.IsValid() {
			return b, fmt.Errorf("proxyproto: source %v and destination %v: both or neither", h.Source, h.Destination)
		}
		if h.Source.Addr().Is4() != h.Destination.Addr().Is4() {
			return b, fmt.Errorf("proxyproto: source %v and destination %v are of different families", h.Source, h.Destination)
		}
		if h.Source.Addr().Zone() != "" || h.Destination.Addr().Zone() != "" {
			return b, fmt.Errorf("proxyproto: addresses with a zone have no PROXY protocol form")
		}
		if h.Command == Local {
			return b, fmt.Errorf("proxyproto: a LOCAL header carries no addresses")
		}
	}
	switch h.Version {
	case 1:
		return h.appendV1(b, hasAddrs)
	case 2:
		return h.appendV2(b, hasAddrs)
	}
	return b, fmt.Errorf("proxyproto: version %d", h.Version)
}

func (h *Header) appendV1(b []byte, hasAddrs bool) ([]byte, error) {
	if h.Command != Proxy {
		return b, fmt.Errorf("proxyproto: v1 has no LOCAL command")
	}
	if len(h.TLVs) > 0 {
		return b, fmt.Errorf("proxyproto: v1 has no TLVs")
	}
	b = append(b, v1Prefix...)
	if !hasAddrs {
		return append(b, "UNKNOWN\r\n"...), nil
	}
	if h.Source.Addr().Is4() {
		b = append(b, "TCP4 "...)
	} else {
		b = append(b, "TCP6 "...)
	}
	b = h.Source.Addr().AppendTo(b)
	b = append(b, ' ')
	b = h.Destination.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(h.Source.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(h.Destination.Port()), 10)
	return append(b, '\r', '\n'), nil
}

func (h *Header) appendV2(b []byte, hasAddrs bool) ([]byte, error) {
	if h.Command != Local && h.Command != Proxy {
		return b, fmt.Errorf("proxyproto: v2 command %d", h.Command)
	}
	famProto := byte(famUnspec<<4 | protoUnspec)
	if hasAddrs {
		famProto = famInet<<4 | protoStream
		if !h.Source.Addr().Is4() {
			famProto = famInet6<<4 | protoStream
		}
	}
	length := v2AddrLen[famProto>>4]
	for _, t := range h.TLVs {
		if len(t.Value) > 0xffff {
			return b, fmt.Errorf("proxyproto: TLV 0x%02x of %d bytes", t.Type, len(t.Value))
		}
		length += 3 + len(t.Value)
	}
	if length > MaxV2Body {
		return b, fmt.Errorf("proxyproto: v2 length %d beyond %d", length, MaxV2Body)
	}
	b = append(b, v2Signature...)
	b = append(b, 0x20|byte(h.Command), famProto)
	b = binary.BigEndian.AppendUint16(b, uint16(length))
	if hasAddrs {
		src, dst := h.Source.Addr().AsSlice(), h.Destination.Addr().AsSlice()
		b = append(append(b, src...), dst...)
		b = binary.BigEndian.AppendUint16(b, h.Source.Port())
		b = binary.BigEndian.AppendUint16(b, h.Destination.Port())
	}
	for _, t := range h.TLVs {
		b = append(b, t.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b, nil
}
