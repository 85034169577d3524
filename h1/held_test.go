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
	"testing"
	"time"
)

// A held body grows with the bytes that came, in pooled buffers of twice
// the size, never to the bound ahead of them.
func TestHeldBodyGrows(t *testing.T) {
	tests := []struct {
		pieces  []int
		wantCap int
	}{
		{[]int{1}, heldMin},
		{[]int{heldMin}, heldMin},
		{[]int{heldMin, 1}, 2 * heldMin},
		{[]int{1000, 1000, 50000}, 64 << 10},
		{[]int{100 << 10}, 128 << 10},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.pieces), func(t *testing.T) {
			var h heldBody
			defer h.release()
			var want []byte
			for i, n := range tt.pieces {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				h.add(p)
				want = append(want, p...)
			}
			if !bytes.Equal(h.extra, want) || cap(h.extra) != tt.wantCap {
				t.Errorf("%d bytes in a buffer of %d; want %d in %d", len(h.extra), cap(h.extra), len(want), tt.wantCap)
			}
		})
	}
}

// countingBackend answers 200 with the body length it read, and reports
// each request's body on got.
func countingBackend(t *testing.T) (*Upstream, func() int32, chan int64) {
	got := make(chan int64, 4)
	u, accepted := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		for {
			n, ok := readRequestBody(br)
			if !ok {
				return
			}
			got <- n
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(fmt.Sprint(n)), n)
		}
	})
	return u, accepted.Load, got
}

// A body within the bound is read whole before a server connection is
// taken; of a larger one the first bound bytes are, then the rest streams.
func TestBufferBodyBeforeConnect(t *testing.T) {
	tests := []struct {
		name   string
		length int
		limit  int
		// parts are sent one after the other; connected says whether the
		// server has a connection once each was sent.
		parts     []int
		connected []bool
	}{
		{"small body sent slowly", 5, 64 << 10, []int{1, 1, 1, 1, 1}, []bool{false, false, false, false, true}},
		{"past the connection's buffer", 40000, 64 << 10, []int{10000, 20000, 10000}, []bool{false, false, true}},
		{"larger than the bound", 100000, 16 << 10, []int{10000, 10000, 80000}, []bool{false, true, true}},
		{"bound of one byte", 10, 1, []int{1, 9}, []bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, accepted, got := countingBackend(t)
			h := &bufferingForward{u: u, limit: tt.limit, timeout: 5 * time.Second, results: make(chan outcome, 1)}
			_, addr := startEngine(t, h)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", tt.length)
			for i, n := range tt.parts {
				c.Write(bytes.Repeat([]byte("b"), n))
				if tt.connected[i] {
					deadline := time.Now().Add(5 * time.Second)
					for accepted() == 0 && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
				} else {
					time.Sleep(200 * time.Millisecond)
				}
				if is := accepted() > 0; is != tt.connected[i] {
					t.Fatalf("after part %d: server connected %v, want %v", i+1, is, tt.connected[i])
				}
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("answer %v, %v", resp, err)
			}
			if n := <-got; n != int64(tt.length) {
				t.Errorf("server got %d body bytes, want %d", n, tt.length)
			}
		})
	}
}

// A held body is sent again when the kept connection it went on turns out
// closed by the server; a streamed one cannot be.
func TestHeldBodySentAgain(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		length int
		want   int
	}{
		{"held in the connection's buffer", 64 << 10, 100, 200},
		{"held beyond it", 64 << 10, 50000, 200},
		{"streamed", 0, 100, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
				n, _ := io.Copy(io.Discard, r.Body)
				fmt.Fprint(w, n)
			})
			h := &bufferingForward{u: u, limit: tt.limit, timeout: 5 * time.Second, results: make(chan outcome, 4)}
			_, addr := startEngine(t, h)
			rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
			<-h.results
			waitIdle(t, u, 1)
			b.CloseClientConnections()
			time.Sleep(50 * time.Millisecond)
			body := strings.Repeat("p", tt.length)
			resps := rawExchange(t, addr, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", tt.length, body), "POST")
			<-h.results
			if resps[0].StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resps[0].StatusCode, tt.want)
			}
			if got := bodyString(resps[0]); tt.want == 200 && got != fmt.Sprint(tt.length) {
				t.Errorf("server read %s body bytes, want %d", got, tt.length)
			}
		})
	}
}

