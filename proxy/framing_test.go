package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const getHead = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"

// headLike is a request head with both framing fields, the kind of bytes a
// scanner that lost track of bodies would take for a smuggled request.
const headLike = "GET /inner HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"

// chunk encodes s as one chunk of a chunked body.
func chunk(s string) string {
	return fmt.Sprintf("%x\r\n%s\r\n", len(s), s)
}

// chunkConn returns its data in the given pieces, one per Read, so that the
// scanner sees the stream split exactly there.
type chunkConn struct {
	net.Conn
	pieces []string
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	if c.pieces[0] == "" {
		c.pieces = c.pieces[1:]
	}
	return n, nil
}

// splits returns ways of cutting s into Reads: whole, at every byte
// boundary into two (at a stride for long streams), and a byte at a time.
func splits(s string) map[string][]string {
	out := map[string][]string{"whole": {s}}
	stride := 1
	if len(s) > 2048 {
		stride = 97
	}
	for i := 1; i < len(s); i += stride {
		out[fmt.Sprintf("cut at %d", i)] = []string{s[:i], s[i:]}
	}
	bytewise := make([]string, len(s))
	for i := range s {
		bytewise[i] = s[i : i+1]
	}
	out["bytewise"] = bytewise
	return out
}

func TestFramingScan(t *testing.T) {
	longCookie := "Cookie: " + strings.Repeat("a=b; ", 20000) + "\r\n"
	tests := []struct {
		name   string
		stream string
		heads  int          // complete heads scanned
		bad    int          // index of the first bad head, -1 for none
		reason string       // why it is bad
		end    framingState // where the scanner stops
	}{
		{
			name:   "GET",
			stream: getHead,
			heads:  1, bad: -1, end: stStart,
		},
		{
			name:   "POST with Content-Length, then GET",
			stream: "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name: "chunked with extensions, trailing whitespace and trailers",
			stream: "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;name=\"a b\"\r\nhello\r\n" +
				"A \t\r\n0123456789\r\n" +
				"10;x;y=z\r\n0123456789abcdef\r\n" +
				"0;last=1\r\nX-Checksum: 42\r\nX-More: yes\r\n\r\n" + getHead,
			heads: 2, bad: -1, end: stStart,
		},
		{
			name: "pipelined keep-alive requests",
			stream: getHead +
				"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
				"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("xyz") + "0\r\n\r\n" +
				getHead,
			heads: 4, bad: -1, end: stStart,
		},
		{
			name: "lowercase and mixed-case names and coding",
			stream: "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: CHUNKED\r\n\r\n" + chunk("abc") + "0\r\n\r\n" +
				"POST /x HTTP/1.1\r\nhost: a\r\ncOnTeNt-LeNgTh: 2\r\n\r\nhi" + getHead,
			heads: 3, bad: -1, end: stStart,
		},
		{
			name:   "bare LF line endings in the head",
			stream: "POST / HTTP/1.1\nHost: a\nContent-Length: 3\n\nabcGET / HTTP/1.1\nHost: a\n\n",
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "trailer ended by a bare LF",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\n" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "CRLF after a POST body",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\n" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "HTTP/1.0 with Content-Length",
			stream: "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n",
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "Expect 100-continue",
			stream: "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "whitespace around the value and leading zeros",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 007 \t\r\n\r\n1234567" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "largest Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n" + headLike,
			heads:  1, bad: -1, end: stBody,
		},
		{
			name:   "sixteen hex digits of chunk size",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name: "names that only look like framing fields",
			stream: "GET / HTTP/1.1\r\nHost: a\r\nContent-Lengthy: +1\r\nX-Content-Length: 1, 2\r\n" +
				"Transfer-Encodings: gzip\r\nContent-Lengt: x\r\nTransfer-Encoding-X: identity\r\n\r\n" + getHead,
			heads: 2, bad: -1, end: stStart,
		},
		{
			name:   "a 100 KB header line",
			stream: "POST / HTTP/1.1\r\nHost: a\r\n" + longCookie + "Content-Length: 3\r\n\r\nabc" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "Content-Length body that looks like a head",
			stream: fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(headLike), headLike) + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "chunked body that looks like a head",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(headLike) + "0\r\n\r\n" + getHead,
			heads:  2, bad: -1, end: stStart,
		},
		{
			name:   "head cut by EOF",
			stream: "GET / HTTP/1.1\r\nHost: a\r\nContent-Len",
			heads:  0, bad: -1, end: stName,
		},
		{
			name:   "body cut by EOF",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
			heads:  1, bad: -1, end: stBody,
		},
		{
			name:   "HTTP/2 with prior knowledge",
			stream: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x06\x04\x00\x00\x00\x00\x00Transfer-Encoding : x\r\n\r\n",
			heads:  0, bad: -1, end: stOff,
		},

		{
			name:   "Content-Length and Transfer-Encoding",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLAndTE, end: stOff,
		},
		{
			name:   "Transfer-Encoding and Content-Length",
			stream: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\nHost: a\r\n\r\n0\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLAndTE, end: stOff,
		},
		{
			name:   "ambiguous second request",
			stream: getHead + "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
			heads:  1, bad: 1, reason: reasonCLAndTE, end: stOff,
		},
		{
			name:   "duplicate identical Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
			heads:  0, bad: 0, reason: reasonManyCL, end: stOff,
		},
		{
			name:   "Content-Length list",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
			heads:  0, bad: 0, reason: reasonCLList, end: stOff,
		},
		{
			name:   "signed Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
			heads:  0, bad: 0, reason: reasonCLSyntax, end: stOff,
		},
		{
			name:   "negative Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLSyntax, end: stOff,
		},
		{
			name:   "whitespace inside Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 5\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLSyntax, end: stOff,
		},
		{
			name:   "empty Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLSyntax, end: stOff,
		},
		{
			name:   "hex Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLSyntax, end: stOff,
		},
		{
			name:   "control byte after Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\x0b\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLSyntax, end: stOff,
		},
		{
			name:   "CR inside Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLSyntax, end: stOff,
		},
		{
			name:   "Content-Length past 2^63-1",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n",
			heads:  0, bad: 0, reason: reasonCLRange, end: stOff,
		},
		{
			name:   "Transfer-Encoding chunked, identity",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
			heads:  0, bad: 0, reason: reasonTENotChunked, end: stOff,
		},
		{
			name:   "Transfer-Encoding gzip, chunked",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			heads:  0, bad: 0, reason: reasonTENotChunked, end: stOff,
		},
		{
			name:   "Transfer-Encoding identity",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
			heads:  0, bad: 0, reason: reasonTENotChunked, end: stOff,
		},
		{
			name:   "Transfer-Encoding with a control byte",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0b\r\n\r\n",
			heads:  0, bad: 0, reason: reasonTENotChunked, end: stOff,
		},
		{
			name:   "Transfer-Encoding prefix of chunked",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunk\r\n\r\n",
			heads:  0, bad: 0, reason: reasonTENotChunked, end: stOff,
		},
		{
			name:   "empty Transfer-Encoding",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
			heads:  0, bad: 0, reason: reasonTENotChunked, end: stOff,
		},
		{
			name:   "two Transfer-Encoding fields",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
			heads:  0, bad: 0, reason: reasonManyTE, end: stOff,
		},
		{
			name:   "Transfer-Encoding in HTTP/1.0",
			stream: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
			heads:  0, bad: 0, reason: reasonTEHTTP10, end: stOff,
		},
		{
			name:   "folded line",
			stream: "GET / HTTP/1.1\r\nHost: a\r\nX-Note: a\r\n b\r\n\r\n",
			heads:  0, bad: 0, reason: reasonFolded, end: stOff,
		},
		{
			name:   "folded Content-Length",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\t5\r\n\r\n",
			heads:  0, bad: 0, reason: reasonFolded, end: stOff,
		},
		{
			name:   "folded first header line",
			stream: "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
			heads:  0, bad: 0, reason: reasonFolded, end: stOff,
		},
		{
			name:   "space before the colon",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
			heads:  0, bad: 0, reason: reasonNameSpace, end: stOff,
		},
		{
			name:   "tab before the colon",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 3\r\n\r\nabc",
			heads:  0, bad: 0, reason: reasonNameSpace, end: stOff,
		},
		{
			name:   "header line without a colon",
			stream: "GET / HTTP/1.1\r\nHost: a\r\nX-Broken\r\n\r\n",
			heads:  0, bad: 0, reason: reasonNoColon, end: stOff,
		},
		{
			name:   "chunk-size line ended by a bare LF",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" + getHead,
			heads:  1, bad: 1, reason: reasonChunked, end: stOff,
		},
		{
			name:   "CR inside a chunk-size line",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r;x\r\nhello\r\n0\r\n\r\n",
			heads:  1, bad: 1, reason: reasonChunked, end: stOff,
		},
		{
			name:   "whitespace before a chunk extension",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n",
			heads:  1, bad: 1, reason: reasonChunked, end: stOff,
		},
		{
			name:   "chunk extension without a size",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n",
			heads:  1, bad: 1, reason: reasonChunked, end: stOff,
		},
		{
			name:   "seventeen hex digits of chunk size",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
			heads:  1, bad: 1, reason: reasonChunked, end: stOff,
		},
		{
			name:   "chunk data longer than its size",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n",
			heads:  1, bad: 1, reason: reasonChunked, end: stOff,
		},
		{
			name:   "chunk-size line of 4096 bytes",
			stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("x", 4094) + "\r\nA\r\n0\r\n\r\n",
			heads:  1, bad: 1, reason: reasonChunked, end: stOff,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for how, pieces := range splits(tc.stream) {
				c := newFramingConn(&chunkConn{pieces: pieces})
				if _, err := io.Copy(io.Discard, c); err != nil {
					t.Fatalf("%s: read: %v", how, err)
				}
				if c.heads != tc.heads || c.state != tc.end {
					t.Fatalf("%s: scanned %d heads and stopped in state %d, want %d heads and state %d", how, c.heads, c.state, tc.heads, tc.end)
				}
				for n := range tc.heads + 2 {
					reason, bad := c.BadRequest(n)
					wantBad := tc.bad >= 0 && n >= tc.bad
					wantReason := ""
					if wantBad {
						wantReason = tc.reason
					}
					if bad != wantBad || reason != wantReason {
						t.Fatalf("%s: BadRequest(%d) = %q, %v; want %q, %v", how, n, reason, bad, wantReason, wantBad)
					}
				}
			}
		})
	}
}

