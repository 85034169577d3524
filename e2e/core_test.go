package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// twoServers is a config with one HTTP VIP in front of a pool of servers.
func poolConfig(vip, balance string, extra string, servers ...*backend) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nshutdown_timeout = \"10s\"\n\n[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n\n[pools.app]\nbalance = %q\n%s\n", vip, balance, extra)
	for _, s := range servers {
		fmt.Fprintf(&b, "  [[pools.app.servers]]\n  name = %q\n  address = %q\n", s.name, s.addr)
	}
	return b.String()
}

func TestRoundRobinReachesBothServers(t *testing.T) {
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", "", web1, web2), vip)
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		seen[strings.TrimSpace(mustCurl(t, "http://"+vip+"/"))]++
	}
	if seen["web1"] != 5 || seen["web2"] != 5 {
		t.Errorf("10 requests went %v, want 5 to each", seen)
	}
}

func TestHostAndPathRouting(t *testing.T) {
	static, app, api := startBackend(t, "static"), startBackend(t, "app"), startBackend(t, "api")
	vip := freeAddr(t)
	cfg := fmt.Sprintf(`
[vips.web]
listen = [%q]
  [[vips.web.routes]]
  host = "www.example.com"
  path = "/static/"
  pool = "static"
  [[vips.web.routes]]
  host = "*.api.example.com"
  pool = "api"
  [[vips.web.routes]]
  host = "www.example.com"
  pool = "app"

[pools.static]
servers = [{ address = %q }]
[pools.app]
servers = [{ address = %q }]
[pools.api]
servers = [{ address = %q }]
`, vip, static.addr, app.addr, api.addr)
	startQuill(t, cfg, vip)
	tests := []struct {
		name, host, path, want string
	}{
		{"path prefix", "www.example.com", "/static/site.css", "static\n"},
		{"host catch-all", "www.example.com", "/index.html", "app\n"},
		{"host case and port", "WWW.EXAMPLE.COM:80", "/static/x", "static\n"},
		{"wildcard host", "eu.api.example.com", "/v1", "api\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustCurl(t, "-H", "Host: "+tt.host, "http://"+vip+tt.path)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("no route is 404", func(t *testing.T) {
		code := mustCurl(t, "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: other.org", "http://"+vip+"/")
		if code != "404" {
			t.Errorf("status %s, want 404", code)
		}
	})
}

// echo is what testbackend's /echo reports.
type echo struct {
	Backend string              `json:"backend"`
	Host    string              `json:"host"`
	URI     string              `json:"uri"`
	Header  map[string][]string `json:"header"`
	Body    string              `json:"body"`
}

func curlEcho(t *testing.T, args ...string) echo {
	t.Helper()
	var e echo
	out := mustCurl(t, args...)
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("backend answer %q: %v", out, err)
	}
	return e
}

