package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"
	"time"
)

// HTTP/1.1 through quill with Go's net/http client (and a raw connection
// where the client would hide what is tested), over the plain and the TLS
// VIP alike.

// goCase is one behaviour of HTTP/1.1, checked against one VIP.
type goCase struct {
	name string
	run  func(t *testing.T, v goVIP)
}

// goVIP is the VIP a case runs against.
type goVIP struct {
	e      *h1Env
	base   string // http://host:port or https://host:port
	addr   string
	proto  string // what X-Forwarded-Proto must say
	tag    string // unique to the VIP, for gate names and log filters
	client *http.Client
}

func (v goVIP) dial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	conf := v.e.tlsConfig()
	if v.proto == "http" {
		conf = nil
	}
	c, err := dialVIP(v.addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(15 * time.Second))
	return c, bufio.NewReader(c)
}

// traced does a request and says whether it went on a reused connection.
func traced(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte, bool) {
	t.Helper()
	reused := false
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", req.Method, req.URL, err)
	}
	return resp, body, reused
}

func mustRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// getOK does a GET that must answer 200 with want, and says whether its
// connection was reused.
func (v goVIP) getOK(t *testing.T, path, want string) bool {
	t.Helper()
	resp, body, reused := traced(t, v.client, mustRequest(t, "GET", v.base+path, nil))
	if resp.StatusCode != 200 || string(body) != want {
		t.Errorf("GET %s: %d %q, want 200 %q", path, resp.StatusCode, body, want)
	}
	return reused
}