func bodyString(r *http.Response) string { return body(r) }

// A malformed chunked body is the client's error: within the held part
// nothing reaches a server; past it the server's connection is dropped.
// Either way the client gets 400.
func TestMalformedChunkedBody(t *testing.T) {
	good := "400\r\n" + strings.Repeat("c", 1024) + "\r\n"
	tests := []struct {
		name         string
		limit        int
		body         string
		wantAccepted int32
	}{
		{"17 hex digits, held", 64 << 10, "00000000000000001\r\nx\r\n0\r\n\r\n", 0},
		{"bare LF, held", 64 << 10, "1\nx\r\n0\r\n\r\n", 0},
		{"17 hex digits past the held part", 512, good + good + "00000000000000001\r\nx\r\n0\r\n\r\n", 1},
		{"streamed", 0, good + "zz\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, accepted, _ := countingBackend(t)
			h := &bufferingForward{u: u, limit: tt.limit, timeout: 5 * time.Second, results: make(chan outcome, 1)}
			_, addr := startEngine(t, h)
			resps := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+tt.body, "POST")
			if resps[0].StatusCode != 400 || !resps[0].Close {
				t.Errorf("status %d, close %v; want 400 and the connection closed", resps[0].StatusCode, resps[0].Close)
			}
			o := h.next(t)
			var fe *ForwardError
			if !errors.As(o.err, &fe) || !fe.Malformed || !fe.Client {
				t.Errorf("handler saw %v, want a malformed body of the client", o.err)
			}
			if n := accepted(); n != tt.wantAccepted {
				t.Errorf("the server accepted %d connections, want %d", n, tt.wantAccepted)
			}
			if n := u.Idle(); n != 0 {
				t.Errorf("%d server connections kept after a body broke off", n)
			}
		})
	}
}

// Expect: 100-continue is answered before a held body is read.
func TestBufferBodyExpectContinue(t *testing.T) {
	u, _, got := countingBackend(t)
	h := &bufferingForward{u: u, limit: 64 << 10, timeout: 5 * time.Second, results: make(chan outcome, 1)}
	_, addr := startEngine(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 100 {
		t.Fatalf("answer %v, %v; want 100 Continue first", resp, err)
	}
	io.WriteString(c, "data")
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer %v, %v; want 200", resp, err)
	}
	if n := <-got; n != 4 {
		t.Errorf("server got %d body bytes", n)
	}
}

// A request whose held body trickles in moves to a small buffer while it
// waits, and goes to the server unchanged.
func TestHeldBodyWaitsInSmallBuffer(t *testing.T) {
	heads := make(chan *http.Request, 1)
	u, _ := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		heads <- req
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	bufLen := make(chan int, 1)
	h := HandlerFunc(func(x *Exchange) {
		if err := x.BufferBody(64 << 10); err != nil {
			x.Respond(400, nil, nil)
			return
		}
		bufLen <- len(x.c.buf)
		if err := x.Forward(u, 5*time.Second, testHooks{}); err != nil && !x.HeadSent() {
			x.Respond(502, nil, nil)
		}
	})
	_, addr := startEngine(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /path?q=1 HTTP/1.1\r\nHost: example.test\r\nX-Kept: yes\r\nContent-Length: 3\r\n\r\na")
	time.Sleep(100 * time.Millisecond)
	io.WriteString(c, "b")
	time.Sleep(100 * time.Millisecond)
	io.WriteString(c, "c")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer %v, %v", resp, err)
	}
	if n := <-bufLen; n != shrunkBuf {
		t.Errorf("the request waited in a buffer of %d bytes, want %d", n, shrunkBuf)
	}
	req := <-heads
	b, _ := io.ReadAll(req.Body)
	if req.RequestURI != "/path?q=1" || req.Host != "example.test" || req.Header.Get("X-Kept") != "yes" || string(b) != "abc" {
		t.Errorf("the server got %s %s Host %s X-Kept %q body %q", req.Method, req.RequestURI, req.Host, req.Header.Get("X-Kept"), b)
	}
}

