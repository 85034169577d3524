package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

const hostField = "Host: hostile.test\r\n"

func dial(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// An answer is what a client read of one response.
type answer struct {
	status   int   // 0: no response head
	body     int64 // body bytes read
	length   int64 // the Content-Length announced, -1 when none
	complete bool  // the body was read to the end of its framing
	close    bool  // the response closes the connection (Connection: close)
	end      string
	at       time.Duration // since the request was sent, when the reading ended
}

// readAnswer reads one response from br until deadline. end says how the
// reading ended: "complete", "closed" (no response at all), "short" (the
// connection closed inside the body), "reset", "timeout".
func readAnswer(c net.Conn, br *bufio.Reader, sent time.Time, deadline time.Time) answer {
	a := answer{length: -1}
	c.SetReadDeadline(deadline)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		a.end = classify(err)
		if a.end == "eof" || a.end == "short" {
			a.end = "closed"
		}
		a.at = time.Since(sent)
		return a
	}
	a.status = resp.StatusCode
	a.length = resp.ContentLength
	a.close = resp.Close
	a.body, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	a.at = time.Since(sent)
	if err == nil {
		a.complete = true
		a.end = "complete"
	} else {
		a.end = classify(err)
	}
	return a
}

// classify names a read or write error.
func classify(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "short"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EPIPE):
		return "pipe"
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

func (a answer) record(r *result) {
	status := "none"
	if a.status != 0 {
		status = fmt.Sprint(a.status)
	}
	r.set("status", status)
	r.set("end", a.end)
	if a.status != 0 {
		r.set("body", a.body)
	}
	r.set("after", a.at)
}

// backendSaw records what the backend's handlers saw of probe p: how many
// requests, and of the last one its listener, target, how long it was held
// and whether it ended.
func backendSaw(cfg *config, r *result, p string) error {
	entries, err := cfg.ctl.logOf(p)
	if err != nil {
		return err
	}
	r.set("backend_requests", len(entries))
	if len(entries) == 0 {
		return nil
	}
	e := entries[len(entries)-1]
	r.set("backend", e["listener"])
	r.set("seen", e["target"])
	r.set("fields_seen", e["fields"])
	r.set("backend_body", e["body"])
	r.set("backend_held", e["held"])
	r.set("backend_done", e["done"])
	return nil
}

func bodyTimeout(cfg *config) ([]*result, error) {
	wait := cfg.wait
	if wait == 0 {
		wait = 130 * time.Second
	}
	r := newResult("body-timeout", cfg)
	c, err := dial(cfg.target)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sent := time.Now()
	if _, err := io.WriteString(c, "POST /body-timeout HTTP/1.1\r\n"+hostField+
		"X-Probe: body-timeout\r\nContent-Length: 100\r\n\r\n"); err != nil {
		return nil, fmt.Errorf("writing the head: %w", err)
	}
	a := readAnswer(c, bufio.NewReader(c), sent, sent.Add(wait))
	a.record(r)
	// The backend's side, read while the client still holds its socket:
	// whether the proxy let go of the backend request.
	time.Sleep(200 * time.Millisecond)
	return []*result{r}, backendSaw(cfg, r, "body-timeout")
}

// tcpState is the state of one socket in /proc/net/tcp.
type tcpState struct {
	found bool
	state string
	inode string // "0" once no process holds the socket
}

var tcpStates = map[string]string{
	"01": "established", "02": "syn_sent", "03": "syn_recv", "04": "fin_wait1",
	"05": "fin_wait2", "06": "time_wait", "07": "close", "08": "close_wait",
	"09": "last_ack", "0A": "listen", "0B": "closing",
}

// tcpTable reads /proc/net/tcp and tcp6: each socket's state keyed by its
// local and remote ports.
func tcpTable() (map[[2]int]tcpState, error) {
	table := make(map[[2]int]tcpState)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 {
				continue
			}
			st := tcpState{found: true, state: tcpStates[fs[3]], inode: fs[9]}
			if st.state == "" {
				st.state = fs[3]
			}
			table[[2]int{hexPort(fs[1]), hexPort(fs[2])}] = st
		}
	}
	return table, nil
}

// proxySide finds the proxy's end of the loopback connection c in table:
// the socket whose local port is c's remote one and the other way round.
func proxySide(table map[[2]int]tcpState, c net.Conn) tcpState {
	local := c.LocalAddr().(*net.TCPAddr)
	remote := c.RemoteAddr().(*net.TCPAddr)
	return table[[2]int{remote.Port, local.Port}]
}

// held says whether the proxy still holds its end of a connection.
func (st tcpState) held() bool {
	return st.found && st.state == "established" && st.inode != "0"
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	var p int
	if _, err := fmt.Sscanf(addr[i+1:], "%X", &p); err != nil {
		return -1
	}
	return p
}