func TestFramingOpaque(t *testing.T) {
	tests := []struct {
		name   string
		opaque bool
		bad    bool
	}{
		{name: "scanning", opaque: false, bad: true},
		{name: "opaque after the upgrade", opaque: true, bad: false},
	}
	upgrade := "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	frames := "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFramingConn(&chunkConn{pieces: []string{upgrade, frames}})
			if _, err := c.Read(make([]byte, 4096)); err != nil {
				t.Fatal(err)
			}
			if tc.opaque {
				c.Opaque()
			}
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatal(err)
			}
			if _, bad := c.BadRequest(1); bad != tc.bad {
				t.Fatalf("BadRequest(1) bad = %v, want %v", bad, tc.bad)
			}
		})
	}
}

// framingServer is a real net/http server behind framingListener, whose
// handler refuses what framingCheck refuses, as quill's does.
type framingServer struct {
	addr  string
	mu    sync.Mutex
	paths []string
}

func startFramingServer(t *testing.T, check bool) *framingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &framingServer{addr: ln.Addr().String()}
	srv := &http.Server{
		ConnContext: withFramingConn,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.paths = append(s.paths, r.URL.Path)
			s.mu.Unlock()
			if check {
				if reason, bad := framingCheck(r); bad {
					w.Header().Set("Connection", "close")
					http.Error(w, reason, http.StatusBadRequest)
					return
				}
			}
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
		}),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(framingListener(ln, nil))
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

