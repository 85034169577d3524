package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"quill/tlsterm"
)

// The access log as its readers see it: one file in Common or Combined Log
// Format for every VIP, in time order, that webalizer reads without a bad
// record and mergelog merges as quill does, and that loses no line to
// logrotate or to TERM.

// clfPattern matches one Common Log Format line with an optional Combined
// tail. A quoted field may hold backslash escapes but never a bare quote,
// so a line that matches cannot have had a field closed early by a client.
var clfPattern = regexp.MustCompile(`^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?$`)

// logLine is one parsed access log line; quoted fields are as written,
// escapes included.
type logLine struct {
	raw      string
	client   string
	time     time.Time
	request  string
	status   int
	combined bool
	referer  string
	agent    string
}

// path is the request target of the line's request field.
func (l logLine) path() string {
	f := strings.Fields(l.request)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

func parseLogLine(s string) (logLine, error) {
	m := clfPattern.FindStringSubmatch(s)
	if m == nil {
		return logLine{}, fmt.Errorf("not a CLF line: %q", s)
	}
	at, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[4])
	if err != nil {
		return logLine{}, fmt.Errorf("line %q: %w", s, err)
	}
	status, _ := strconv.Atoi(m[6])
	return logLine{raw: s, client: m[1], time: at, request: m[5], status: status,
		combined: strings.HasSuffix(s, `"`), referer: m[8], agent: m[9]}, nil
}

