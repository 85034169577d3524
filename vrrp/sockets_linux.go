package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Type of service / traffic class of adverts: keepalived's 0xc0 (network
// control) for VRRP, ucarp's 0x10 (low delay) for CARP.
const (
	tosVRRP = 0xc0
	tosCARP = 0x10
)

// errNotIPv4 is a read that does not hold an IPv4 header.
var errNotIPv4 = errors.New("not an IPv4 packet")

// received is one protocol-112 packet as the socket delivered it.
type received struct {
	payload  []byte
	src, dst netip.Addr
	ttl      int
}

// advertConn sends and receives protocol-112 packets on one interface.
type advertConn interface {
	// send writes one message from src to dst: the group, or a unicast
	// peer. IPv6 fills the checksum, and to the group picks the link-local
	// source itself.
	send(b []byte, src, dst netip.Addr) error
	recv(buf []byte) (received, error)
	// pending tells whether a packet waits to be read.
	pending() bool
	close() error
}

// permissionHint explains an EPERM from the kernel.
func permissionHint(err error, what string) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s: %w: quill vrrp needs CAP_NET_RAW and CAP_NET_ADMIN (run it as root, "+
			"`setcap cap_net_raw,cap_net_admin+ep` the binary, or set AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW in its systemd unit)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// bindToDevice restricts a socket to one interface and to the multicast
// groups it joined itself (IP_MULTICAST_ALL off), as keepalived does.
func bindToDevice(c syscall.Conn, ifname string, v6 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); serr != nil {
			return
		}
		if v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// conn4 is a raw IPv4 socket with IP_HDRINCL: quill writes the header
// itself (source, TTL 255, TOS), so the VRRPv3 checksum covers exactly the
// source address on the wire, and reads return the received header.
// Sends and receives go straight to the file descriptor with buffers kept
// between calls: no allocation, so a busy garbage collector never makes an
// advert wait for an assist.
type conn4 struct {
	c     *net.IPConn
	raw   *ipv4.RawConn
	rc    syscall.RawConn
	tos   byte
	flags uint16

	out     [ipv4.HeaderLen + 1500]byte
	outLen  int
	to      unix.SockaddrInet4
	sendErr error
	sendFn  func(fd uintptr) bool

	in      []byte
	inLen   int
	recvErr error
	recvFn  func(fd uintptr) bool
}

// listen4 opens the IPv4 socket; a unicast one joins no group, so that
// only adverts sent to this host's own addresses arrive.
func listen4(ifi *net.Interface, carp, unicast bool) (*conn4, error) {
	pc, err := net.ListenPacket(fmt.Sprintf("ip4:%d", IPProto), "0.0.0.0")
	if err != nil {
		return nil, permissionHint(err, "raw IPv4 socket for protocol 112")
	}
	c := pc.(*net.IPConn)
	fail := func(what string, err error) (*conn4, error) {
		c.Close()
		return nil, permissionHint(err, what)
	}
	if err := bindToDevice(c, ifi.Name, false); err != nil {
		return fail("bind to "+ifi.Name, err)
	}
	raw, err := ipv4.NewRawConn(c) // sets IP_HDRINCL
	if err != nil {
		return fail("raw IPv4 socket", err)
	}
	if !unicast {
		if err := raw.JoinGroup(ifi, &net.IPAddr{IP: GroupV4.AsSlice()}); err != nil {
			return fail("join 224.0.0.18 on "+ifi.Name, err)
		}
		if err := raw.SetMulticastInterface(ifi); err != nil {
			return fail("multicast interface", err)
		}
		if err := raw.SetMulticastLoopback(false); err != nil {
			return fail("multicast loopback", err)
		}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return fail("raw IPv4 socket", err)
	}
	k := &conn4{c: c, raw: raw, rc: rc, tos: tosVRRP, to: unix.SockaddrInet4{Addr: GroupV4.As4()}}
	if carp {
		k.tos, k.flags = tosCARP, 0x4000 // don't fragment, as ucarp
	}
	k.sendFn = func(fd uintptr) bool {
		k.sendErr = unix.Sendto(int(fd), k.out[:k.outLen], 0, &k.to)
		return k.sendErr != unix.EAGAIN
	}
	k.recvFn = func(fd uintptr) bool {
		k.inLen, k.recvErr = unix.Read(int(fd), k.in)
		return k.recvErr != unix.EAGAIN
	}
	return k, nil
}

func (k *conn4) send(b []byte, src, dst netip.Addr) error {
	if len(b) > len(k.out)-ipv4.HeaderLen {
		return fmt.Errorf("advert of %d bytes is too long", len(b))
	}
	h := k.out[:ipv4.HeaderLen]
	clear(h)
	h[0] = 4<<4 | ipv4.HeaderLen/4
	h[1] = k.tos
	binary.BigEndian.PutUint16(h[2:], uint16(ipv4.HeaderLen+len(b)))
	binary.BigEndian.PutUint16(h[6:], k.flags)
	h[8] = 255 // TTL: receivers drop anything else (keepalived sends 255 to unicast peers too)
	h[9] = IPProto
	s4, d4 := src.As4(), dst.As4()
	k.to.Addr = d4
	copy(h[12:16], s4[:])
	copy(h[16:20], d4[:])
	// The kernel fills in the header checksum and the ID.
	k.outLen = ipv4.HeaderLen + copy(k.out[ipv4.HeaderLen:], b)
	if err := k.rc.Write(k.sendFn); err != nil {
		return err
	}
	return k.sendErr
}

func (k *conn4) recv(buf []byte) (received, error) {
	k.in = buf
	if err := k.rc.Read(k.recvFn); err != nil {
		return received{}, err
	}
	if k.recvErr != nil {
		return received{}, k.recvErr
	}
	p := buf[:k.inLen]
	if len(p) < ipv4.HeaderLen || p[0]>>4 != 4 {
		return received{}, errNotIPv4
	}
	hl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:]))
	if hl < ipv4.HeaderLen || hl > len(p) {
		return received{}, errNotIPv4
	}
	// Ethernet pads short frames; the IP length says where the message ends.
	if total >= hl && total < len(p) {
		p = p[:total]
	}
	return received{
		payload: p[hl:],
		src:     netip.AddrFrom4([4]byte(p[12:16])),
		dst:     netip.AddrFrom4([4]byte(p[16:20])),
		ttl:     int(p[8]),
	}, nil
}

