package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// Real HTTP/1 clients through quill: curl, wrk, Python's http.client, a
// WebSocket client and headless Chromium. Each checks what the client got
// and what the backend saw.

// curlStat is the -w line curlRun asks for after each transfer.
const curlStat = "\n--- %{http_code} %{num_connects}\n"

var curlStatLine = regexp.MustCompile(`\n--- (\d+) (\d+)\n`)

// curlTransfer is one URL of a curl run.
type curlTransfer struct {
	body     string
	code     int
	connects int // new connections curl opened for it
}

// curlRun runs curl over several URLs and splits its output per URL.
func curlRun(t *testing.T, args ...string) []curlTransfer {
	t.Helper()
	out := mustCurl(t, append([]string{"-S", "-w", curlStat}, args...)...)
	var got []curlTransfer
	prev := 0
	for _, m := range curlStatLine.FindAllStringSubmatchIndex(out, -1) {
		code, _ := strconv.Atoi(out[m[2]:m[3]])
		connects, _ := strconv.Atoi(out[m[4]:m[5]])
		got = append(got, curlTransfer{body: out[prev:m[0]], code: code, connects: connects})
		prev = m[1]
	}
	return got
}

func TestH1Curl(t *testing.T) {
	requireTool(t, "curl")
	e := startH1(t)
	big := patternBytes(300 << 10)
	bigFile := toolTemp(t, "big.bin")
	if err := os.WriteFile(bigFile, big, 0o644); err != nil {
		t.Fatal(err)
	}
	plain, secure := "http://"+e.plain, "https://"+e.tls
	tests := []struct {
		name     string
		args     []string
		paths    []string // one transfer per path, in order
		base     string
		connects []int // per transfer: 1 for a new connection, 0 for a reused one
		proto    string
		method   string
		bodyLen  int64
	}{
		{name: "HTTP/1.0 without keep-alive", args: []string{"--http1.0"}, base: plain,
			paths: []string{"/c/10close/a", "/c/10close/b"}, connects: []int{1, 1}, proto: "http", method: "GET"},
		{name: "HTTP/1.0 with keep-alive", args: []string{"--http1.0", "-H", "Connection: keep-alive"}, base: plain,
			paths: []string{"/c/10keep/a", "/c/10keep/b", "/c/10keep/c"}, connects: []int{1, 0, 0}, proto: "http", method: "GET"},
		{name: "HTTP/1.1", args: []string{"--http1.1"}, base: plain,
			paths: []string{"/c/11/a", "/c/11/b"}, connects: []int{1, 0}, proto: "http", method: "GET"},
		{name: "HTTP/1.1 POST of 300 KiB", args: []string{"--http1.1", "--data-binary", "@" + bigFile}, base: plain,
			paths: []string{"/c/11post/a"}, connects: []int{1}, proto: "http", method: "POST", bodyLen: int64(len(big))},
		{name: "--http1.1 over TLS", args: []string{"--http1.1", "--cacert", e.ca.file}, base: secure,
			paths: []string{"/c/tls/a", "/c/tls/b"}, connects: []int{1, 0}, proto: "https", method: "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			for _, p := range tt.paths {
				args = append(args, tt.base+p)
			}
			got := curlRun(t, args...)
			if len(got) != len(tt.paths) {
				t.Fatalf("%d transfers, want %d", len(got), len(tt.paths))
			}
			for i, p := range tt.paths {
				rec := onlyOne(t, e.backend, p)
				if want := echoLine(tt.method, p, tt.bodyLen); got[i].code != 200 || got[i].body != want {
					t.Errorf("%s: %d %q, want 200 %q", p, got[i].code, got[i].body, want)
				}
				if got[i].connects != tt.connects[i] {
					t.Errorf("%s: curl made %d new connections, want %d", p, got[i].connects, tt.connects[i])
				}
				if rec.Method != tt.method || rec.BodyLen != tt.bodyLen || rec.Status != 200 {
					t.Errorf("backend saw %s", rec)
				}
				checkForwarded(t, rec, tt.proto, strings.TrimPrefix(strings.TrimPrefix(tt.base, "https://"), "http://"))
			}
		})
	}
	t.Run("HTTP/1.0 client of a chunked response", func(t *testing.T) {
		headers := toolTemp(t, "headers")
		body := mustCurl(t, "--http1.0", "-D", headers, plain+"/chunked?n=3&t=c10chunked")
		if body != "chunk-0\nchunk-1\nchunk-2\n" {
			t.Errorf("body %q", body)
		}
		h, err := os.ReadFile(headers)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(string(h)), "transfer-encoding") {
			t.Errorf("an HTTP/1.0 client got Transfer-Encoding:\n%s", h)
		}
		onlyOne(t, e.backend, "t=c10chunked")
	})
}

