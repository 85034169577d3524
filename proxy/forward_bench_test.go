package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"quill/config"
	"quill/internal/fixedbackend"
)

// BenchmarkProxyKeepAlive is a keep-alive GET through the whole proxy:
// route, balance, stickiness, forward, metrics, access log.
func BenchmarkProxyKeepAlive(b *testing.B) {
	for _, bc := range []struct{ name, pool, log string }{
		{"plain", "", ""},
		{"cookie", "sticky = { mode = \"cookie\" }", ""},
		{"accesslog", "", "[access_log]\npath = %q\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			backend := fixedbackend.Start(b)
			vip := freeAddrB(b)
			logCfg := bc.log
			if logCfg != "" {
				logCfg = fmt.Sprintf(logCfg, filepath.Join(b.TempDir(), "access.log"))
			}
			src := fmt.Sprintf("%s[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\n%s\nservers = [{ address = %q }]\n",
				logCfg, vip, bc.pool, backend)
			cfg, err := config.Parse(filepath.Join(b.TempDir(), "quill.toml"), src)
			if err != nil {
				b.Fatal(err)
			}
			p, err := New(cfg, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			p.Serve()
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				p.Shutdown(ctx)
			})
			c, err := net.Dial("tcp", vip)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
			buf := make([]byte, 8192)
			c.Write(req)
			n := readResponse(b, c, buf)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// readResponse reads one whole response with a 1 KiB body and returns
// its length.
func readResponse(b *testing.B, c net.Conn, buf []byte) int {
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			b.Fatal(err)
		}
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 && n >= i+4+1024 {
			return n
		}
	}
}

func freeAddrB(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