func (s *framingServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func TestFramingEndToEnd(t *testing.T) {
	smuggled := "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	// A front that frames by Content-Length sees one request here; net/http
	// honours Transfer-Encoding and finds a second one in the body.
	smuggle := fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(smuggled), smuggled)
	tests := []struct {
		name   string
		check  bool   // whether the handler calls framingCheck
		raw    string // what the client writes, in one write
		want   []string
		closed bool // the server hangs up after the last response
		paths  []string
	}{
		{
			name:  "without the check net/http serves the smuggled request",
			check: false,
			raw:   smuggle,
			want:  []string{"200 POST /", "200 GET /smuggled"},
			paths: []string{"/", "/smuggled"},
		},
		{
			name:   "Content-Length with Transfer-Encoding",
			check:  true,
			raw:    smuggle,
			want:   []string{"400 " + reasonCLAndTE},
			closed: true,
			paths:  []string{"/"},
		},
		{
			name:   "duplicate identical Content-Length",
			check:  true,
			raw:    "POST /dup HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
			want:   []string{"400 " + reasonManyCL},
			closed: true,
			paths:  []string{"/dup"},
		},
		{
			name:   "folded header line",
			check:  true,
			raw:    "GET /folded HTTP/1.1\r\nHost: a\r\nX-Note: a\r\n b\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
			want:   []string{"400 " + reasonFolded},
			closed: true,
			paths:  []string{"/folded"},
		},
		{
			name:   "Transfer-Encoding in HTTP/1.0",
			check:  true,
			raw:    "POST /old HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc",
			want:   []string{"400 " + reasonTEHTTP10},
			closed: true,
			paths:  []string{"/old"},
		},
		{
			name:  "three pipelined keep-alive requests",
			check: true,
			raw: "GET /one HTTP/1.1\r\nHost: a\r\n\r\n" +
				"POST /two HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello") + chunk(" world") + "0\r\n\r\n" +
				"GET /three HTTP/1.1\r\nHost: a\r\n\r\n",
			want:  []string{"200 GET /one", "200 POST /two", "200 GET /three"},
			paths: []string{"/one", "/two", "/three"},
		},
		{
			name:  "chunked body that looks like a bad head",
			check: true,
			raw: "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(headLike) + "0\r\n\r\n" +
				"GET /after HTTP/1.1\r\nHost: a\r\n\r\n",
			want:  []string{"200 POST /upload", "200 GET /after"},
			paths: []string{"/upload", "/after"},
		},
		{
			name:   "bad request behind a good one",
			check:  true,
			raw:    "GET /first HTTP/1.1\r\nHost: a\r\n\r\n" + strings.Replace(smuggle, "POST /", "POST /second", 1),
			want:   []string{"200 GET /first", "400 " + reasonCLAndTE},
			closed: true,
			paths:  []string{"/first", "/second"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startFramingServer(t, tc.check)
			conn, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tc.raw); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			for i, want := range tc.want {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("response %d: body: %v", i, err)
				}
				if got := fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body))); got != want {
					t.Errorf("response %d = %q, want %q", i, got, want)
				}
			}
			if tc.closed {
				if _, err := br.ReadByte(); err != io.EOF {
					t.Errorf("after the last response: %v, want EOF", err)
				}
			} else {
				// A server about to hang up does so right after its
				// response; a quiet moment shows it keeps the connection.
				conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
				if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("after the last response: %v, want the connection kept open", err)
				}
			}
			if got := s.seen(); strings.Join(got, " ") != strings.Join(tc.paths, " ") {
				t.Errorf("handler saw %q, want %q", got, tc.paths)
			}
		})
	}
}

