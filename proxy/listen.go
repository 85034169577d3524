package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// tcpKeepAlive is the keep-alive period of client connections: long
// enough to cost nothing, short enough to find clients that vanished.
const tcpKeepAlive = 3 * time.Minute

// socket is a bound TCP listening socket of the proxy (a VIP address or the
// admin address). Its Accept waits until the reload that bound it commits,
// so that a reload that fails never served a connection on it, and no
// connection waiting in the kernel's backlog of a shared socket is taken
// by a listener that the failure then closes.
type socket struct {
	addr string
	tcp  *net.TCPListener
	// dup is set when the socket is a second descriptor of a socket
	// that the running generation already listens on.
	dup bool

	open      chan struct{} // closed at commit
	closed    chan struct{} // closed by Close
	openOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
}

// bind opens a listening socket for addr. When the running generation
// already listens on addr (the address moves to another VIP, between HTTP
// and HTTPS, or between a VIP and the admin listener), the new socket is a
// duplicate descriptor of the same kernel socket: the address is never
// closed, not even for an instant, and the old listener closes its own
// descriptor when it retires. A socket inherited from the process before
// this one serves its address as it is.
func bind(addr string, live *socket, inherited *net.TCPListener) (*socket, error) {
	if inherited != nil {
		if live != nil {
			inherited.Close()
		} else {
			return newSocket(addr, inherited, true), nil
		}
	}
	if live != nil {
		tcp, err := dupListener(live.tcp)
		if err != nil {
			return nil, fmt.Errorf("sharing the running socket: %w", err)
		}
		return newSocket(addr, tcp, true), nil
	}
	// IP_FREEBIND, where the system has it, lets a VIP held by the other
	// host of an HA pair be bound before the address arrives here.
	lc := net.ListenConfig{Control: freebind, KeepAlive: tcpKeepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return newSocket(addr, ln.(*net.TCPListener), false), nil
}

func newSocket(addr string, tcp *net.TCPListener, dup bool) *socket {
	return &socket{addr: addr, tcp: tcp, dup: dup, open: make(chan struct{}), closed: make(chan struct{})}
}

// dupListener makes a second listener on the kernel socket of ln.
func dupListener(ln *net.TCPListener) (*net.TCPListener, error) {
	f, err := ln.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dup, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	return dup.(*net.TCPListener), nil
}

// commit lets Accept through.
func (s *socket) commit() { s.openOnce.Do(func() { close(s.open) }) }

func (s *socket) Accept() (net.Conn, error) {
	select {
	case <-s.open:
	default:
		select {
		case <-s.open:
		case <-s.closed:
			return nil, net.ErrClosed
		}
	}
	c, err := s.tcp.AcceptTCP()
	if err != nil {
		return nil, err
	}
	if s.dup {
		// A listener made from a descriptor does not know the
		// ListenConfig's keep-alive period.
		c.SetKeepAlivePeriod(tcpKeepAlive)
	}
	return c, nil
}

func (s *socket) Close() error {
	s.closeOnce.Do(func() {
		// The descriptor is closed before closed is: waitClosed must
		// not return while an Accept on it could still take a
		// connection of the socket a new generation shares.
		s.closeErr = s.tcp.Close()
		close(s.closed)
	})
	return s.closeErr
}

// waitClosed waits until the server that owns the socket has closed it,
// for at most a second: http.Server.Shutdown closes its listeners first
// thing, and closing them from outside would make Serve report an error.
func (s *socket) waitClosed() {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-s.closed:
	case <-t.C:
	}
}

func (s *socket) Addr() net.Addr { return s.tcp.Addr() }

// overlaps reports whether two listen addresses would be the same socket
// or compete for one: the same port, and the same host or a wildcard host
// on either side.
func overlaps(a, b string) bool {
	ha, pa, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	hb, pb, err := net.SplitHostPort(b)
	if err != nil || pa != pb {
		return false
	}
	if wildcardHost(ha) || wildcardHost(hb) {
		return true
	}
	ia, errA := netip.ParseAddr(ha)
	ib, errB := netip.ParseAddr(hb)
	if errA == nil && errB == nil {
		return ia.Unmap() == ib.Unmap()
	}
	return ha == hb
}

func wildcardHost(h string) bool {
	if h == "" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsUnspecified()
}
