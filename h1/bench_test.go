package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// browserGET is the head a browser sends for a script: 12 fields, 560 bytes.
const browserGET = "GET /assets/app.3f9c2a.js?v=17 HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Language: en-GB,en;q=0.7\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://shop.example.com/cart\r\n" +
	"Cookie: session=4f9c2a7be1d04c65a8e3b2d7; cart=17; quill_srv=ab12cd34\r\n" +
	"Sec-Fetch-Dest: script\r\n" +
	"Sec-Fetch-Mode: no-cors\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"If-None-Match: \"5f3a-61b2c\"\r\n" +
	"Connection: keep-alive\r\n\r\n"

// backendOK is a typical backend's answer head: 10 fields.
const backendOK = "HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 30 Nov 2026 22:31:07 GMT\r\n" +
	"Server: nginx/1.26.2\r\n" +
	"Content-Type: application/javascript; charset=utf-8\r\n" +
	"Content-Length: 1024\r\n" +
	"Last-Modified: Fri, 27 Nov 2026 09:12:44 GMT\r\n" +
	"ETag: \"5f3a-61b2c\"\r\n" +
	"Cache-Control: public, max-age=3600\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"X-Content-Type-Options: nosniff\r\n" +
	"Connection: keep-alive\r\n\r\n"

// chunkedBody is 16 KiB of data in 1 KiB chunks.
func chunkedBody() []byte {
	var b strings.Builder
	for range 16 {
		fmt.Fprintf(&b, "400\r\n%s\r\n", strings.Repeat("d", 1024))
	}
	b.WriteString("0\r\n\r\n")
	return []byte(b.String())
}

// TestParseDoesNotAllocate guards the zero-allocation promise of the
// common path: a parse into a reused Request or Response, the lookups a
// forwarder makes, and following a chunked body.
func TestParseDoesNotAllocate(t *testing.T) {
	req, resp, body := []byte(browserGET), []byte(backendOK), chunkedBody()
	var r Request
	var p Response
	var c Chunked
	tests := []struct {
		name string
		run  func() error
	}{
		{name: "request head", run: func() error {
			_, err := ParseRequest(req, &r, Limits{})
			return err
		}},
		{name: "response head", run: func() error {
			_, err := ParseResponse(resp, &p, Limits{})
			return err
		}},
		{name: "field lookups", run: func() error {
			if r.Field("cookie") == nil || r.HopByHop(r.Fields[0].Name) || !p.HopByHop([]byte("Connection")) {
				return fmt.Errorf("lookups went wrong")
			}
			return nil
		}},
		{name: "chunked body", run: func() error {
			c.Reset()
			_, done, err := c.Scan(body)
			if !done && err == nil {
				return fmt.Errorf("body not ended")
			}
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); err != nil {
				t.Fatal(err)
			}
			var err error
			allocs := testing.AllocsPerRun(100, func() {
				if e := tc.run(); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per run, want 0", allocs)
			}
		})
	}
}

func BenchmarkParseRequest(b *testing.B) {
	head := []byte(browserGET)
	var r Request
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(head, &r, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNetHTTPReadRequest reads the same head with net/http, for scale.
func BenchmarkNetHTTPReadRequest(b *testing.B) {
	head := []byte(browserGET)
	rd := bytes.NewReader(head)
	br := bufio.NewReader(rd)
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(head)
		br.Reset(rd)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	head := []byte(backendOK)
	var r Response
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(head, &r, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedScan(b *testing.B) {
	body := chunkedBody()
	var c Chunked
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c.Reset()
		if _, done, err := c.Scan(body); !done || err != nil {
			b.Fatalf("done %v, err %v", done, err)
		}
	}
}