// sendTimeout pipelines 20 GETs of 1 MiB and reads nothing, watching the
// proxy's end of the connection (loopback: /proc/net/tcp) for the moment it
// lets go: its socket gone, out of ESTABLISHED, or held by no process.
func sendTimeout(cfg *config) ([]*result, error) {
	wait := cfg.wait
	if wait == 0 {
		wait = 200 * time.Second
	}
	r := newResult("send-timeout", cfg)
	c, err := dial(cfg.target)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var req strings.Builder
	for range 20 {
		req.WriteString("GET /1m/send-timeout HTTP/1.1\r\n" + hostField + "X-Probe: send-timeout\r\n\r\n")
	}
	sent := time.Now()
	if _, err := io.WriteString(c, req.String()); err != nil {
		return nil, fmt.Errorf("writing the requests: %w", err)
	}
	accepted := false
	for {
		table, err := tcpTable()
		if err != nil {
			return nil, err
		}
		st := proxySide(table, c)
		// Until the proxy accepts it, its end has no inode either.
		accepted = accepted || st.held()
		if accepted && !st.held() || !st.found {
			how := "gone"
			if st.found {
				how = st.state
				if st.inode == "0" {
					how += ",orphaned"
				}
			}
			r.set("closed", "yes")
			r.set("after", time.Since(sent))
			r.set("proxy_socket", how)
			break
		}
		if time.Since(sent) >= wait {
			r.set("closed", "no")
			r.set("after", time.Since(sent))
			r.set("proxy_socket", st.state)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	n, err := cfg.ctl.probe("send-timeout")
	if err != nil {
		return nil, err
	}
	r.set("backend_requests", n["requests"])
	return []*result{r}, nil
}

// exchange sends raw on a new connection and reads one answer (within
// wait), then what the backend saw of probe p.
func exchange(cfg *config, r *result, raw, p string, wait time.Duration) error {
	c, err := dial(cfg.target)
	if err != nil {
		return err
	}
	defer c.Close()
	sent := time.Now()
	c.SetWriteDeadline(sent.Add(wait))
	if _, err := io.WriteString(c, raw); err != nil {
		r.set("write", classify(err))
	}
	a := readAnswer(c, bufio.NewReader(c), sent, sent.Add(wait))
	a.record(r)
	time.Sleep(200 * time.Millisecond)
	return backendSaw(cfg, r, p)
}

func badChunk(cfg *config) ([]*result, error) {
	cases := []struct{ name, body string }{
		// 2^64, one digit past what 64 bits hold: a parser that wraps
		// reads a chunk of size 0, the end of the body.
		{"17-hex-digits", "5\r\nhello\r\n10000000000000000\r\nhello\r\n0\r\n\r\n"},
		{"bare-lf", "5\r\nhello\r\n5\nworld\r\n0\r\n\r\n"},
	}
	var out []*result
	for _, tc := range cases {
		p := "bad-chunk-" + tc.name
		r := newResult("bad-chunk", cfg)
		r.set("case", tc.name)
		raw := "POST /bad-chunk HTTP/1.1\r\n" + hostField + "X-Probe: " + p + "\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n" + tc.body
		if err := exchange(cfg, r, raw, p, 10*time.Second); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func manyFields(cfg *config) ([]*result, error) {
	r := newResult("many-fields", cfg)
	var sb strings.Builder
	sb.WriteString("GET /many-fields HTTP/1.1\r\n" + hostField + "X-Probe: many-fields\r\n")
	for range 10000 {
		sb.WriteString("a: b\r\n")
	}
	sb.WriteString("\r\n")
	return []*result{r}, exchange(cfg, r, sb.String(), "many-fields", 10*time.Second)
}

// pathTargets are sent as is; the proxy has a /static/ route to the
// backend's "static" listener and a catch-all to "app".
var pathTargets = []string{
	"/static/../app",
	"/static/%2e%2e/app",
	"/app/../static/x",
	"/./static/x",
	"//static/x",
	"/%2e%2e/",
	"/a%00b",
	"/static/x#frag",
}

func paths(cfg *config) ([]*result, error) {
	var out []*result
	for i, target := range pathTargets {
		p := fmt.Sprintf("paths-%d", i)
		r := newResult("paths", cfg)
		r.set("case", target)
		raw := "GET " + target + " HTTP/1.1\r\n" + hostField + "X-Probe: " + p + "\r\nConnection: close\r\n\r\n"
		if err := exchange(cfg, r, raw, p, 5*time.Second); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func backendDies(cfg *config) ([]*result, error) {
	r := newResult("backend-dies", cfg)
	raw := "GET /die HTTP/1.1\r\n" + hostField + "X-Probe: backend-dies\r\n\r\n"
	if err := exchange(cfg, r, raw, "backend-dies", 10*time.Second); err != nil {
		return nil, err
	}
	if cfg.accessLog != "" {
		// Access logs may hold a line a moment (quill: its window).
		time.Sleep(2 * time.Second)
		line, err := lastLineWith(cfg.accessLog, "/die")
		if err != nil {
			return nil, err
		}
		r.set("log", line)
	}
	return []*result{r}, nil
}

// lastLineWith returns the last line of file that contains s.
func lastLineWith(file, s string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("access log: %w", err)
	}
	last := ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, s) {
			last = line
		}
	}
	return last, nil
}

// oversizedHead sends a head that grows past 64 KiB, 1000-byte fields up
// to 2 MiB, as a client that writes its whole request before it reads
// (curl does), and then reads: whether the refusal survived the close.
func oversizedHead(cfg *config) ([]*result, error) {
	r := newResult("oversized-head", cfg)
	c, err := dial(cfg.target)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sent := time.Now()
	c.SetWriteDeadline(sent.Add(10 * time.Second))
	n, werr := io.WriteString(c, "GET /oversized HTTP/1.1\r\n"+hostField+"X-Probe: oversized-head\r\n")
	pad := strings.Repeat("p", 1000)
	for i := 0; werr == nil && n < 2<<20; i++ {
		var m int
		m, werr = fmt.Fprintf(c, "X-Pad-%05d: %s\r\n", i, pad)
		n += m
	}
	r.set("sent", n)
	r.set("write", classify(werr))
	a := readAnswer(c, bufio.NewReader(c), sent, time.Now().Add(5*time.Second))
	a.record(r)
	return []*result{r}, nil
}