var goCases = []goCase{
	{"keep-alive", func(t *testing.T, v goVIP) {
		for i := 0; i < 3; i++ {
			p := fmt.Sprintf("/go/%s/ka-%d", v.tag, i)
			if reused := v.getOK(t, p, echoLine("GET", p, 0)); reused != (i > 0) {
				t.Errorf("request %d: connection reused %v", i, reused)
			}
			checkForwarded(t, onlyOne(t, v.e.backend, p), v.proto, v.addr)
		}
	}},
	{"chunked request body", func(t *testing.T, v goVIP) {
		p := "/go/" + v.tag + "/chunked-up"
		body := io.MultiReader(strings.NewReader("part one,"), strings.NewReader("part two"))
		req := mustRequest(t, "POST", v.base+p, struct{ io.Reader }{body}) // length unknown: chunked
		resp, got, _ := traced(t, v.client, req)
		if resp.StatusCode != 200 || string(got) != echoLine("POST", p, 17) {
			t.Errorf("answer %d %q", resp.StatusCode, got)
		}
		if rec := onlyOne(t, v.e.backend, p); rec.BodyLen != 17 || rec.BodyErr != "" {
			t.Errorf("backend saw %s", rec)
		}
	}},
	{"chunked response with a trailer", func(t *testing.T, v goVIP) {
		resp, body, _ := traced(t, v.client, mustRequest(t, "GET", v.base+"/chunked?n=5&trailer=1&t="+v.tag, nil))
		if want := "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n"; resp.StatusCode != 200 || string(body) != want {
			t.Errorf("answer %d %q, want %q", resp.StatusCode, body, want)
		}
		if got := resp.Trailer.Get("X-Sum"); got != "5 chunks" {
			t.Errorf("trailer X-Sum %q, want %q", got, "5 chunks")
		}
	}},
	{"HEAD with Content-Length and no body", func(t *testing.T, v goVIP) {
		resp, body, _ := traced(t, v.client, mustRequest(t, "HEAD", v.base+"/bytes?n=1234&t="+v.tag, nil))
		if resp.StatusCode != 200 || resp.ContentLength != 1234 || len(body) != 0 {
			t.Errorf("HEAD: %d, Content-Length %d, %d body bytes", resp.StatusCode, resp.ContentLength, len(body))
		}
		// A body sent after the HEAD answer would be read as the next answer.
		p := "/go/" + v.tag + "/after-head"
		if !v.getOK(t, p, echoLine("GET", p, 0)) {
			t.Error("connection not reused after HEAD")
		}
	}},
	{"204 and 304 without bodies", func(t *testing.T, v goVIP) {
		for _, code := range []int{204, 304} {
			resp, body, _ := traced(t, v.client, mustRequest(t, "GET", fmt.Sprintf("%s/status?code=%d&t=%s", v.base, code, v.tag), nil))
			if resp.StatusCode != code || len(body) != 0 {
				t.Errorf("%d: got %d with %d body bytes", code, resp.StatusCode, len(body))
			}
			if code == 304 && resp.Header.Get("ETag") != `"v1"` {
				t.Errorf("304 lost its ETag: %q", resp.Header.Get("ETag"))
			}
			p := fmt.Sprintf("/go/%s/after-%d", v.tag, code)
			if !v.getOK(t, p, echoLine("GET", p, 0)) {
				t.Errorf("connection not reused after %d", code)
			}
		}
	}},
	{"response framed by close", func(t *testing.T, v goVIP) {
		resp, body, _ := traced(t, v.client, mustRequest(t, "GET", v.base+"/close?t="+v.tag, nil))
		if resp.StatusCode != 200 || !bytes.Equal(body, patternBytes(5000)) {
			t.Errorf("answer %d with %d bytes, want 200 with the backend's 5000", resp.StatusCode, len(body))
		}
		p := "/go/" + v.tag + "/after-close"
		v.getOK(t, p, echoLine("GET", p, 0))
	}},
	{"Expect: 100-continue", func(t *testing.T, v goVIP) {
		p := "/go/" + v.tag + "/expect"
		req := mustRequest(t, "POST", v.base+p, bytes.NewReader(patternBytes(64<<10)))
		req.Header.Set("Expect", "100-continue")
		var got100 bool
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got100Continue: func() { got100 = true }}))
		start := time.Now()
		resp, body, _ := traced(t, v.client, req)
		if resp.StatusCode != 200 || string(body) != echoLine("POST", p, 64<<10) {
			t.Errorf("answer %d %q", resp.StatusCode, body)
		}
		// The client waits up to 10 s for the 100; the body went at once.
		if !got100 || time.Since(start) > 5*time.Second {
			t.Errorf("100 Continue received %v, request took %s", got100, time.Since(start))
		}
		if rec := onlyOne(t, v.e.backend, p); rec.BodyLen != 64<<10 {
			t.Errorf("backend saw %s", rec)
		}
	}},
	{"pipelined requests answered in order", func(t *testing.T, v goVIP) {
		c, br := v.dial(t)
		var reqs strings.Builder
		methods := make([]string, 5)
		for i := range methods {
			methods[i] = "GET"
			fmt.Fprintf(&reqs, "GET /bytes?n=%d&t=%s-pipe%d HTTP/1.1\r\nHost: %s\r\n\r\n", (5-i)*1000, v.tag, i, v.addr)
		}
		if _, err := io.WriteString(c, reqs.String()); err != nil {
			t.Fatal(err)
		}
		res := readResponses(c, br, methods, time.Now().Add(10*time.Second))
		if res.err != nil || len(res.got) != 5 {
			t.Fatalf("%d answers (closed %v): %v", len(res.got), res.closed, res.err)
		}
		for i, r := range res.got {
			if r.status != 200 || r.body != string(patternBytes((5-i)*1000)) {
				t.Errorf("answer %d: %d with %d bytes, want 200 with %d", i, r.status, len(r.body), (5-i)*1000)
			}
			onlyOne(t, v.e.backend, fmt.Sprintf("t=%s-pipe%d", v.tag, i))
		}
	}},
	{"absolute-form target", func(t *testing.T, v goVIP) {
		proxyURL, _ := url.Parse(v.base)
		c := v.e.client()
		c.Transport.(*http.Transport).Proxy = http.ProxyURL(proxyURL)
		p := "/go/" + v.tag + "/absolute?q=1"
		resp, body, _ := traced(t, c, mustRequest(t, "GET", "http://abs.test"+p, nil))
		rec := onlyOne(t, v.e.backend, p)
		if resp.StatusCode != 200 || string(body) != echoLine("GET", rec.Target, 0) {
			t.Errorf("answer %d %q", resp.StatusCode, body)
		}
		if rec.path() != p || rec.Host != "abs.test" {
			t.Errorf("backend saw target %q, Host %q; want %q and abs.test", rec.Target, rec.Host, p)
		}
		checkForwarded(t, rec, v.proto, "abs.test")
	}},
	{"Connection: close from the client", func(t *testing.T, v goVIP) {
		c, br := v.dial(t)
		p := "/go/" + v.tag + "/client-close"
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", p, v.addr)
		res := readResponses(c, br, []string{"GET"}, time.Now().Add(10*time.Second))
		if res.err != nil || len(res.got) != 1 || res.got[0].body != echoLine("GET", p, 0) {
			t.Fatalf("answer %+v %v", res.got, res.err)
		}
		if closed, _, extra := waitClosed(c, br, time.Now().Add(3*time.Second)); !closed || extra != "" {
			t.Errorf("after the answer: closed %v, then %q", closed, extra)
		}
	}},
	{"Connection: close from the backend", func(t *testing.T, v goVIP) {
		var conns []int
		for i := 0; i < 2; i++ {
			p := fmt.Sprintf("/backend-close?t=%s-%d", v.tag, i)
			v.getOK(t, p, echoLine("GET", p, 0))
			conns = append(conns, onlyOne(t, v.e.backend, p).Conn)
		}
		if conns[0] == conns[1] {
			t.Errorf("both requests on backend connection %d, which the backend closed after the first", conns[0])
		}
	}},
	{"1 MiB response", func(t *testing.T, v goVIP) {
		resp, body, _ := traced(t, v.client, mustRequest(t, "GET", v.base+"/bytes?n=1048576&t="+v.tag, nil))
		if resp.StatusCode != 200 || !bytes.Equal(body, patternBytes(1<<20)) {
			t.Errorf("answer %d with %d bytes, want the backend's 1 MiB", resp.StatusCode, len(body))
		}
	}},
	{"server-sent events flushed as they come", func(t *testing.T, v goVIP) {
		gate := "sse-" + v.tag
		resp, err := v.client.Get(v.base + "/sse?gate=" + gate)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		first := make(chan string, 1)
		br := bufio.NewReader(resp.Body)
		go func() {
			line, _ := br.ReadString('\n')
			first <- line
		}()
		// The backend sends the second event only when the gate opens,
		// which is after the client has the first.
		select {
		case line := <-first:
			if line != "data: one\n" {
				t.Fatalf("first line %q", line)
			}
		case <-time.After(5 * time.Second):
			close(v.e.backend.gate(gate))
			t.Fatal("first event not received within 5 s: the stream is buffered")
		}
		close(v.e.backend.gate(gate))
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "\ndata: two\n\n" {
			t.Errorf("rest of the stream %q %v", rest, err)
		}
	}},
	{"request body streamed", func(t *testing.T, v goVIP) {
		gate := "upload-" + v.tag
		pr, pw := io.Pipe()
		// Past the 64 KiB that buffer_request holds before a server is
		// chosen, the body streams.
		p := "/upload?first=70000&gate=" + gate
		type answer struct {
			body string
			err  error
		}
		done := make(chan answer, 1)
		go func() {
			resp, err := v.client.Post(v.base+p, "application/octet-stream", pr)
			if err != nil {
				done <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			done <- answer{string(b), err}
		}()
		go pw.Write(patternBytes(70000))
		// The backend opens the gate once it has the first 70000 bytes,
		// while the client holds the rest back.
		select {
		case <-v.e.backend.gate(gate):
		case <-time.After(5 * time.Second):
			pw.CloseWithError(fmt.Errorf("test gave up"))
			t.Fatal("backend did not get the first part within 5 s: the body is buffered")
		}
		pw.Write(patternBytes(500))
		pw.Close()
		select {
		case a := <-done:
			if a.err != nil || a.body != echoLine("POST", p, 70500) {
				t.Errorf("answer %q %v", a.body, a.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no answer within 10 s")
		}
	}},
}

func TestH1GoClient(t *testing.T) { runGoCases(t, goCases) }

func runGoCases(t *testing.T, cases []goCase) {
	e := startH1(t)
	for _, v := range []goVIP{
		{e: e, base: "http://" + e.plain, addr: e.plain, proto: "http", tag: "plain"},
		{e: e, base: "https://" + e.tls, addr: e.tls, proto: "https", tag: "tls"},
	} {
		v.client = e.client()
		t.Run(v.tag, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, v) })
			}
		})
	}
}
