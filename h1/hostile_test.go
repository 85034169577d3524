package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// outcome is what a handler saw of one request.
type outcome struct {
	status int
	bytes  int64
	err    error
}

// bufferingForward reads up to limit bytes of the body before forwarding
// to u, and answers the errors a proxy answers itself: 400 for a
// malformed body, 408 for a body that stopped coming, 502 otherwise.
type bufferingForward struct {
	u       *Upstream
	limit   int
	timeout time.Duration
	results chan outcome
}

func (h *bufferingForward) ServeH1(x *Exchange) {
	err := x.BufferBody(h.limit)
	if err == nil {
		err = x.Forward(h.u, h.timeout, testHooks{})
	}
	var fe *ForwardError
	if err != nil && !x.HeadSent() {
		switch {
		case errors.As(err, &fe) && fe.Malformed:
			x.Close()
			x.Respond(400, nil, []byte("bad request\n"))
		case errors.Is(err, ErrBodyTimeout):
			x.Close()
			x.Respond(408, nil, []byte("request timeout\n"))
		default:
			x.Respond(502, nil, []byte("bad gateway\n"))
		}
	}
	h.results <- outcome{x.Status, x.BodyBytes, err}
}

func (h *bufferingForward) next(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-h.results:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return")
		return outcome{}
	}
}

// rawBackend serves each connection with serve, on loopback, and counts
// the connections it accepted.
func rawBackend(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (*Upstream, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(15 * time.Second))
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	u := NewUpstream(ln.Addr().String(), time.Second)
	t.Cleanup(u.Close)
	return u, &accepted
}

// readRequestBody reads one request and its whole body; ok is false when
// the connection ended first.
func readRequestBody(br *bufio.Reader) (n int64, ok bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return 0, false
	}
	n, err = io.Copy(io.Discard, req.Body)
	return n, err == nil
}

// A backend that dies in the middle of its answer's body: the client has
// the status, the head and the bytes that came, then the connection
// closes short of the answer's length, or before the last chunk.
func TestBackendDiesMidBody(t *testing.T) {
	tests := []struct {
		name   string
		answer string
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("x", 100)},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + strings.Repeat("x", 100) + "\r\n"},
		{"head alone, then the body", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
				readRequestBody(br)
				io.WriteString(c, tt.answer)
				if !strings.Contains(tt.answer, "x") {
					time.Sleep(100 * time.Millisecond)
					io.WriteString(c, strings.Repeat("x", 100))
				}
			})
			h := &bufferingForward{u: u, timeout: 5 * time.Second, results: make(chan outcome, 1)}
			_, addr := startEngine(t, h)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			got, err := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || len(got) != 100 || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("status %d, %d body bytes, %v; want 200, 100 bytes, then the close short of the end", resp.StatusCode, len(got), err)
			}
			o := h.next(t)
			var fe *ForwardError
			if !errors.As(o.err, &fe) || fe.Stage != StageRelay || fe.Client || o.status != 200 || o.bytes != 100 {
				t.Errorf("handler saw status %d, %d bytes, %v; want 200, 100 and a relay error of the server", o.status, o.bytes, o.err)
			}
		})
	}
}

// A client that sends no byte of its body for BodyTimeout gets 408; the
// server's connection, which may have the head already, is closed and
// not kept, and the answer goes before a lingering close.
func TestBodyTimeout(t *testing.T) {
	tests := []struct {
		name         string
		limit        int
		wantAccepted int32
	}{
		{"streamed", 0, 1},
		{"held", 64 << 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan bool, 1)
			u, accepted := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
				_, ok := readRequestBody(br)
				closed <- !ok
			})
			h := &bufferingForward{u: u, limit: tt.limit, timeout: 5 * time.Second, results: make(chan outcome, 1)}
			_, addr := startEngineWith(t, h, func(s *Server) { s.BodyTimeout = 300 * time.Millisecond })
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 408 {
				t.Fatalf("answer %v, %v; want 408", resp, err)
			}
			if o := h.next(t); !errors.Is(o.err, ErrBodyTimeout) {
				t.Errorf("handler saw %v, want ErrBodyTimeout", o.err)
			}
			if n := accepted.Load(); n != tt.wantAccepted {
				t.Errorf("the server accepted %d connections, want %d", n, tt.wantAccepted)
			}
			if tt.wantAccepted > 0 {
				select {
				case cut := <-closed:
					if !cut {
						t.Error("the server got the whole body")
					}
				case <-time.After(5 * time.Second):
					t.Error("the server's connection was not closed")
				}
			}
			if n := u.Idle(); n != 0 {
				t.Errorf("%d server connections kept", n)
			}
		})
	}
}

// A body that keeps coming, a byte at a time, each within BodyTimeout,
// is forwarded whole however long it takes in all.
func TestSlowBodyWithinBodyTimeout(t *testing.T) {
	for _, limit := range []int{0, 64 << 10} {
		t.Run(fmt.Sprint("buffer ", limit), func(t *testing.T) {
			got := make(chan int64, 1)
			u, _ := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
				n, _ := readRequestBody(br)
				got <- n
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			})
			h := &bufferingForward{u: u, limit: limit, timeout: 5 * time.Second, results: make(chan outcome, 1)}
			_, addr := startEngineWith(t, h, func(s *Server) { s.BodyTimeout = 400 * time.Millisecond })
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
			for i := 0; i < 6; i++ {
				time.Sleep(150 * time.Millisecond)
				io.WriteString(c, "a")
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("answer %v, %v; want 200", resp, err)
			}
			if n := <-got; n != 6 {
				t.Errorf("the server got %d body bytes, want 6", n)
			}
		})
	}
}

