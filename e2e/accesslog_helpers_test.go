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
)

// What the access log tests share: a parser of the log as its readers see
// it, a webalizer run, and a load of concurrent clients.

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
