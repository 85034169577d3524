package tlsterm

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"
)

// notifyingListener tells when it has accepted a connection.
type notifyingListener struct {
	net.Listener
	accepted chan struct{}
}

func (l notifyingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- struct{}{}
	}
	return c, err
}

// TestListenerStopAcceptingFinishesHandshakes: a client whose connection
// was accepted before StopAccepting completes its handshake and is
// returned by Accept, which then reports net.ErrClosed; nothing new is
// accepted meanwhile.
func TestListenerStopAcceptingFinishesHandshakes(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	term := newTerminator(t, Options{Certificates: []CertFile{pair}})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := term.Listener(notifyingListener{inner, make(chan struct{}, 1)})
	defer l.Close()

	raw, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	select {
	case <-l.(*tlsListener).inner.(notifyingListener).accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not accepted")
	}
	if err := l.(interface{ StopAccepting() error }).StopAccepting(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", inner.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("a connection made after StopAccepting was accepted")
	}

	client := tls.Client(raw, clientConfig("quill.test"))
	client.SetDeadline(time.Now().Add(5 * time.Second))
	handshook := make(chan error, 1)
	go func() { handshook <- client.Handshake() }()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept after StopAccepting, with a handshake under way: %v", err)
	}
	c.Close()
	if err := <-handshook; err != nil {
		t.Fatalf("the client's handshake: %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept once the handshakes are done: %v, want net.ErrClosed", err)
	}
}
