package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A read from a server holds a copy buffer only while there are bytes to
// read: one that waits (here until its deadline) gives the empty buffer
// back; bytes come in a buffer of the size the answer needs (small for a
// slow client); the server's close is io.EOF.
func TestBackendReadLendsBuffer(t *testing.T) {
	tests := []struct {
		name     string
		slow     bool
		wantSize int
	}{
		{"normal client", false, copyBuf},
		{"slow client", true, slowBuf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					accepted <- c
				}
			}()
			u := NewUpstream(ln.Addr().String(), time.Second)
			bc, err := u.get(true)
			if err != nil {
				t.Fatal(err)
			}
			defer bc.close()
			server := <-accepted
			defer server.Close()
			bc.slow = tt.slow

			bc.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := bc.read(); !isTimeout(err) {
				t.Fatalf("read from a silent server: %v, want a timeout", err)
			}
			if bc.buf != nil {
				t.Fatalf("a read that waited kept a %d-byte buffer", len(bc.buf))
			}

			bc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			server.Write([]byte("abc"))
			n, err := bc.read()
			if err != nil || n != 3 || string(bc.buf[:3]) != "abc" {
				t.Fatalf("read %d bytes (%q), %v; want abc", n, bc.buf[:n], err)
			}
			if len(bc.buf) != tt.wantSize {
				t.Errorf("buffer of %d bytes, want %d", len(bc.buf), tt.wantSize)
			}

			// Bytes already read stay while the next read waits.
			bc.w = n
			bc.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := bc.read(); !isTimeout(err) {
				t.Fatalf("second read: %v, want a timeout", err)
			}
			if bc.buf == nil || string(bc.buf[:3]) != "abc" {
				t.Fatal("a read that waited dropped the bytes already read")
			}

			server.Close()
			bc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := bc.read(); !errors.Is(err, io.EOF) {
				t.Fatalf("read after the server closed: %v, want EOF", err)
			}
		})
	}
}

// TestRequestLargerThanTheServerTakes forwards a request whose head and
// held body the server's socket cannot take at once: the read that writes
// it (sendFirst) hands the rest to a blocking write and then reads the
// answer.
func TestRequestLargerThanTheServerTakes(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		// A small receive window, inherited by the accepted socket.
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// Not reading for a while fills the window.
				time.Sleep(100 * time.Millisecond)
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				n, _ := io.Copy(io.Discard, req.Body)
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(strconv.FormatInt(n, 10)), n)
			}()
		}
	}()
	u := NewUpstream(ln.Addr().String(), time.Second)
	defer u.Close()
	// And a small send buffer: the request fills both.
	u.dialer.Control = func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 2048)
		})
	}
	h := &bufferingForward{u: u, limit: 64 << 10, timeout: 5 * time.Second, results: make(chan outcome, 1)}
	_, addr := startEngine(t, h)
	sent := strings.Repeat("x", 7000) // held in the connection's 8 KiB buffer
	resps := rawExchange(t, addr, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(sent), sent), "POST")
	if got := body(resps[0]); resps[0].StatusCode != 200 || got != strconv.Itoa(len(sent)) {
		t.Fatalf("status %d body %q, want 200 %d", resps[0].StatusCode, got, len(sent))
	}
	if o := h.next(t); o.err != nil {
		t.Fatalf("forward: %v", o.err)
	}
}