// pending tells whether a packet waits in the socket.
func (k *conn4) pending() bool { return pending(k.rc) }

func (k *conn4) close() error { return k.c.Close() }

// pending tells whether a datagram waits in a socket's receive queue.
func pending(rc syscall.RawConn) bool {
	n := 0
	rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n > 0
}

// conn6 is a raw IPv6 socket: the kernel sets the link-local source and
// the checksum (IPV6_CHECKSUM at offset 6), control messages give the
// received hop limit and destination. Like conn4, it reads and writes
// with buffers kept between calls, without allocating.
type conn6 struct {
	c  *net.IPConn
	rc syscall.RawConn

	to      unix.SockaddrInet6
	out     []byte
	sendErr error
	sendFn  func(fd uintptr) bool

	// A unicast advert leaves from the configured source: sendmsg with
	// an IPV6_PKTINFO control message, built in kept buffers.
	ifindex int
	txName  unix.RawSockaddrInet6
	txOOB   [64]byte
	txIov   unix.Iovec
	txMsg   unix.Msghdr
	txFn    func(fd uintptr) bool

	in      []byte
	inLen   int
	oob     [256]byte
	oobLen  int
	name    unix.RawSockaddrInet6
	iov     unix.Iovec
	msg     unix.Msghdr
	recvErr error
	recvFn  func(fd uintptr) bool
}

// listen6 opens the IPv6 socket; a unicast one joins no group and sends
// with hop limit 255 to its peers.
func listen6(ifi *net.Interface, unicast bool) (*conn6, error) {
	pc, err := net.ListenPacket(fmt.Sprintf("ip6:%d", IPProto), "::")
	if err != nil {
		return nil, permissionHint(err, "raw IPv6 socket for protocol 112")
	}
	c := pc.(*net.IPConn)
	fail := func(what string, err error) (*conn6, error) {
		c.Close()
		return nil, permissionHint(err, what)
	}
	if err := bindToDevice(c, ifi.Name, true); err != nil {
		return fail("bind to "+ifi.Name, err)
	}
	p := ipv6.NewPacketConn(c)
	group := &net.IPAddr{IP: GroupV6.AsSlice()}
	type step struct {
		what string
		f    func() error
	}
	steps := []step{
		{"checksum offload", func() error { return p.SetChecksum(true, 6) }},
		{"traffic class", func() error { return p.SetTrafficClass(tosVRRP) }},
		{"control messages", func() error {
			return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
	}
	if unicast {
		steps = append(steps, step{"unicast hop limit", func() error { return p.SetHopLimit(255) }})
	} else {
		steps = append(steps,
			step{"join ff02::12 on " + ifi.Name, func() error { return p.JoinGroup(ifi, group) }},
			step{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
			step{"multicast hop limit", func() error { return p.SetMulticastHopLimit(255) }},
			step{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }})
	}
	for _, st := range steps {
		if err := st.f(); err != nil {
			return fail(st.what, err)
		}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return fail("raw IPv6 socket", err)
	}
	k := &conn6{c: c, rc: rc, to: unix.SockaddrInet6{Addr: GroupV6.As16(), ZoneId: uint32(ifi.Index)}, ifindex: ifi.Index}
	k.sendFn = func(fd uintptr) bool {
		k.sendErr = unix.Sendto(int(fd), k.out, 0, &k.to)
		return k.sendErr != unix.EAGAIN
	}
	k.txFn = func(fd uintptr) bool {
		k.txIov.Base = &k.out[0]
		k.txIov.SetLen(len(k.out))
		k.txMsg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&k.txName)), Namelen: unix.SizeofSockaddrInet6, Iov: &k.txIov, Control: &k.txOOB[0]}
		k.txMsg.SetIovlen(1)
		k.txMsg.SetControllen(unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		_, _, errno := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&k.txMsg)), 0)
		k.sendErr = nil
		if errno != 0 {
			k.sendErr = errno
		}
		return errno != unix.EAGAIN
	}
	k.recvFn = func(fd uintptr) bool {
		k.iov.Base = &k.in[0]
		k.iov.SetLen(len(k.in))
		k.msg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&k.name)), Namelen: unix.SizeofSockaddrInet6, Iov: &k.iov, Control: &k.oob[0]}
		k.msg.SetIovlen(1)
		k.msg.SetControllen(len(k.oob))
		n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&k.msg)), 0)
		if errno != 0 {
			k.recvErr = errno
			return errno != unix.EAGAIN
		}
		k.inLen, k.oobLen, k.recvErr = int(n), int(k.msg.Controllen), nil
		return true
	}
	return k, nil
}

