package proxy

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"quill/proxyproto"
)

// Why a connection to a VIP with proxy_protocol was refused: the values of
// the reason label of quill_proxy_protocol_refused_total.
const (
	refusedSource  = "source"  // the peer is not in proxy_protocol_from
	refusedInvalid = "invalid" // it sent something that is not a PROXY header
	refusedTimeout = "timeout" // no whole header within read_header_timeout
	refusedClosed  = "closed"  // it closed before a whole header (a balancer's TCP health check)
)

// refusalLogEvery spaces the warnings about refused connections of one
// listen address: a scanner knocking on a PROXY VIP would otherwise write
// a line per connection. The rest go to the debug level.
const refusalLogEvery = 10 * time.Second

// proxyHeaders reads the PROXY protocol header that opens each connection
// of one listen address when its VIP has proxy_protocol. It is read per
// connection from the generation in force, so a reload that turns it on
// or off, or changes proxy_protocol_from, applies to the next connection.
type proxyHeaders struct {
	p    *Proxy
	addr string

	mu         sync.Mutex
	nextWarn   time.Time
	suppressed int // refusals logged at debug level since the last warning
}

// accept runs first on the goroutine of a new connection: for a plain VIP
// before the HTTP/1 engine sees it, for a TLS VIP before the handshake.
// It returns the connection as the rest of quill sees it, with the
// client's address from the header, or c itself when the VIP takes no
// header; nil when it refused c: closed without a byte answered, counted
// and logged.
func (ph *proxyHeaders) accept(c net.Conn) net.Conn {
	g := ph.p.gen.Load()
	v := g.byAddr[ph.addr]
	if v == nil || v.proxyFrom == nil {
		return c
	}
	peer := addrPortOf(c.RemoteAddr())
	if !v.proxyFrom.contains(peer.Addr()) {
		ph.refuse(c, v.name, refusedSource, peer, nil)
		return nil
	}
	if d := g.cfg.Global.ReadHeaderTimeout.Duration; d > 0 {
		c.SetReadDeadline(time.Now().Add(d))
	}
	h, err := proxyproto.Read(c)
	if err != nil {
		ph.refuse(c, v.name, refusalReason(err), peer, err)
		return nil
	}
	c.SetReadDeadline(time.Time{})
	if !h.Source.IsValid() {
		// LOCAL (the balancer's health check), UNKNOWN, or an address
		// family HTTP has no use for: the spec keeps the connection's
		// own endpoints.
		return c
	}
	client := netip.AddrPortFrom(h.Source.Addr().Unmap(), h.Source.Port())
	return &proxiedConn{Conn: c, client: net.TCPAddrFromAddrPort(client)}
}

func refusalReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, proxyproto.ErrInvalid):
		return refusedInvalid
	case errors.As(err, &ne) && ne.Timeout():
		return refusedTimeout
	}
	return refusedClosed
}

// refuse counts c, closes it, and logs it: a warning at most every
// refusalLogEvery per listen address, the others at debug level. A peer
// that closed without a byte is a balancer's TCP health check, or a port
// scan, and never worth a warning.
func (ph *proxyHeaders) refuse(c net.Conn, vip, reason string, peer netip.AddrPort, err error) {
	// Counted before the close, so that whoever sees the close sees
	// the count.
	ph.p.metrics.proxyRefused.WithLabelValues(vip, reason).Inc()
	c.Close()
	level, suppressed := zap.DebugLevel, 0
	if reason != refusedClosed {
		now := time.Now()
		ph.mu.Lock()
		if now.After(ph.nextWarn) {
			level, suppressed = zap.WarnLevel, ph.suppressed
			ph.nextWarn, ph.suppressed = now.Add(refusalLogEvery), 0
		} else {
			ph.suppressed++
		}
		ph.mu.Unlock()
	}
	if ce := ph.p.log.Check(level, "connection refused: no valid PROXY protocol header"); ce != nil {
		fields := []zap.Field{zap.String("vip", vip), zap.String("listen", ph.addr),
			zap.Stringer("peer", peer), zap.String("reason", reason)}
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		if level == zap.WarnLevel {
			fields = append(fields, zap.Int("suppressed", suppressed), zap.Duration("next_warning_after", refusalLogEvery))
		}
		ce.Write(fields...)
	}
}

// addrPortOf is the IP and port of a TCP address, IPv4-mapped ones as IPv4.
func addrPortOf(a net.Addr) netip.AddrPort {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// proxiedConn is a client connection whose client is the one its PROXY
// header named: that address is its RemoteAddr, and so the address of the
// access log, X-Forwarded-For and ip stickiness, on HTTP/1 and HTTP/2.
type proxiedConn struct {
	net.Conn
	client *net.TCPAddr
}

// The HTTP/1 engine reads, parks and half-closes a connection through
// these, and silently falls back to buffered reads without the first.
var (
	_ syscall.Conn                      = (*proxiedConn)(nil)
	_ interface{ CloseWrite() error }   = (*proxiedConn)(nil)
	_ interface{ SetLinger(int) error } = (*proxiedConn)(nil)
)

func (c *proxiedConn) RemoteAddr() net.Addr { return c.client }

// SyscallConn lets the HTTP/1 engine read and park the socket itself,
// which it may: proxyproto.Read left nothing of the client's in a buffer.
func (c *proxiedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// SetLinger passes on, as limitConn's does.
func (c *proxiedConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return errors.ErrUnsupported
}

// CloseWrite half-closes the connection, as limitConn's does.
func (c *proxiedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
