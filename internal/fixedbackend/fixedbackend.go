// Package fixedbackend is a backend for benchmarks: it answers every
// request head it reads with the same 1 KiB response and allocates nothing
// per request, so that a benchmark of a forwarding path counts that
// path's allocations alone.
package fixedbackend

import (
	"bytes"
	"net"
	"testing"
)

// Response is what the backend answers: a 1 KiB body.
var Response = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n\r\n" +
	string(bytes.Repeat([]byte("x"), 1024)))

// Start listens on 127.0.0.1 until the benchmark ends and returns the
// address.
func Start(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 8192)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		for {
			i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			if _, err := c.Write(Response); err != nil {
				return
			}
			n = copy(buf, buf[i+4:n])
		}
	}
}
