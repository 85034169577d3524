package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
)

// framedListener hands out framingConns.
type framedListener struct {
	net.Listener
	refused func(c net.Conn, status int, requestLine string)
}

// framingListener wraps l so that every HTTP/1 connection is scanned for
// ambiguous framing. It belongs in front of net/http's server and after any
// TLS termination: scanning ciphertext finds nothing. A TLS connection that
// negotiated h2 is passed through as the *tls.Conn net/http needs to speak
// HTTP/2 on it; h2 framing leaves nothing to smuggle. refused, if not nil,
// is told of the requests net/http refused before any handler ran.
func framingListener(l net.Listener, refused func(c net.Conn, status int, requestLine string)) net.Listener {
	return framedListener{Listener: l, refused: refused}
}

func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
		return tc, nil
	}
	fc := newFramingConn(c)
	fc.refused = l.refused
	return fc, nil
}

// maxLoggedLine bounds the request line kept for logging a refusal.
const maxLoggedLine = 1024

// cannedHeaders is how net/http's own error responses end their head; a
// response from a handler always carries a Date header besides.
var cannedHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// Write notices net/http's own answers to requests it refused before any
// handler ran (a malformed line or header, a head too large), so that they
// reach the access log as Apache and nginx log them.
func (c *framingConn) Write(p []byte) (int, error) {
	if c.refused != nil && len(p) > 12 && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) && (p[9] == '4' || p[9] == '5') {
		if end := bytes.Index(p, []byte("\r\n\r\n")); end > 0 && bytes.HasSuffix(p[:end+4], cannedHeaders) {
			status := int(p[9]-'0')*100 + int(p[10]-'0')*10 + int(p[11]-'0')
			c.refused(c.Conn, status, string(c.reqLine[:c.reqLen]))
		}
	}
	return c.Conn.Write(p)
}

type framingConnKey struct{}

// withFramingConn is for http.Server.ConnContext: it puts the connection
// where framingCheck can find it, since net/http gives handlers no other way
// to reach their connection. Connections that are not framingConns are left
// out, and framingCheck then passes every request.
func withFramingConn(ctx context.Context, c net.Conn) context.Context {
	fc, ok := c.(*framingConn)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, framingConnKey{}, fc)
}

func framingConnOf(r *http.Request) *framingConn {
	fc, _ := r.Context().Value(framingConnKey{}).(*framingConn)
	return fc
}

// framingCheck reports whether r had ambiguous framing, in which case the
// handler must answer 400 with "Connection: close" and not forward it. It
// numbers the requests of a connection by counting its own calls, so it must
// be called exactly once for every request a handler receives; a handler
// that answers without calling it must close the connection, or every later
// request on it would be checked against the wrong head. HTTP/1 handlers on
// one connection run one at a time, so the count needs no more than an
// atomic; HTTP/2 requests (prior knowledge over cleartext) are not counted.
func framingCheck(r *http.Request) (reason string, bad bool) {
	if r.ProtoMajor != 1 {
		return "", false
	}
	fc := framingConnOf(r)
	if fc == nil {
		return "", false
	}
	n := fc.served.Add(1) - 1
	return fc.BadRequest(int(n))
}

// markOpaque stops scanning r's connection; call it once the connection has
// switched protocols (101, or a hijack), since what follows is not HTTP/1.
func markOpaque(r *http.Request) {
	if fc := framingConnOf(r); fc != nil {
		fc.Opaque()
	}
}