func (k *conn6) send(b []byte, src, dst netip.Addr) error {
	if len(b) == 0 {
		return errors.New("empty advert")
	}
	k.out = b
	fn := k.sendFn
	if dst != GroupV6 {
		// To a unicast peer, from the configured source on this interface.
		k.txName = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.As16()}
		if dst.IsLinkLocalUnicast() {
			k.txName.Scope_id = uint32(k.ifindex)
		}
		clear(k.txOOB[:])
		h := (*unix.Cmsghdr)(unsafe.Pointer(&k.txOOB[0]))
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&k.txOOB[unix.CmsgLen(0)]))
		info.Addr, info.Ifindex = src.As16(), uint32(k.ifindex)
		fn = k.txFn
	}
	if err := k.rc.Write(fn); err != nil {
		return err
	}
	return k.sendErr
}

func (k *conn6) recv(buf []byte) (received, error) {
	if len(buf) == 0 {
		return received{}, errors.New("no buffer")
	}
	k.in = buf
	if err := k.rc.Read(k.recvFn); err != nil {
		return received{}, err
	}
	if k.recvErr != nil {
		return received{}, k.recvErr
	}
	r := received{payload: buf[:k.inLen], src: netip.AddrFrom16(k.name.Addr), ttl: -1}
	// The control messages: IPV6_HOPLIMIT and IPV6_PKTINFO (destination).
	hdr := unix.CmsgLen(0)
	for off := 0; off+hdr <= k.oobLen; {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&k.oob[off]))
		l := int(h.Len)
		if l < hdr || off+l > k.oobLen {
			break
		}
		data := k.oob[off+hdr : off+l]
		if h.Level == unix.IPPROTO_IPV6 {
			switch {
			case h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
				r.ttl = int(int32(binary.NativeEndian.Uint32(data)))
			case h.Type == unix.IPV6_PKTINFO && len(data) >= 16:
				r.dst = netip.AddrFrom16([16]byte(data[:16]))
			}
		}
		off += unix.CmsgSpace(l - hdr)
	}
	return r, nil
}

func (k *conn6) pending() bool { return pending(k.rc) }

func (k *conn6) close() error { return k.c.Close() }

// announcer sends gratuitous ARPs and unsolicited neighbour advertisements
// as whole Ethernet frames on an AF_PACKET socket.
type announcer struct {
	fd  int
	ifi *net.Interface
}

func newAnnouncer(ifi *net.Interface) (*announcer, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, permissionHint(err, "packet socket for gratuitous ARP")
	}
	return &announcer{fd: fd, ifi: ifi}, nil
}

// announce tells the segment that ip is at this interface's MAC.
func (a *announcer) announce(ip netip.Addr) error {
	mac := a.ifi.HardwareAddr
	if len(mac) != 6 {
		return nil // not Ethernet: nothing to announce
	}
	var frame []byte
	var proto uint16
	if ip.Is6() {
		frame, proto = UnsolicitedNA(mac, ip), etherIPv6
	} else {
		frame, proto = GratuitousARP(mac, ip), etherARP
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: a.ifi.Index, Halen: 6}
	copy(sa.Addr[:], frame[0:6])
	return unix.Sendto(a.fd, frame, 0, sa)
}

func (a *announcer) close() error { return unix.Close(a.fd) }

// htons puts v in network byte order, as sockaddr_ll wants it.
func htons(v uint16) uint16 { return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v)) }
