package tlsterm

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// A client that connects and says nothing must neither hold up other
// clients nor stay connected past HandshakeTimeout.
func TestListenerSlowClient(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	term := newTerminator(t, Options{Certificates: []CertFile{pair}, HandshakeTimeout: 1500 * time.Millisecond})
	addr := serve(t, term, viaListener)

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start := time.Now()
	if _, err := handshake(addr, clientConfig("quill.test")); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("a handshake waited %s behind a silent client", waited)
	}

	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("silent client read %v, want EOF once the handshake timed out", err)
	}
	eventually(t, 5*time.Second, "the timeout counted as an error", func() bool {
		return term.Handshakes()["error"] == 1
	})
}

func TestListenerClose(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	term := newTerminator(t, Options{Certificates: []CertFile{pair}})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := term.Listener(inner)
	if l.Addr().String() != inner.Addr().String() {
		t.Errorf("Addr %s, want %s", l.Addr(), inner.Addr())
	}
	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		accepted <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
	if _, err := net.Dial("tcp", inner.Addr().String()); err == nil {
		t.Error("the inner listener still accepts")
	}
}

// addrConn is a connection that claims another peer address.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }

// ListenerWith runs its function before the handshake, on the
// connection's goroutine: what it returns is handshaken and accepted, a
// nil drops the connection uncounted, and the handshake timeout starts
// only after it.
func TestListenerWith(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	term := newTerminator(t, Options{Certificates: []CertFile{pair}, HandshakeTimeout: 300 * time.Millisecond})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	claimed := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	l := term.ListenerWith(inner, func(c net.Conn) net.Conn {
		b := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'K' {
			c.Close()
			return nil
		}
		c.SetReadDeadline(time.Time{})
		return &addrConn{Conn: c, remote: claimed}
	})
	defer l.Close()

	dropped, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dropped.Close()
	dropped.Write([]byte("D"))
	dropped.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := dropped.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("dropped connection read %v, want EOF", err)
	}

	kept, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	time.Sleep(600 * time.Millisecond) // twice the handshake timeout, before the preface
	kept.Write([]byte("K"))
	tc := tls.Client(kept, clientConfig("quill.test"))
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake after a slow preface: %v", err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != claimed.String() {
		t.Errorf("accepted connection from %s, want the address the function gave, %s", c.RemoteAddr(), claimed)
	}
	if h := term.Handshakes(); h["error"] != 0 {
		t.Errorf("handshakes %v: the dropped connection was counted", h)
	}
}