// typicalRequest is a browser-like 400-byte head with a 1 KiB body.
func typicalRequest() []byte {
	head := "POST /api/v1/orders?region=eu-west HTTP/1.1\r\n" +
		"Host: shop.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: application/json\r\n" +
		"Accept-Language: en-GB,en;q=0.7\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Content-Type: application/json\r\n" +
		"Content-Length: 1024\r\n" +
		"Origin: https://shop.example.com\r\n" +
		"Cookie: session=4f9c2a7be1d04c65a8e3b2d7; cart=17\r\n" +
		"Connection: keep-alive\r\n\r\n"
	return []byte(head + strings.Repeat("x", 1024))
}

func TestFramingScanDoesNotAllocate(t *testing.T) {
	msg := typicalRequest()
	c := newFramingConn(nil)
	allocs := testing.AllocsPerRun(100, func() { c.scan(msg) })
	if allocs != 0 {
		t.Errorf("scan allocates %v times per request, want 0", allocs)
	}
	if c.verdict.Load() != nil || c.state != stStart || c.heads != 101 {
		t.Errorf("lost step: %d heads, state %d", c.heads, c.state)
	}
}

func BenchmarkFramingScan(b *testing.B) {
	msg := typicalRequest()
	c := newFramingConn(nil)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		c.scan(msg)
	}
	if c.verdict.Load() != nil || c.state != stStart {
		b.Fatalf("lost step: %d heads, state %d", c.heads, c.state)
	}
}
