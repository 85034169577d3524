package h1

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// testHooks forwards every field except hop-by-hop ones and adds
// X-Forwarded-For, like the proxy does.
type testHooks struct{}

func (testHooks) RequestFields(x *Exchange, w *HeadWriter) {
	for _, f := range x.Req.Fields {
		if !x.Req.HopByHop(f.Name) && !EqualFold(f.Name, "Expect") {
			w.Field(f.Name, f.Value)
		}
	}
	w.Begin("X-Forwarded-For")
	w.SetBytes(x.Remote.Addr().AppendTo(w.Bytes()))
	w.End()
}

func (testHooks) ResponseFields(x *Exchange, r *Response, w *HeadWriter) {
	for _, f := range r.Fields {
		if !r.HopByHop(f.Name) {
			w.Field(f.Name, f.Value)
		}
	}
}

// forwardTo is a handler that forwards every request to u, or answers 502.
type forwardTo struct{ u *Upstream }

func (h forwardTo) ServeH1(x *Exchange) {
	if err := x.Forward(h.u, 5*time.Second, testHooks{}); err != nil && !x.HeadSent() {
		x.Respond(502, nil, []byte("bad gateway\n"))
	}
}

// startEngine serves h on a loopback listener until the test ends.
func startEngine(t testing.TB, h Handler) (*Server, string) {
	t.Helper()
	return startEngineWith(t, h, nil)
}

// startEngineWith is startEngine with the server's settings changed by
// set before it serves.
func startEngineWith(t testing.TB, h Handler, set func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, Settings: Settings{ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}}
	if set != nil {
		set(s)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.ServeConn(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Shutdown(ctx)
		wg.Wait()
	})
	return s, ln.Addr().String()
}

// startBackend is a net/http server that describes what it received.
func startBackend(t testing.TB, h http.HandlerFunc) (*httptest.Server, *Upstream) {
	t.Helper()
	b := httptest.NewServer(h)
	t.Cleanup(b.Close)
	u := NewUpstream(b.Listener.Addr().String(), time.Second)
	t.Cleanup(u.Close)
	return b, u
}

// exchange sends raw bytes and reads n responses with net/http's parser.
func rawExchange(t *testing.T, addr, req string, methods ...string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("response %d: %v", len(out)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(out)+1, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		out = append(out, resp)
	}
	return out
}

func body(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func TestForwardFraming(t *testing.T) {
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part1,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("data"))
			w.Header().Set("X-Sum", "42")
		default:
			fmt.Fprintf(w, "%s %s %s body=%q xff=%s te=%q", r.Method, r.RequestURI, r.Proto, b,
				r.Header.Get("X-Forwarded-For"), r.TransferEncoding)
		}
	})
	_, addr := startEngine(t, forwardTo{u})
	tests := []struct {
		name    string
		req     string
		methods []string
		want    []string // body of each response
		status  []int
	}{
		{"get", "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"},
			[]string{`GET /a?b=1 HTTP/1.1 body="" xff=127.0.0.1 te=[]`}, []int{200}},
		{"pipelined in order", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"GET", "GET", "GET"},
			[]string{`GET /1 HTTP/1.1 body="" xff=127.0.0.1 te=[]`, `GET /2 HTTP/1.1 body="" xff=127.0.0.1 te=[]`, `GET /3 HTTP/1.1 body="" xff=127.0.0.1 te=[]`}, []int{200, 200, 200}},
		{"content-length body", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", []string{"POST"},
			[]string{`POST /p HTTP/1.1 body="hello" xff=127.0.0.1 te=[]`}, []int{200}},
		{"chunked body", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", []string{"POST"},
			[]string{`POST /p HTTP/1.1 body="abcde" xff=127.0.0.1 te=["chunked"]`}, []int{200}},
		{"chunked response", "GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}, []string{"part1,part2"}, []int{200}},
		{"head", "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HEAD", "GET"},
			[]string{"", `GET /after HTTP/1.1 body="" xff=127.0.0.1 te=[]`}, []int{200, 200}},
		{"204 and 304", "GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET /z HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "GET", "GET"},
			[]string{"", "", `GET /z HTTP/1.1 body="" xff=127.0.0.1 te=[]`}, []int{204, 304, 200}},
		{"http/1.0", "GET /old HTTP/1.0\r\n\r\n", []string{"GET"}, []string{`GET /old HTTP/1.0 body="" xff=127.0.0.1 te=[]`}, []int{200}},
		{"absolute form", "GET http://example.com/abs?q HTTP/1.1\r\nHost: example.com\r\n\r\n", []string{"GET"},
			[]string{`GET /abs?q HTTP/1.1 body="" xff=127.0.0.1 te=[]`}, []int{200}},
		{"trailer", "GET /trailer HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}, []string{"data"}, []int{200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resps := rawExchange(t, addr, tt.req, tt.methods...)
			for i, r := range resps {
				if r.StatusCode != tt.status[i] {
					t.Errorf("response %d: status %d, want %d", i+1, r.StatusCode, tt.status[i])
				}
				if got := body(r); got != tt.want[i] {
					t.Errorf("response %d: body %q, want %q", i+1, got, tt.want[i])
				}
			}
		})
	}
}

func TestTrailersReachClient(t *testing.T) {
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Write([]byte("data"))
		w.Header().Set("X-Sum", "42")
	})
	_, addr := startEngine(t, forwardTo{u})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Trailer.Get("X-Sum"); got != "42" {
		t.Fatalf("trailer X-Sum = %q, want 42", got)
	}
}

func TestExpectContinue(t *testing.T) {
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %d", len(b))
	})
	_, addr := startEngine(t, forwardTo{u})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first line %q, %v; want 100 Continue", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "abcd")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(resp); got != "got 4" {
		t.Fatalf("body %q", got)
	}
}

