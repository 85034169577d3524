package proxyproto

import (
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"testing"
	"time"
)

// tcpPair connects a client to a server over loopback TCP.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestReadLeavesTheRequest sends a header and a request, whole or a few
// bytes at a time: Read returns the header and leaves every byte of the
// request in the socket.
func TestReadLeavesTheRequest(t *testing.T) {
	vectors := haproxyVectors(t)
	big := Header{Version: 2, Command: Proxy, Source: ap("192.0.2.10:51000"), Destination: ap("198.51.100.1:443"),
		TLVs: []TLV{{0xe0, make([]byte, 2000)}}}
	bigBytes, err := big.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		wire  []byte
		chunk int // bytes per write; 0: all at once
	}{
		{"v1 at once", vectors["v1_tcp4"], 0},
		{"v2 at once", vectors["v2_tcp6"], 0},
		{"v1 byte by byte", vectors["v1_tcp6"], 1},
		{"v2 in 5-byte pieces", vectors["v2_tcp4_crc32c_unique_id"], 5},
		{"v2 longer than the first buffer", append(bigBytes, request...), 700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, n, err := Parse(tt.wire)
			if err != nil {
				t.Fatal(err)
			}
			client, server := tcpPair(t)
			go func() {
				if tt.chunk == 0 {
					client.Write(tt.wire)
					return
				}
				for b := tt.wire; len(b) > 0; {
					k := min(tt.chunk, len(b))
					if _, err := client.Write(b[:k]); err != nil {
						return
					}
					b = b[k:]
					time.Sleep(time.Millisecond)
				}
			}()
			server.SetReadDeadline(time.Now().Add(10 * time.Second))
			h, err := Read(server)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("Read = %+v, want %+v", h, want)
			}
			rest := make([]byte, len(tt.wire)-n)
			if _, err := io.ReadFull(server, rest); err != nil {
				t.Fatalf("reading what follows the header: %v", err)
			}
			if string(rest) != string(tt.wire[n:]) {
				t.Errorf("after the header the socket held %q, want %q", rest, tt.wire[n:])
			}
		})
	}
}

func TestReadFails(t *testing.T) {
	tests := []struct {
		name  string
		send  string
		close bool
		check func(error) bool
	}{
		{"closed at once", "", true, func(err error) bool { return err == io.EOF }},
		{"closed within the header", "PROXY TCP4 1.2", true, func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"garbage", "GET / HTTP/1.1\r\n\r\n", false, func(err error) bool { return errors.Is(err, ErrInvalid) }},
		{"nothing sent", "", false, func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{"half a header", "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x01", false, func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tcpPair(t)
			client.Write([]byte(tt.send))
			if tt.close {
				client.Close()
			}
			server.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			h, err := Read(server)
			if !tt.check(err) {
				t.Errorf("Read = %+v, %v", h, err)
			}
		})
	}
}

func TestReadNeedsASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := Read(a); err == nil {
		t.Error("Read on a pipe: no error")
	}
}
