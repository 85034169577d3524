package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The access log as its readers see it: one file in Common or Combined Log
// Format for every VIP, in time order, that webalizer reads without a bad
// record and mergelog merges as quill does, and that loses no line to
// logrotate or to TERM.

func TestAccessLogOneFileForHTTPAndHTTPS(t *testing.T) {
	requireTool(t, "curl")
	web := startBackend(t, "web")
	dir := t.TempDir()
	ca := newTestCA(t)
	localhost := ca.pair(t, dir, "localhost", leafSpec{cn: "localhost", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	httpVIP, httpsVIP := freeAddr(t), freeAddr(t)
	logPath := filepath.Join(dir, "access.log")
	// A window of 2s holds each line well past the slow requests below, so
	// that they still take their place in arrival order.
	q := startQuill(t, fmt.Sprintf(`
[global]
shutdown_timeout = "10s"

[access_log]
path = %q
window = "2s"

[vips.http]
listen = [%q]
  [[vips.http.routes]]
  path = "/behind-proxy/"
  pool = "edge"
  [[vips.http.routes]]
  pool = "app"

[vips.https]
listen = [%q]
  [vips.https.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.https.routes]]
  pool = "app"

[pools.app]
servers = [{ address = %q }]

[pools.edge]
trusted_proxies = ["127.0.0.0/8"]
servers = [{ address = %q }]
`, logPath, httpVIP, httpsVIP, localhost.cert, localhost.key, web.addr, web.addr), httpVIP, httpsVIP)

	// HTTP and HTTPS clients at once, and beside them requests that take
	// 700ms: they finish after requests that arrived later, often in the
	// next second, and must still be logged in arrival order.
	const perScheme, slow = 20, 3
	var wg sync.WaitGroup
	errs := make(chan error, 2*perScheme+slow)
	status := func(args ...string) {
		code, err := curl(t, append([]string{"-o", "/dev/null", "-w", "%{http_code}"}, args...)...)
		if err == nil && code != "200" {
			err = fmt.Errorf("curl %s: status %s", strings.Join(args, " "), code)
		}
		if err != nil {
			errs <- err
		}
	}
	var want []string
	for i := range perScheme {
		want = append(want, fmt.Sprintf("/http/%d", i), fmt.Sprintf("/https/%d", i))
	}
	for i := range slow {
		want = append(want, fmt.Sprintf("/slow?d=700ms&n=%d", i))
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := range perScheme {
			status(fmt.Sprintf("http://%s/http/%d", httpVIP, i))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range perScheme {
			status("--cacert", ca.file, fmt.Sprintf("https://%s/https/%d", httpsVIP, i))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range slow {
			status(fmt.Sprintf("http://%s/slow?d=700ms&n=%d", httpVIP, i))
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Behind a trusted proxy the client is the address it forwarded;
	// elsewhere X-Forwarded-For is the client's word and is not believed.
	status("-H", "X-Forwarded-For: 203.0.113.7", "http://"+httpVIP+"/behind-proxy/xff")
	status("-H", "X-Forwarded-For: 203.0.113.8", "http://"+httpVIP+"/direct/xff")
	termQuill(t, q)

	lines := readAccessLog(t, logPath)
	n := len(want) + 2
	if len(lines) != n {
		t.Errorf("%d lines for %d requests", len(lines), n)
	}
	logged := byPath(t, lines)
	for _, p := range want {
		l, ok := logged[p]
		switch {
		case !ok:
			t.Errorf("%s not logged", p)
		case l.client != "127.0.0.1" || l.status != 200 || l.combined:
			t.Errorf("%s logged as %q, want client 127.0.0.1, status 200, common format", p, l.raw)
		}
	}
	for p, client := range map[string]string{"/behind-proxy/xff": "203.0.113.7", "/direct/xff": "127.0.0.1"} {
		if l := logged[p]; l.client != client {
			t.Errorf("%s logged client %q, want %s (%q)", p, l.client, client, l.raw)
		}
	}
	// Both schemes in the one file, their lines mixed as they came.
	firstHTTP, lastHTTP, firstHTTPS, lastHTTPS := -1, -1, -1, -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l.path(), "/http/"):
			if firstHTTP < 0 {
				firstHTTP = i
			}
			lastHTTP = i
		case strings.HasPrefix(l.path(), "/https/"):
			if firstHTTPS < 0 {
				firstHTTPS = i
			}
			lastHTTPS = i
		}
	}
	if firstHTTP < 0 || firstHTTPS < 0 || firstHTTPS > lastHTTP || firstHTTP > lastHTTPS {
		t.Errorf("HTTP lines %d-%d and HTTPS lines %d-%d are not side by side", firstHTTP, lastHTTP, firstHTTPS, lastHTTPS)
	}
	checkTimeOrder(t, lines)

	t.Run("webalizer reads every line", func(t *testing.T) {
		records, ignored, bad := webalize(t, logPath)
		if records != n || ignored != 0 || bad != 0 {
			t.Errorf("webalizer: %d records, %d ignored, %d bad; want %d, 0, 0", records, ignored, bad, n)
		}
	})
}

func TestAccessLogHostileRequestCannotForgeLine(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, "format = \"combined\"\nwindow = \"100ms\""), vip)
	client := &http.Client{Timeout: 10 * time.Second}

	forged := `127.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET /forged HTTP/1.1" 200 1 "-" "-"`
	tests := []struct {
		name    string
		request string
		// status is what the client gets; the request must be logged with it.
		status int
		// path, agent and referer are the request target and headers as
		// quill received them; the logged fields must unescape to them.
		path, agent, referer string
	}{
		{
			name: "quotes, backslashes, tab and 8-bit bytes",
			request: "GET /q\"\\\"]\xff?x=\"1 HTTP/1.1\r\nHost: a\r\n" +
				"User-Agent: ua\" 200 1 \"-\" \"x\tz\\\xc3\xa9\r\n" +
				"Referer: http://r.example/\" 404 -\r\nConnection: close\r\n\r\n",
			status:  200,
			path:    "/q\"\\\"]\xff?x=\"1",
			agent:   "ua\" 200 1 \"-\" \"x\tz\\\xc3\xa9",
			referer: "http://r.example/\" 404 -",
		},
		{
			name: "quote and control byte in the user agent",
			request: "GET /ctl\"x HTTP/1.1\r\nHost: a\r\n" +
				"User-Agent: \"\x01\r\nConnection: close\r\n\r\n",
			status: 400,
			path:   "/ctl\"x",
		},
		{
			name: "line feed in a header",
			request: "GET /lf HTTP/1.1\r\nHost: a\r\n" +
				"User-Agent: x\n" + forged + "\r\nConnection: close\r\n\r\n",
			status: 400,
			path:   "/lf",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countLines(t, logPath)
			out, _ := rawExchange(t, vip, tt.request)
			if want := fmt.Sprintf("HTTP/1.1 %d ", tt.status); !strings.HasPrefix(out, want) {
				t.Errorf("answer %.60q, want %s", out, want)
			}
			// A request sent after it marks where its lines end.
			marker := fmt.Sprintf("/marker/%d", i)
			if code, _, err := get(client, "http://"+vip+marker); err != nil || code != 200 {
				t.Fatalf("%s: %d %v", marker, code, err)
			}
			var lines []logLine
			eventually(t, 5*time.Second, func() bool {
				lines = readAccessLog(t, logPath)
				return len(lines) > before && lines[len(lines)-1].path() == marker
			})
			own := lines[before : len(lines)-1]
			if len(own) == 0 {
				t.Fatalf("no line for the request; it was answered %.40q", out)
			}
			if len(own) != 1 {
				var raw []string
				for _, l := range own {
					raw = append(raw, l.raw)
				}
				t.Fatalf("%d lines for one request, want 1:\n%s", len(own), strings.Join(raw, "\n"))
			}
			l := own[0]
			if l.status != tt.status || unescapeLogField(l.path()) != tt.path {
				t.Errorf("logged %q, want status %d and path %q", l.raw, tt.status, tt.path)
			}
			if tt.agent != "" && unescapeLogField(l.agent) != tt.agent {
				t.Errorf("logged user agent %q, want %q", unescapeLogField(l.agent), tt.agent)
			}
			if tt.referer != "" && unescapeLogField(l.referer) != tt.referer {
				t.Errorf("logged referer %q, want %q", unescapeLogField(l.referer), tt.referer)
			}
		})
	}
	termQuill(t, q)
	lines := readAccessLog(t, logPath)
	for _, l := range lines {
		if strings.Contains(l.path(), "/forged") {
			t.Errorf("forged line: %q", l.raw)
		}
	}
	records, ignored, bad := webalize(t, logPath)
	if records != len(lines) || ignored != 0 || bad != 0 {
		t.Errorf("webalizer: %d records, %d ignored, %d bad; want %d, 0, 0", records, ignored, bad, len(lines))
	}
}