func TestForwardedHeaders(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", "", web), vip)
	e := curlEcho(t, "-H", "X-Forwarded-For: 203.0.113.7, 198.51.100.2", "-H", "Host: shop.example.com",
		"-H", "X-Forwarded-Proto: https", "-H", "Connection: keep-alive, X-Private", "-H", "X-Private: secret",
		"http://"+vip+"/echo?q=1")
	tests := []struct{ name, got, want string }{
		{"client appended to the chain", strings.Join(e.Header["X-Forwarded-For"], ","), "203.0.113.7, 198.51.100.2, 127.0.0.1"},
		{"proto set by quill, not the client", strings.Join(e.Header["X-Forwarded-Proto"], ","), "http"},
		{"forwarded host", strings.Join(e.Header["X-Forwarded-Host"], ","), "shop.example.com"},
		{"host preserved", e.Host, "shop.example.com"},
		{"uri preserved", e.URI, "/echo?q=1"},
		{"no via", strings.Join(e.Header["Via"], ","), ""},
		{"hop-by-hop removed", strings.Join(e.Header["X-Private"], ","), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestForwardedForModes(t *testing.T) {
	web := startBackend(t, "web")
	tests := []struct {
		name, extra, want string
	}{
		{"replace", `forwarded_for = "replace"`, "127.0.0.1"},
		{"off passes the header as sent", `forwarded_for = "off"`, "203.0.113.7"},
		{"trusted proxy: replace with the real client", "forwarded_for = \"replace\"\ntrusted_proxies = [\"127.0.0.0/8\"]", "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vip := freeAddr(t)
			q := startQuill(t, poolConfig(vip, "roundrobin", tt.extra, web), vip)
			e := curlEcho(t, "-H", "X-Forwarded-For: 203.0.113.7", "http://"+vip+"/echo")
			if got := strings.Join(e.Header["X-Forwarded-For"], ","); got != tt.want {
				t.Errorf("X-Forwarded-For %q, want %q", got, tt.want)
			}
			q.kill()
		})
	}
}

func TestBackendKilledCostsNoFailedGet(t *testing.T) {
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", `fail_timeout = "30s"`, web1, web2), vip)
	client := &http.Client{Timeout: 10 * time.Second}
	failed, served := 0, map[string]int{}
	for i := 0; i < 300; i++ {
		if i == 100 {
			web2.kill()
		}
		code, body, err := get(client, "http://"+vip+"/")
		if err != nil || code != 200 {
			failed++
			t.Logf("request %d: %d %v", i, code, err)
			continue
		}
		served[strings.TrimSpace(body)]++
	}
	if failed != 0 {
		t.Errorf("%d of 300 GETs failed after a backend was killed", failed)
	}
	if served["web2"] == 0 || served["web2"] > 60 {
		t.Errorf("served %v: web2 should have served until killed, then no more", served)
	}
}

func TestAllServersDown(t *testing.T) {
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", `fail_timeout = "7s"`, web1, web2), vip)
	web1.kill()
	web2.kill()
	out := mustCurl(t, "-i", "http://"+vip+"/")
	if !strings.HasPrefix(out, "HTTP/1.1 503") || !strings.Contains(out, "Retry-After: 7") {
		t.Errorf("answer %q, want 503 with Retry-After: 7", out)
	}
}

func TestBackendErrors(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", `timeout = "500ms"`, web), vip)
	tests := []struct{ name, path, want string }{
		{"timeout is 504", "/slow?d=3s", "504"},
		{"broken response is 502", "/bad", "502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := mustCurl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+vip+tt.path)
			if code != tt.want {
				t.Errorf("status %s, want %s", code, tt.want)
			}
		})
	}
	// Neither takes the server out: it answered, slowly or badly.
	if code := mustCurl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+vip+"/"); code != "200" {
		t.Errorf("after errors, status %s, want 200", code)
	}
}

func TestCheckRefusesBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quill.toml")
	os.WriteFile(path, []byte(`[vips.web]
listen = ["127.0.0.1:8080"]
  [[vips.web.routes]]
  pool = "nope"

[pools.app]
balance = "random"
  [[pools.app.servers]]
  address = "foo"
`), 0o644)
	out, err := exec.Command(quillBin, "check", "-c", path).CombinedOutput()
	if err == nil {
		t.Fatalf("check passed a bad config:\n%s", out)
	}
	for _, want := range []string{
		path + `:4: vip "web": route 1: pool "nope" does not exist`,
		path + `:7: pool "app": balance "random"`,
		path + `:9: pool "app": server address "foo" has no port`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExampleConfigsPassCheck(t *testing.T) {
	for _, name := range []string{"quickstart.toml", "pen-replacement.toml"} {
		t.Run(name, func(t *testing.T) {
			checkExample(t, filepath.Join("..", "configs", name))
		})
	}
}

// checkExample runs quill check on a shipped example as it runs under
// configs/quill.service: the directories the unit makes (/run/quill,
// /var/log/quill, /var/lib/quill) exist, here under a temporary root that
// the example's paths are moved to. check refuses a log or pid file in a
// directory that does not exist, so an example writing anywhere else fails.
func checkExample(t *testing.T, path string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	moved := string(src)
	for _, d := range []string{"/run/quill", "/var/log/quill", "/var/lib/quill"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		moved = strings.ReplaceAll(moved, `"`+d+`/`, `"`+root+d+`/`)
	}
	file := filepath.Join(root, filepath.Base(path))
	if err := os.WriteFile(file, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(quillBin, "check", file).CombinedOutput(); err != nil {
		t.Fatalf("check failed: %v\n%s", err, out)
	}
}

func TestTermLetsSlowRequestFinish(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web), vip)
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := curl(t, "http://"+vip+"/slow?d=1500ms")
		done <- result{out, err}
	}()
	time.Sleep(300 * time.Millisecond)
	q.signal(syscall.SIGTERM)
	r := <-done
	if r.err != nil || r.out != "web slept 1.5s\n" {
		t.Errorf("slow request during TERM: %q %v", r.out, r.err)
	}
	if err := q.wait(t, 10*time.Second); err != nil {
		t.Errorf("quill exited with %v", err)
	}
	if _, err := net.DialTimeout("tcp", vip, time.Second); err == nil {
		t.Error("still accepting after TERM")
	}
}