func TestH1Wrk(t *testing.T) {
	requireTool(t, "wrk")
	e := startH1(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const conns = 8
	out, err := exec.CommandContext(ctx, "wrk", "-t1", "-c"+strconv.Itoa(conns), "-d1s", "--timeout", "5s",
		"-s", "testdata/h1_wrk_sent.lua", "http://"+e.plain+"/wrk/run").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d+) requests in `).FindSubmatch(out)
	s := regexp.MustCompile(`(?m)^sent (\d+)$`).FindSubmatch(out)
	if m == nil || s == nil {
		t.Fatalf("wrk output without counts:\n%s", out)
	}
	answered, _ := strconv.Atoi(string(m[1]))
	sent, _ := strconv.Atoi(string(s[1]))
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		t.Errorf("wrk saw errors:\n%s", out)
	}
	if answered < 100 {
		t.Errorf("only %d requests answered in 1 s:\n%s", answered, out)
	}
	// Requests in flight when -d runs out are written but not counted by
	// wrk; the backend may or may not have got them, and nothing more.
	var seen int
	eventually(t, 5*time.Second, func() bool {
		seen = len(e.backend.matching("/wrk/run"))
		return seen >= answered
	})
	time.Sleep(200 * time.Millisecond)
	seen = len(e.backend.matching("/wrk/run"))
	if seen < answered || seen > sent {
		t.Errorf("wrk answered %d and wrote %d requests; the backend saw %d", answered, sent, seen)
	}
	for _, r := range e.backend.matching("/wrk/run") {
		if r.Method != "GET" || r.Err != "" || r.Header.Get("X-Forwarded-For") != "127.0.0.1" {
			t.Errorf("backend saw %s with X-Forwarded-For %q", r, r.Header.Get("X-Forwarded-For"))
			break
		}
	}
}

// pythonClient does keep-alive GETs and a chunked POST on one http.client
// connection and prints what it got as JSON.
const pythonClient = `
import http.client, json, sys
host, port = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection(host, port, timeout=10)
out = []
def record(r):
    body = r.read().decode()
    out.append({"status": r.status, "body": body, "port": c.sock.getsockname()[1] if c.sock else 0})
for i in range(4):
    c.request("GET", "/py/get-%d" % i)
    record(c.getresponse())
def parts():
    for p in (b"first part,", b"second part,", b"third"):
        yield p
c.request("POST", "/py/post", body=parts(), headers={"Content-Type": "text/plain"})
record(c.getresponse())
c.request("GET", "/py/last")
record(c.getresponse())
print(json.dumps(out))
`

func TestH1Python(t *testing.T) {
	requireTool(t, "python3")
	e := startH1(t)
	host, port := "127.0.0.1", portOf(e.plain)
	stdout, stderr, err := runTool(t, "", "python3", "-c", pythonClient, host, port)
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr)
	}
	var got []struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
		Port   int    `json:"port"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("python3 printed %q: %v", stdout, err)
	}
	want := []struct {
		path, method string
		bodyLen      int64
	}{
		{"/py/get-0", "GET", 0}, {"/py/get-1", "GET", 0}, {"/py/get-2", "GET", 0}, {"/py/get-3", "GET", 0},
		{"/py/post", "POST", int64(len("first part,second part,third"))}, {"/py/last", "GET", 0},
	}
	if len(got) != len(want) {
		t.Fatalf("python3 got %d answers, want %d: %s", len(got), len(want), stdout)
	}
	for i, w := range want {
		t.Run(strings.TrimPrefix(w.path, "/py/"), func(t *testing.T) {
			g := got[i]
			if g.Status != 200 || g.Body != echoLine(w.method, w.path, w.bodyLen) {
				t.Errorf("python3 got %d %q", g.Status, g.Body)
			}
			if g.Port == 0 || g.Port != got[0].Port {
				t.Errorf("answered on client port %d, the first on %d: the connection was not kept", g.Port, got[0].Port)
			}
			rec := onlyOne(t, e.backend, w.path)
			if rec.Method != w.method || rec.BodyLen != w.bodyLen || rec.BodyErr != "" {
				t.Errorf("backend saw %s", rec)
			}
			if w.method == "POST" && !strings.Contains(rec.Head, "Transfer-Encoding") && rec.Header.Get("Content-Length") != strconv.FormatInt(w.bodyLen, 10) {
				t.Errorf("chunked POST reached the backend framed by neither chunks nor its length:\n%s", rec.Head)
			}
			checkForwarded(t, rec, "http", host+":"+port)
		})
	}
}