func TestAccessLogCombinedFormat(t *testing.T) {
	requireTool(t, "curl")
	web := startBackend(t, "web")
	vip := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, `format = "combined"`), vip)
	mustCurl(t, "-e", "https://ref.example/page?q=1", "-A", "Mozilla/5.0 (X11; quill test)", "http://"+vip+"/with")
	mustCurl(t, "-H", "User-Agent:", "http://"+vip+"/without")
	termQuill(t, q)

	lines := readAccessLog(t, logPath)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	tests := []struct {
		name, path, referer, agent string
		line                       logLine
	}{
		{"referer and user agent", "/with", "https://ref.example/page?q=1", "Mozilla/5.0 (X11; quill test)", lines[0]},
		{"neither is a dash", "/without", "-", "-", lines[1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.line
			if !l.combined || l.path() != tt.path || l.referer != tt.referer || l.agent != tt.agent {
				t.Errorf("logged %q, want %s with referer %q and user agent %q", l.raw, tt.path, tt.referer, tt.agent)
			}
		})
	}
}

func TestAccessLogPerVIPFile(t *testing.T) {
	web := startBackend(t, "web")
	dir := t.TempDir()
	vipA, vipB := freeAddr(t), freeAddr(t)
	global, own := filepath.Join(dir, "access.log"), filepath.Join(dir, "b.log")
	q := startQuill(t, fmt.Sprintf(`
[global]
shutdown_timeout = "10s"

[access_log]
path = %q
window = "50ms"

[vips.a]
listen = [%q]
  [[vips.a.routes]]
  pool = "app"

[vips.b]
listen = [%q]
  [[vips.b.routes]]
  pool = "app"
  [vips.b.access_log]
  path = %q
  window = "50ms"

[pools.app]
servers = [{ address = %q }]
`, global, vipA, vipB, own, web.addr), vipA, vipB)
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(vip, path string) {
		t.Helper()
		if code, _, err := get(client, "http://"+vip+path); err != nil || code != 200 {
			t.Fatalf("%s: %d %v", path, code, err)
		}
	}
	for i := range 3 {
		send(vipA, fmt.Sprintf("/a/%d", i))
		send(vipB, fmt.Sprintf("/b/%d", i))
	}
	// USR1 reopens both files.
	eventually(t, 5*time.Second, func() bool { return countLines(t, global) == 3 && countLines(t, own) == 3 })
	for _, p := range []string{global, own} {
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	q.signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "access logs reopened") })
	send(vipA, "/a/3")
	send(vipB, "/b/3")
	termQuill(t, q)

	tests := []struct {
		name, file string
		want       []string
	}{
		{"global file has VIP a only", global + ".1", []string{"/a/0", "/a/1", "/a/2"}},
		{"own file has VIP b only", own + ".1", []string{"/b/0", "/b/1", "/b/2"}},
		{"global file reopened", global, []string{"/a/3"}},
		{"own file reopened", own, []string{"/b/3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range readAccessLog(t, tt.file) {
				got = append(got, l.path())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("%s has %q, want %q", filepath.Base(tt.file), got, tt.want)
			}
		})
	}
}