// rawExchange writes a request as bytes and reads what comes back until
// the server closes or 3 seconds pass.
func rawExchange(t *testing.T, addr, request string) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, request)
	b, err := io.ReadAll(c)
	closed := err == nil // EOF: the server closed the connection
	return string(b), closed
}

func TestSmugglingRefused(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", "", web), vip)
	tests := []struct{ name, req string }{
		{"content-length and chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"duplicate content-length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		{"signed content-length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc"},
		{"transfer-encoding not chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, closed := rawExchange(t, vip, tt.req)
			if !strings.HasPrefix(out, "HTTP/1.1 400") && !strings.HasPrefix(out, "HTTP/1.1 501") {
				t.Errorf("answer %q, want 400", out)
			}
			if strings.Count(out, "HTTP/1.1 ") != 1 || strings.Contains(out, "smuggled") {
				t.Errorf("a second request was served: %q", out)
			}
			if !closed {
				t.Error("connection left open")
			}
		})
	}
}

func TestStreamingIsFlushed(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", "", web), vip)
	resp, err := http.Get("http://" + vip + "/stream?n=3&every=700ms")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: web 0") {
		t.Fatalf("first event %q %v", line, err)
	}
	// The stream lasts 2.1s; the first event must not wait for its end.
	if waited := time.Since(start); waited > 1500*time.Millisecond {
		t.Errorf("first event arrived after %s: the stream was buffered", waited)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	startQuill(t, poolConfig(vip, "roundrobin", "", web), vip)
	c, err := net.Dial("tcp", vip)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// Firefox sends "keep-alive, Upgrade".
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s, want 101", resp.Status)
	}
	for _, msg := range []string{"hello", "POST / HTTP/1.1"} {
		io.WriteString(c, msg+"\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "web: "+msg+"\n" {
			t.Errorf("echo %q %v, want %q", line, err, "web: "+msg)
		}
	}
}

func TestClientLimits(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	cfg := strings.Replace(poolConfig(vip, "roundrobin", "", web), "[global]\n",
		"[global]\nmax_connections = 2\nread_header_timeout = \"1s\"\nmax_header_bytes = 4096\n", 1)
	startQuill(t, cfg, vip)

	t.Run("slow head is cut off", func(t *testing.T) {
		c, err := net.Dial("tcp", vip)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		io.ReadAll(c) // returns when quill closes the connection
		if waited := time.Since(start); waited > 4*time.Second {
			t.Errorf("connection with an unfinished head held for %s", waited)
		}
	})
	t.Run("huge head is 431", func(t *testing.T) {
		out, _ := rawExchange(t, vip, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: "+strings.Repeat("a", 8192)+"\r\n\r\n")
		if !strings.HasPrefix(out, "HTTP/1.1 431") {
			t.Errorf("answer %.40q, want 431", out)
		}
	})
	t.Run("max_connections: accept waits", func(t *testing.T) {
		var held []net.Conn
		for i := 0; i < 2; i++ {
			c, err := net.Dial("tcp", vip)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		client := &http.Client{Timeout: 700 * time.Millisecond}
		if _, _, err := get(client, "http://"+vip+"/"); err == nil {
			t.Error("a third connection was served while two were held")
		}
		held[0].Close()
		client.Timeout = 5 * time.Second
		if code, _, err := get(client, "http://"+vip+"/"); err != nil || code != 200 {
			t.Errorf("after a slot freed: %d %v", code, err)
		}
		held[1].Close()
	})
}