// A client that reads nothing of the answer for SendTimeout is cut off
// with a reset, on a relayed answer and on one of the server's own; the
// handler sees the status as sent and fewer bytes than the answer has.
func TestSendTimeout(t *testing.T) {
	const size = 32 << 20
	big := bytes.Repeat([]byte("y"), size)
	u, _ := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		readRequestBody(br)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		c.Write(big)
	})
	relay := &bufferingForward{u: u, timeout: 5 * time.Second, results: make(chan outcome, 1)}
	own := make(chan outcome, 1)
	tests := []struct {
		name    string
		h       Handler
		results chan outcome
	}{
		{"relayed", relay, relay.results},
		{"own answer", HandlerFunc(func(x *Exchange) {
			x.Respond(200, nil, big)
			own <- outcome{x.Status, x.BodyBytes, nil}
		}), own},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startEngineWith(t, tt.h, func(s *Server) { s.SendTimeout = 300 * time.Millisecond })
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			var o outcome
			select {
			case o = <-tt.results:
			case <-time.After(10 * time.Second):
				t.Fatal("the answer to a client that reads nothing did not end")
			}
			if o.status != 200 || o.bytes >= size {
				t.Errorf("handler saw status %d, %d bytes; want 200 and less than %d", o.status, o.bytes, size)
			}
			if o.err != nil && !errors.Is(o.err, ErrSendTimeout) {
				t.Errorf("handler saw %v, want ErrSendTimeout", o.err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			if n >= size || (err != nil && !isResetErr(err)) {
				t.Errorf("the client read %d bytes, then %v; want the connection closed short", n, err)
			}
			// The connection is reset, not closed: the kernel drops what
			// it still held for a client that does not read.
			if !isResetErr(err) {
				t.Errorf("the client read %d bytes, then %v; want a reset", n, err)
			}
		})
	}
}

func isResetErr(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// HandlerFunc makes a function a Handler, for tests.
type HandlerFunc func(*Exchange)

func (f HandlerFunc) ServeH1(x *Exchange) { f(x) }

// A server that stops sending its answer's body for the forwarding
// timeout: the client has what came, then the connection closes short.
func TestResponseBodyTimeout(t *testing.T) {
	u, _ := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		readRequestBody(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
		time.Sleep(5 * time.Second)
	})
	h := &bufferingForward{u: u, timeout: 300 * time.Millisecond, results: make(chan outcome, 1)}
	_, addr := startEngine(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(4 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if string(got) != "0123456789" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("body %q, %v; want the 10 bytes that came, then the close", got, err)
	}
	o := h.next(t)
	var fe *ForwardError
	if !errors.As(o.err, &fe) || !fe.Timeout || fe.Stage != StageRelay || o.bytes != 10 {
		t.Errorf("handler saw %d bytes, %v; want 10 and a relay timeout", o.bytes, o.err)
	}
}

// A refused head from a client that goes on sending: the answer reaches
// it whole, before the close (no reset destroys it).
func TestRefusalBeforeLingeringClose(t *testing.T) {
	_, addr := startEngine(t, HandlerFunc(func(x *Exchange) { x.Respond(200, nil, nil) }))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ")
	line := bytes.Repeat([]byte("a"), 16<<10)
	for i := 0; i < 256; i++ { // 4 MiB, far past the head's limit
		if _, err := c.Write(line); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 431 || err != nil || !strings.Contains(string(b), "Header Fields Too Large") {
		t.Errorf("%d %q %v; want the whole 431", resp.StatusCode, b, err)
	}
}

// A client that reads its answer slowly gets it whole, relayed through a
// small buffer once a write has waited for it; its request head moves to
// a small buffer too and stays what it was.
func TestSlowReaderGetsWholeAnswer(t *testing.T) {
	const size = 32 << 20 // more than the sockets' buffers hold
	answer := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	u, _ := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		readRequestBody(br)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		c.Write(answer)
	})
	type seen struct {
		target  string
		bufLen  int
		relayed int
	}
	done := make(chan seen, 1)
	h := HandlerFunc(func(x *Exchange) {
		err := x.Forward(u, 5*time.Second, testHooks{})
		done <- seen{string(x.Req.Target), len(x.c.buf), int(x.BodyBytes)}
		if err != nil {
			t.Errorf("forward: %v", err)
		}
	})
	_, addr := startEngine(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "GET /slow/reader?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(500 * time.Millisecond) // the socket's buffers fill, the relay waits
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, answer) {
		t.Fatalf("%d of %d bytes, equal %v, %v", len(got), size, bytes.Equal(got, answer), err)
	}
	s := <-done
	if s.target != "/slow/reader?x=1" || s.bufLen != shrunkBuf || s.relayed != size {
		t.Errorf("after the relay: target %q, head in a buffer of %d, %d bytes relayed; want the same target, %d, %d",
			s.target, s.bufLen, s.relayed, shrunkBuf, size)
	}
}