// readAccessLog parses every line of a log file. A line that is not CLF,
// that holds a byte outside printable ASCII, or a file whose last line has
// no newline fails the test. A missing file has no lines.
func readAccessLog(t *testing.T, path string) []logLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s: last line has no newline", path)
	}
	var lines []logLine
	for i, s := range strings.Split(string(b[:len(b)-1]), "\n") {
		for j := 0; j < len(s); j++ {
			if s[j] < 0x20 || s[j] > 0x7e {
				t.Fatalf("%s:%d: byte %#x written unescaped: %q", path, i+1, s[j], s)
			}
		}
		l, err := parseLogLine(s)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// countLines counts the newlines of a file; a missing file has none.
func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// byPath indexes lines by request path, failing on a path logged twice.
func byPath(t *testing.T, lines []logLine) map[string]logLine {
	t.Helper()
	m := map[string]logLine{}
	for _, l := range lines {
		if prev, dup := m[l.path()]; dup {
			t.Errorf("logged twice:\n %s\n %s", prev.raw, l.raw)
		}
		m[l.path()] = l
	}
	return m
}

// checkTimeOrder wants the lines in non-decreasing time order.
func checkTimeOrder(t *testing.T, lines []logLine) {
	t.Helper()
	for i := 1; i < len(lines); i++ {
		if lines[i].time.Before(lines[i-1].time) {
			t.Errorf("line %d is earlier than the line before it:\n %s\n %s", i+1, lines[i-1].raw, lines[i].raw)
		}
	}
}

// termQuill stops quill with TERM, which flushes the access logs, and
// waits for it to exit.
func termQuill(t *testing.T, q *quill) {
	t.Helper()
	q.signal(syscall.SIGTERM)
	if err := q.wait(t, 20*time.Second); err != nil {
		t.Fatalf("quill exited with %v\n%s", err, q.out.String())
	}
}

// accessLogTable is an [access_log] table to append to a config.
func accessLogTable(path, extra string) string {
	return fmt.Sprintf("\n[access_log]\npath = %q\n%s\n", path, extra)
}

// selfSignedFiles writes a certificate for localhost and 127.0.0.1 and its
// key as PEM files into dir.
func selfSignedFiles(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	cert, key, _, err := tlsterm.SelfSigned([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// webalizerSummary is the line webalizer prints with -T:
// "N records (I ignored, B bad) in S seconds"; each part in parentheses
// is left out when it is zero.
var webalizerSummary = regexp.MustCompile(`(?m)^(\d+) records(?: \((?:(\d+) ignored)?(?:, )?(?:(\d+) bad)?\))? in `)

// webalize runs Debian's webalizer on a log as a nightly job would and
// returns its counts. An empty config file (-c) keeps Debian's default
// config out (it ignores localhost, which would count every line here as
// ignored); -F clf names the log type; -i ignores any history and, without
// -p, the run is not incremental, so no record is skipped as already seen;
// -q silences the progress messages and -T prints the summary line; -n
// names the site in the report.
func webalize(t *testing.T, logPath string) (records, ignored, bad int) {
	t.Helper()
	requireTool(t, "webalizer")
	dir := t.TempDir()
	conf := filepath.Join(dir, "webalizer.conf")
	out := filepath.Join(dir, "report")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("webalizer", "-c", conf, "-F", "clf", "-i", "-q", "-T", "-n", "quill.test", "-o", out, logPath)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("webalizer: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	m := webalizerSummary.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("webalizer printed no summary:\n%s%s", stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "index.html")); err != nil {
		t.Errorf("webalizer wrote no report: %v", err)
	}
	if stderr.Len() > 0 {
		t.Logf("webalizer: %s", stderr.String())
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	return atoi(m[1]), atoi(m[2]), atoi(m[3])
}

// load sends GETs from several goroutines, each to paths of its own
// (/load/W-I) and pausing pace between two, until each has sent perWorker,
// the time is up, or (with stopOnError) its first request fails.
type load struct {
	ok     atomic.Int64 // answered 200 with the whole body
	mu     sync.Mutex
	paths  []string // the paths answered 200
	other  []string // answered with another status
	failed []error  // no answer
	wg     sync.WaitGroup
	client *http.Client
}

func startLoad(base string, workers, perWorker int, pace, limit time.Duration, stopOnError bool) *load {
	deadline := time.Now().Add(limit)
	l := &load{client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}}}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < perWorker && time.Now().Before(deadline); i++ {
				path := fmt.Sprintf("/load/%d-%d", w, i)
				resp, err := l.client.Get(base + path)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				l.mu.Lock()
				switch {
				case err != nil:
					l.failed = append(l.failed, fmt.Errorf("%s: %w", path, err))
				case resp.StatusCode == http.StatusOK:
					l.paths = append(l.paths, path)
					l.ok.Add(1)
				default:
					l.other = append(l.other, fmt.Sprintf("%s: %s", path, resp.Status))
				}
				l.mu.Unlock()
				if err != nil && stopOnError {
					return
				}
				time.Sleep(pace)
			}
		}()
	}
	return l
}

// waitOK waits until n requests were answered 200, or fails the test.
func (l *load) waitOK(t *testing.T, n int64) {
	t.Helper()
	eventually(t, 20*time.Second, func() bool { return l.ok.Load() >= n })
}

// wait waits for every worker to finish.
func (l *load) wait() {
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

func TestAccessLogOneFileForHTTPAndHTTPS(t *testing.T) {
	requireTool(t, "curl")
	web := startBackend(t, "web")
	dir := t.TempDir()
	certFile, keyFile := selfSignedFiles(t, dir)
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
`, logPath, httpVIP, httpsVIP, certFile, keyFile, web.addr, web.addr), httpVIP, httpsVIP)

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
			status("--cacert", certFile, fmt.Sprintf("https://%s/https/%d", httpsVIP, i))
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

// unescapeLogField undoes Apache's log escaping: \" \\ \b \n \r \t \v and
// \xhh.
func unescapeLogField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			b.WriteString(`\x`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
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

func TestAccessLogReopenUnderLoadLosesNoLine(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	rotated := logPath + ".1"
	// Lines are due 100ms after their request, so that the rotated file
	// gets the lines of the requests well before the reopen, and the new
	// file those just before it (still held) and after it.
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, `window = "100ms"`), vip)

	ld := startLoad("http://"+vip, 4, 300, 2*time.Millisecond, 15*time.Second, false)
	// logrotate's way: rename, then signal, while requests keep coming.
	ld.waitOK(t, 400)
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	q.signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "access logs reopened") })
	atReopen := ld.ok.Load()
	ld.wait()
	termQuill(t, q)

	if len(ld.failed) > 0 || len(ld.other) > 0 {
		t.Errorf("while rotating: %d requests failed (%v), %d not 200 (%v)", len(ld.failed), ld.failed, len(ld.other), ld.other)
	}
	old, cur := readAccessLog(t, rotated), readAccessLog(t, logPath)
	t.Logf("%d requests answered 200: %d lines in the rotated file, %d in the new one; %d answered at reopen", len(ld.paths), len(old), len(cur), atReopen)
	if len(old) == 0 || len(cur) == 0 || atReopen >= int64(len(ld.paths)) {
		t.Errorf("rotation did not happen under load: %d lines before, %d after, %d of %d requests answered at reopen", len(old), len(cur), atReopen, len(ld.paths))
	}
	if len(old)+len(cur) != len(ld.paths) {
		t.Errorf("%d + %d lines for %d requests answered 200", len(old), len(cur), len(ld.paths))
	}
	logged := byPath(t, append(old, cur...))
	for _, p := range ld.paths {
		if _, ok := logged[p]; !ok {
			t.Errorf("%s answered 200 but not logged", p)
		}
	}
}

func TestAccessLogTermUnderLoadLosesNoLine(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	// Each line is held a second, so TERM comes while many are held.
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, `window = "1s"`), vip)

	// TERM once the first lines are written, so that the file holds those
	// and quill holds the lines of the last second.
	ld := startLoad("http://"+vip, 4, 500, 5*time.Millisecond, 15*time.Second, true)
	ld.waitOK(t, 100)
	eventually(t, 10*time.Second, func() bool { return countLines(t, logPath) > 0 })
	answered := ld.ok.Load()
	written := countLines(t, logPath)
	q.signal(syscall.SIGTERM)
	if err := q.wait(t, 20*time.Second); err != nil {
		t.Fatalf("quill exited with %v", err)
	}
	ld.wait()

	if written == 0 || int64(written) >= answered {
		t.Errorf("%d lines were written for %d answered requests before TERM; want some written and some held", written, answered)
	}
	lines := readAccessLog(t, logPath)
	t.Logf("before TERM: %d answers, %d lines in the file; in all: %d answered 200, %d other answers, %d without answer, %d lines",
		answered, written, len(ld.paths), len(ld.other), len(ld.failed), len(lines))
	logged := byPath(t, lines)
	for _, p := range ld.paths {
		if _, ok := logged[p]; !ok {
			t.Errorf("%s answered 200 but not logged", p)
		}
	}
	sent := len(ld.paths) + len(ld.other) + len(ld.failed)
	if len(lines) < len(ld.paths) || len(lines) > sent {
		t.Errorf("%d lines for %d requests sent, %d answered 200", len(lines), sent, len(ld.paths))
	}
}

// TestAccessLogTermRightAfterReloadLosesNoLine stops quill while a logger
// that a reload replaced still holds lines: TERM must flush it too.
func TestAccessLogTermRightAfterReloadLosesNoLine(t *testing.T) {
	web := startBackend(t, "web")
	vip := freeAddr(t)
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.log"), filepath.Join(dir, "after.log")
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(before, `window = "1s"`), vip)
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(prefix string, n int) {
		t.Helper()
		for i := range n {
			if code, _, err := get(client, fmt.Sprintf("http://%s/%s/%d", vip, prefix, i)); err != nil || code != 200 {
				t.Fatalf("request %s %d: %d %v", prefix, i, code, err)
			}
		}
	}
	send("before", 10)
	// A reload that moves the log elsewhere, then TERM while the old log
	// still holds the lines of its last second.
	q.rewrite(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(after, `window = "1s"`))
	q.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "config reloaded") })
	send("after", 5)
	termQuill(t, q)

	for _, tt := range []struct {
		file string
		want int
	}{{before, 10}, {after, 5}} {
		if got := len(readAccessLog(t, tt.file)); got != tt.want {
			t.Errorf("%s: %d lines, want %d", filepath.Base(tt.file), got, tt.want)
		}
	}
}

// TestLogrotateConfig checks configs/logrotate.quill with the real
// logrotate, where it is installed: it must parse without error, and a
// copy aimed at a temporary directory, signalling the quill of this test,
// must rotate the access log without losing a line.
func TestLogrotateConfig(t *testing.T) {
	if _, err := exec.LookPath("logrotate"); err != nil {
		t.Skip("logrotate is not installed")
	}
	shipped := filepath.Join("..", "configs", "logrotate.quill")
	state := filepath.Join(t.TempDir(), "state")
	out, err := exec.Command("logrotate", "-d", "-s", state, shipped).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("error:")) {
		t.Fatalf("logrotate -d %s: %v\n%s", shipped, err, out)
	}

	web := startBackend(t, "web")
	vip := freeAddr(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	q := startQuill(t, poolConfig(vip, "roundrobin", "", web)+accessLogTable(logPath, `window = "50ms"`), vip)
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for old, repl := range map[string]string{
		"/var/log/quill/*.log": filepath.Join(dir, "*.log"),
		"systemctl kill -s USR1 quill.service 2>/dev/null || pkill -USR1 -x quill || true": fmt.Sprintf("kill -USR1 %d", q.cmd.Process.Pid),
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("%s lacks %q", shipped, old)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	confPath := filepath.Join(t.TempDir(), "quill")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	sent := 0
	send := func(k int) {
		t.Helper()
		for range k {
			if code, _, err := get(client, fmt.Sprintf("http://%s/r/%d", vip, sent)); err != nil || code != 200 {
				t.Fatalf("request %d: %d %v", sent, code, err)
			}
			sent++
		}
		eventually(t, 5*time.Second, func() bool { return countLines(t, logPath) == k })
	}
	rotate := func(round int) {
		t.Helper()
		out, err := exec.Command("logrotate", "-f", "-s", state, confPath).CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("error:")) {
			t.Fatalf("logrotate -f: %v\n%s", err, out)
		}
		eventually(t, 5*time.Second, func() bool {
			return strings.Count(q.out.String(), "access logs reopened") == round
		})
	}
	send(5)
	rotate(1)
	send(4)
	rotate(2)
	send(3)
	termQuill(t, q)

	// delaycompress: the newest rotation stays plain, the one before is gzipped.
	var lines []logLine
	lines = append(lines, readGzipLog(t, logPath+".2.gz")...)
	lines = append(lines, readAccessLog(t, logPath+".1")...)
	lines = append(lines, readAccessLog(t, logPath)...)
	if len(lines) != sent {
		t.Errorf("%d lines across the rotated files for %d requests", len(lines), sent)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("/r/%d", i); l.path() != want {
			t.Errorf("line %d is %s, want %s", i+1, l.path(), want)
		}
	}
	if fi, err := os.Stat(logPath); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o640 {
		t.Errorf("new log file has mode %v, want 0640 from logrotate's create", fi.Mode().Perm())
	}
}

// readGzipLog parses a gzipped log file as readAccessLog does.
func readGzipLog(t *testing.T, path string) []logLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	plain := filepath.Join(t.TempDir(), filepath.Base(strings.TrimSuffix(path, ".gz")))
	if err := os.WriteFile(plain, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return readAccessLog(t, plain)
}