func TestH1WebSocket(t *testing.T) {
	e := startH1(t)
	for _, tt := range []struct{ name, url, origin string }{
		{"plain", "ws://" + e.plain + "/ws?t=wsplain", "http://" + e.plain},
		{"TLS", "wss://" + e.tls + "/ws?t=wstls", "https://" + e.tls},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := websocket.NewConfig(tt.url, tt.origin)
			if err != nil {
				t.Fatal(err)
			}
			conf.TlsConfig = e.tlsConfig()
			conf.Dialer = nil
			ws, err := websocket.DialConfig(conf)
			if err != nil {
				t.Fatalf("dial %s: %v", tt.url, err)
			}
			defer ws.Close()
			ws.SetDeadline(time.Now().Add(10 * time.Second))
			var msg string
			if err := websocket.Message.Receive(ws, &msg); err != nil || msg != "hello from the backend" {
				t.Fatalf("first message %q %v, want the backend's greeting", msg, err)
			}
			for _, m := range []string{"one", "two", strings.Repeat("large ", 20000)} {
				if err := websocket.Message.Send(ws, m); err != nil {
					t.Fatalf("send: %v", err)
				}
				if err := websocket.Message.Receive(ws, &msg); err != nil || msg != "echo: "+m {
					t.Fatalf("echo of a %d-byte message: %.40q (%d bytes) %v", len(m), msg, len(msg), err)
				}
			}
			ws.Close()
			rec := onlyOne(t, e.backend, tt.url[strings.Index(tt.url, "/ws"):])
			if rec.Status != 101 || rec.Header.Get("Upgrade") != "websocket" {
				t.Errorf("backend saw %s with Upgrade %q", rec, rec.Header.Get("Upgrade"))
			}
		})
	}
}

// The page Chromium loads: scripts and images on the same VIP.
const pageImages, pageScripts = 18, 14

var pageHTML = func() string {
	var b strings.Builder
	b.WriteString("<!doctype html><html><head><title>loading</title><link rel=\"icon\" href=\"data:,\">")
	b.WriteString("<link rel=\"stylesheet\" href=\"/asset/style.css\"></head><body>\n")
	for i := 0; i < pageImages; i++ {
		fmt.Fprintf(&b, "<img src=\"/asset/img-%d.svg\" width=\"8\" height=\"8\">\n", i)
	}
	for i := 0; i < pageScripts; i++ {
		fmt.Fprintf(&b, "<script src=\"/asset/js-%d.js\"></script>\n", i)
	}
	b.WriteString(`<script>window.addEventListener("load", function () {
  var ok = 0; for (var i = 0; i < document.images.length; i++) { if (document.images[i].naturalWidth > 0) ok++; }
  document.title = "loaded " + ok + " images";
});</script></body></html>`)
	return b.String()
}()

func (x *bx) asset(p string) {
	name := strings.TrimPrefix(p, "/asset/")
	var n int
	switch {
	case name == "style.css":
		x.respond(200, []byte("img { border: 1px solid #000 }\n"), "Content-Type: text/css", "Cache-Control: no-store")
	case strings.HasSuffix(name, ".svg") && scanInt(name, "img-%d.svg", &n):
		svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#%06x"/></svg>`, n*0x0a0b0c)
		x.respond(200, []byte(svg), "Content-Type: image/svg+xml", "Cache-Control: no-store")
	case strings.HasSuffix(name, ".js") && scanInt(name, "js-%d.js", &n):
		js := fmt.Sprintf("document.body.insertAdjacentHTML('beforeend', '<p>script %d ran</p>');\n", n)
		x.respond(200, []byte(js), "Content-Type: text/javascript", "Cache-Control: no-store")
	default:
		x.respond(404, []byte("no such asset\n"))
	}
}

func scanInt(s, format string, n *int) bool {
	_, err := fmt.Sscanf(s, format, n)
	return err == nil
}

func TestH1Chromium(t *testing.T) {
	requireTool(t, "chromium")
	e := startH1(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-proxy-server", "--user-data-dir="+t.TempDir(), "--dump-dom", "http://"+e.plain+"/page.html")
	// Chromium starts helper processes; on a timeout the whole group it
	// leads is ended, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if want := fmt.Sprintf("<title>loaded %d images</title>", pageImages); !bytes.Contains(dom, []byte(want)) {
		t.Errorf("page DOM lacks %q:\n%s", want, dom)
	}
	for i := 0; i < pageScripts; i++ {
		if want := fmt.Sprintf("<p>script %d ran</p>", i); !bytes.Contains(dom, []byte(want)) {
			t.Errorf("page DOM lacks %q", want)
		}
	}
	paths := []string{"/page.html", "/asset/style.css"}
	for i := 0; i < pageImages; i++ {
		paths = append(paths, fmt.Sprintf("/asset/img-%d.svg", i))
	}
	for i := 0; i < pageScripts; i++ {
		paths = append(paths, fmt.Sprintf("/asset/js-%d.js", i))
	}
	if len(paths) < 31 {
		t.Fatalf("the page holds %d resources, want more than 30", len(paths))
	}
	for _, p := range paths {
		rec := onlyOne(t, e.backend, p)
		if rec.Status != 200 || rec.Header.Get("X-Forwarded-For") != "127.0.0.1" {
			t.Errorf("backend answered %s with %d, X-Forwarded-For %q", p, rec.Status, rec.Header.Get("X-Forwarded-For"))
		}
	}
	conns := map[int]bool{}
	for _, r := range e.backend.requests() {
		conns[r.Conn] = true
	}
	t.Logf("chromium loaded %d resources through quill over %d backend connections", len(paths), len(conns))
}