func TestBackendConnectionsReused(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]int{}
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		mu.Unlock()
		w.Write([]byte("ok"))
	})
	_, addr := startEngine(t, forwardTo{u})
	req := strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 20)
	methods := make([]string, 20)
	for i := range methods {
		methods[i] = "GET"
	}
	rawExchange(t, addr, req, methods...)
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Fatalf("20 sequential requests used %d backend connections, want 1", len(conns))
	}
}

func TestStaleBackendConnectionRetried(t *testing.T) {
	b, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	_, addr := startEngine(t, forwardTo{u})
	rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	waitIdle(t, u, 1)
	// The server closes its idle connections; the kept one is now stale.
	b.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	resps := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if resps[0].StatusCode != 200 {
		t.Fatalf("status %d after the server closed the kept connection, want 200", resps[0].StatusCode)
	}
}

func TestRefusedHeads(t *testing.T) {
	var refused []int
	var mu sync.Mutex
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	_, addr := startEngineWith(t, forwardTo{u}, func(s *Server) {
		s.Refused = func(_ netip.AddrPort, _ bool, status int, _ string, _ []byte) {
			mu.Lock()
			refused = append(refused, status)
			mu.Unlock()
		}
		s.Limits = Limits{MaxHeadBytes: 4096, MaxFields: 10}
	})
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n", 431},
		{"too many fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("A: b\r\n", 11) + "\r\n", 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resps := rawExchange(t, addr, tt.req, "GET")
			if resps[0].StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resps[0].StatusCode, tt.status)
			}
			if !resps[0].Close {
				t.Fatal("a refused request must close the connection")
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != len(tests) {
		t.Fatalf("Refused told of %v, want %d refusals", refused, len(tests))
	}
}

func TestUpgradeTunnel(t *testing.T) {
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "no upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	})
	_, addr := startEngine(t, forwardTo{u})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade answer %v, %v", resp, err)
	}
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("message %d\n", i)
		io.WriteString(c, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo %q, %v; want %q", got, err, msg)
		}
	}
}

func TestShutdownClosesIdleAndFinishesActive(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Write([]byte("done"))
	})
	s, addr := startEngine(t, forwardTo{u})
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	first, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body(first)
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { done <- s.Shutdown(ctx) }()
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the idle connection stayed open during shutdown")
	}
	free()
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("request in flight: %v", err)
	}
	if got := body(resp); got != "done" || !resp.Close {
		t.Fatalf("request in flight got %q close=%v; want done and Connection: close", got, resp.Close)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// A head that arrives a byte at a time is parsed once a line has ended,
// and answered like any other.
func TestHeadByteByByte(t *testing.T) {
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path) })
	_, addr := startEngine(t, forwardTo{u})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	head := "GET /slow HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n"
	for i := 0; i < len(head); i++ {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(resp); got != "GET /slow" {
		t.Fatalf("body %q", got)
	}
}

// A body that takes longer than the head's timeout is still read whole:
// the timeout is the head's alone.
func TestSlowBodyOutlastsHeadTimeout(t *testing.T) {
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d", len(b))
	})
	_, addr := startEngineWith(t, forwardTo{u}, func(s *Server) { s.ReadHeaderTimeout = 200 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab")
	for _, part := range []string{"cd", "ef"} {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(c, part)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(resp); resp.StatusCode != 200 || got != "6" {
		t.Fatalf("%d %q, want 200 and the whole body", resp.StatusCode, got)
	}
}

// A kept backend connection that the server closes is closed on quill's
// side too within a sweep, not left in CLOSE_WAIT until it would be used.
func TestClosedBackendConnectionSwept(t *testing.T) {
	b, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	_, addr := startEngine(t, forwardTo{u})
	rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	waitIdle(t, u, 1)
	b.CloseClientConnections()
	deadline := time.Now().Add(sweepEvery + reuseCheckAfter + 3*time.Second)
	for u.Idle() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := u.Idle(); n != 0 {
		t.Fatalf("%d idle connections kept after the server closed them", n)
	}
}

// waitIdle waits for u to keep n idle connections: a connection is given
// back just after its answer went out, when the client may have it already.
func waitIdle(t *testing.T, u *Upstream, n int) {
	t.Helper()
	for i := 0; i < 100 && u.Idle() != n; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if u.Idle() != n {
		t.Fatalf("idle backend connections %d, want %d", u.Idle(), n)
	}
}

// TestRequestArrivingDuringExchange sends the next requests while the
// first is with the server: the engine, which waits for a keep-alive
// client's next request without first trying a read, must still see
// bytes that came in while it was busy. A POST follows, which the wait
// hands back to the ordinary path.
func TestRequestArrivingDuringExchange(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	_, u := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/1" {
			close(arrived)
			<-release
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.URL.Path, b)
	})
	_, addr := startEngine(t, forwardTo{u})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	get := func(path string) {
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want string) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		if got := body(resp); got != want {
			t.Fatalf("body %q, want %q", got, want)
		}
	}
	get("/1")
	<-arrived
	get("/2")
	time.Sleep(50 * time.Millisecond)
	close(release)
	expect("/1 ")
	expect("/2 ")
	// Idle again: a request in two pieces, then a POST right behind a GET.
	io.WriteString(c, "GET /3 HTTP/1.1\r\n")
	time.Sleep(20 * time.Millisecond)
	io.WriteString(c, "Host: x\r\n\r\n")
	expect("/3 ")
	io.WriteString(c, "GET /4 HTTP/1.1\r\nHost: x\r\n\r\nPOST /5 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody")
	expect("/4 ")
	expect("/5 body")
	get("/6")
	expect("/6 ")
}