// holdingForward is bufferingForward as a BodyHolder: the body's part is
// read before ServeH1, with the connection parked while it comes.
type holdingForward struct{ *bufferingForward }

func (h holdingForward) HoldBody(x *Exchange) int { return h.limit }

// connStates are the states of the server's connections.
func connStates(s *Server) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int32
	for c := range s.conns {
		out = append(out, c.state.Load())
	}
	return out
}

// A request whose held body trickles in waits parked, without a
// goroutine, in a small buffer; it is served once the body is in, is
// answered 408 when the body stops coming, and sees the client leave.
func TestHeldBodyParked(t *testing.T) {
	if !coldParking() {
		t.Skip("no epoll here")
	}
	tests := []struct {
		name       string
		rest       string // sent after the wait; "close" closes the connection
		wantStatus int
		wantErr    error
	}{
		{"body completed", "bc", 200, nil},
		{"body stopped", "", 408, ErrBodyTimeout},
		{"client left", "close", 0, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, accepted, got := countingBackend(t)
			h := holdingForward{&bufferingForward{u: u, limit: 64 << 10, timeout: 5 * time.Second, results: make(chan outcome, 1)}}
			s, addr := startEngineWith(t, h, func(s *Server) { s.BodyTimeout = 1500 * time.Millisecond })
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na")
			deadline := time.Now().Add(3 * time.Second)
			for fmt.Sprint(connStates(s)) != fmt.Sprint([]int32{stBody}) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if st := connStates(s); fmt.Sprint(st) != fmt.Sprint([]int32{stBody}) {
				t.Fatalf("connection states %v, want one parked for its body", st)
			}
			if accepted() != 0 {
				t.Fatal("a server connection was taken before the body was in")
			}
			switch tt.rest {
			case "close":
				c.Close()
			default:
				io.WriteString(c, tt.rest)
			}
			o := h.next(t)
			if tt.wantErr == nil && o.err != nil || tt.wantErr != nil && !errors.Is(o.err, tt.wantErr) {
				t.Errorf("handler saw %v, want %v", o.err, tt.wantErr)
			}
			if tt.rest == "close" {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != tt.wantStatus {
				t.Fatalf("answer %v, %v; want %d", resp, err, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				if n := <-got; n != 3 {
					t.Errorf("server got %d body bytes, want 3", n)
				}
			} else if accepted() != 0 {
				t.Error("a server connection was taken for a body that never came")
			}
		})
	}
}

// Held ahead of the handler, bodies behave as BufferBody's own: whole
// before a server is taken, the held part sent again, malformed framing
// refused.
func TestHoldAheadAsBufferBody(t *testing.T) {
	u, accepted, got := countingBackend(t)
	h := holdingForward{&bufferingForward{u: u, limit: 1024, timeout: 5 * time.Second, results: make(chan outcome, 4)}}
	_, addr := startEngine(t, h)
	resps := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"+
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\n"+strings.Repeat("L", 3000)+
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"+
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n0\r\n\r\n",
		"POST", "POST", "POST", "POST")
	want := []int{200, 200, 200, 400}
	for i, r := range resps {
		if r.StatusCode != want[i] {
			t.Errorf("answer %d: %d, want %d", i+1, r.StatusCode, want[i])
		}
	}
	for i, w := range []int64{5, 3000, 5} {
		if n := <-got; n != w {
			t.Errorf("request %d: server got %d body bytes, want %d", i+1, n, w)
		}
	}
	if accepted() != 1 {
		t.Errorf("server connections %d, want 1", accepted())
	}
}