func TestAccessLogMergeEqualsMergelog(t *testing.T) {
	requireTool(t, "mergelog")
	requireTool(t, "zmergelog")
	web := startBackend(t, "web")
	dir := t.TempDir()
	// Two load balancers of an HA pair, each with its own log.
	type host struct {
		vip, log string
		q        *quill
	}
	var hosts [2]host
	for i := range hosts {
		h := &hosts[i]
		h.vip, h.log = freeAddr(t), filepath.Join(dir, fmt.Sprintf("lb%d.log", i+1))
		h.q = startQuill(t, poolConfig(h.vip, "roundrobin", "", web)+accessLogTable(h.log, `window = "200ms"`), h.vip)
	}
	// Requests to both, interleaved over more than two seconds, so that
	// each log has lines of several seconds and the merge must interleave.
	client := &http.Client{Timeout: 10 * time.Second}
	const n = 30
	for i := range n {
		h := hosts[0]
		if i%3 == 1 {
			h = hosts[1]
		}
		if code, _, err := get(client, fmt.Sprintf("http://%s/req/%d", h.vip, i)); err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		time.Sleep(80 * time.Millisecond)
	}
	var raw [2][]byte
	for i, h := range hosts {
		termQuill(t, h.q)
		b, err := os.ReadFile(h.log)
		if err != nil {
			t.Fatal(err)
		}
		raw[i] = b
	}
	gz := hosts[1].log + ".1.gz"
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(raw[1])
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gz, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(t *testing.T, name string, args ...string) []byte {
		t.Helper()
		var stderr bytes.Buffer
		cmd := exec.Command(name, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", filepath.Base(name), err, stderr.String())
		}
		return out
	}
	tests := []struct {
		name, tool string
		files      []string
	}{
		{"plain", "mergelog", []string{hosts[0].log, hosts[1].log}},
		{"plain, other order", "mergelog", []string{hosts[1].log, hosts[0].log}},
		{"one gzipped", "zmergelog", []string{hosts[0].log, gz}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, quillBin, append([]string{"logs", "merge"}, tt.files...)...)
			want := run(t, tt.tool, tt.files...)
			if !bytes.Equal(got, want) {
				t.Fatalf("quill logs merge differs from %s:\n--- quill\n%s--- %s\n%s", tt.tool, got, tt.tool, want)
			}
			path := filepath.Join(t.TempDir(), "merged.log")
			os.WriteFile(path, got, 0o644)
			lines := readAccessLog(t, path)
			if len(lines) != n {
				t.Errorf("merged %d lines, want %d", len(lines), n)
			}
			checkTimeOrder(t, lines)
			// A merge that only concatenated would prove nothing.
			cat := append(append([]byte{}, raw[0]...), raw[1]...)
			tac := append(append([]byte{}, raw[1]...), raw[0]...)
			if bytes.Equal(got, cat) || bytes.Equal(got, tac) {
				t.Errorf("the logs did not interleave; the test needs requests spread over several seconds")
			}
		})
	}
}
