package h1

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// rawBackend answers every request head it reads with a fixed 1 KiB
// response, allocating nothing per request, so that a benchmark counts
// the engine's allocations alone.
func rawBackend(tb testing.TB) *Upstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n\r\n" + string(bytes.Repeat([]byte("x"), 1024)))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
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
						if _, err := c.Write(resp); err != nil {
							return
						}
						n = copy(buf, buf[i+4:n])
					}
				}
			}()
		}
	}()
	u := NewUpstream(ln.Addr().String(), time.Second)
	tb.Cleanup(u.Close)
	return u
}

// BenchmarkForwardKeepAlive is a keep-alive GET through the engine: parse,
// forward on a pooled backend connection, relay the 1 KiB answer.
func BenchmarkForwardKeepAlive(b *testing.B) {
	u := rawBackend(b)
	_, addr := startEngine(b, forwardTo{u})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n")
	buf := make([]byte, 4096)
	want := 0
	// One request to learn the answer's length.
	c.Write(req)
	n, err := io.ReadAtLeast(c, buf, 1)
	if err != nil {
		b.Fatal(err)
	}
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) || n < bytes.Index(buf[:n], []byte("\r\n\r\n"))+4+1024 {
		m, err := c.Read(buf[n:])
		if err != nil {
			b.Fatal(err)
		}
		n += m
	}
	want = n
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:want]); err != nil {
			b.Fatal(err)
		}
	}
}
