package h1

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"quill/internal/fixedbackend"
)

// BenchmarkForwardKeepAlive is a keep-alive GET through the engine: parse,
// forward on a pooled backend connection, relay the 1 KiB answer.
func BenchmarkForwardKeepAlive(b *testing.B) {
	u := NewUpstream(fixedbackend.Start(b), time.Second)
	b.Cleanup(u.Close)
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
