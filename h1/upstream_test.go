package h1

import (
	"errors"
	"io"
	"net"
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
