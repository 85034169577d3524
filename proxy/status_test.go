package proxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"quill/config"
)

// statusOf reads /status.json on the admin address.
func statusOf(t *testing.T, admin string) statusReport {
	t.Helper()
	code, body := getBody(t, "http://"+admin+"/status.json")
	if code != http.StatusOK {
		t.Fatalf("/status.json: %d %s", code, body)
	}
	var r statusReport
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/status.json: %v\n%s", err, body)
	}
	return r
}

// settledStatus reads /status.json once the VIPs have counted requests
// answers: a client may read its answer before quill has counted it.
func settledStatus(t *testing.T, admin string, requests uint64) statusReport {
	t.Helper()
	var r statusReport
	waitFor(t, 5*time.Second, fmt.Sprintf("%d requests counted", requests), func() bool {
		r = statusOf(t, admin)
		var n uint64
		for _, v := range r.VIPs {
			n += v.Requests
		}
		return n == requests
	})
	return r
}

func (r statusReport) server(t *testing.T, name string) serverStatus {
	t.Helper()
	for _, s := range r.Servers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no server %q in the status", name)
	return serverStatus{}
}

// promSample matches a sample line of the Prometheus text format.
var promSample = regexp.MustCompile(`^([a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$`)

// metricSum adds the samples of name whose labels include every one of
// want (`k="v"` strings).
func metricSum(t *testing.T, metrics, name string, want ...string) float64 {
	t.Helper()
	var sum float64
	for _, line := range strings.Split(metrics, "\n") {
		m := promSample.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		labels := strings.Split(m[2], ",")
		ok := true
		for _, w := range want {
			found := false
			for _, l := range labels {
				found = found || l == w
			}
			ok = ok && found
		}
		if ok {
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}

// TestStatusMatchesMetrics: after a known number of requests, each of
// them answered, refused or failed over, the numbers of /status.json are
// those of /metrics and those the test sent.
func TestStatusMatchesMetrics(t *testing.T) {
	web1, web2 := newTestBackend(t, "web1"), newTestBackend(t, "web2")
	dead := freeAddr(t)
	vip, admin := freeAddr(t), freeAddr(t)
	tp := startProxy(t, fmt.Sprintf(`[admin]
listen = %q
[vips.web]
listen = [%q]
  [[vips.web.routes]]
  path = "/app/"
  pool = "app"
[pools.app]
fail_timeout = "1h"
servers = [{ address = %q, name = "web1" }, { address = %q, name = "web2" }, { address = %q, name = "dead" }]
`, admin, vip, web1.addr(), web2.addr(), dead))
	const ok, notFound, posted = 9, 4, 3
	for i := 0; i < ok; i++ {
		if code, _ := getBody(t, "http://"+vip+"/app/x"); code != http.StatusOK {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	for i := 0; i < notFound; i++ {
		if code, _ := getBody(t, "http://"+vip+"/elsewhere"); code != http.StatusNotFound {
			t.Fatalf("unrouted request %d: %d", i, code)
		}
	}
	for i := 0; i < posted; i++ {
		if code, _ := send(t, http.MethodPost, "http://"+vip+"/app/post", "0123456789"); code != http.StatusOK {
			t.Fatalf("POST %d: %d", i, code)
		}
	}
	rep := settledStatus(t, admin, ok+notFound+posted)
	_, metrics := getBody(t, "http://"+admin+"/metrics")

	if len(rep.VIPs) != 1 {
		t.Fatalf("%d VIPs in the status, want 1", len(rep.VIPs))
	}
	v := rep.VIPs[0]
	total := uint64(ok + notFound + posted)
	if v.Requests != total || v.Class2xx != ok+posted || v.Class4xx != notFound {
		t.Errorf("VIP: %d requests, %d 2xx, %d 4xx; sent %d, %d, %d", v.Requests, v.Class2xx, v.Class4xx, total, ok+posted, notFound)
	}
	if m := metricSum(t, metrics, "quill_requests_total", `vip="web"`); float64(v.Requests) != m {
		t.Errorf("VIP: %d requests in the status, %v in /metrics", v.Requests, m)
	}
	for _, class := range []string{"2xx", "4xx"} {
		got := map[string]uint64{"2xx": v.Class2xx, "4xx": v.Class4xx}[class]
		if m := metricSum(t, metrics, "quill_requests_total", `vip="web"`, `code="`+class+`"`); float64(got) != m {
			t.Errorf("VIP: %d %s in the status, %v in /metrics", got, class, m)
		}
	}
	if v.BytesIn != 10*posted {
		t.Errorf("VIP: %d bytes in, want %d (the POST bodies)", v.BytesIn, 10*posted)
	}
	if want := uint64(len("web1\n") * (ok + posted)); v.BytesOut < want {
		t.Errorf("VIP: %d bytes out, want at least %d", v.BytesOut, want)
	}
	if v.State != "open" || !regexp.MustCompile(`^open \d+s$`).MatchString(v.Text) {
		t.Errorf("VIP: state %q %q, want open Ns", v.State, v.Text)
	}
	if v.ConnsTotal < total || v.P50 <= 0 || v.P99 < v.P50 {
		t.Errorf("VIP: %d connections accepted, p50 %v, p99 %v", v.ConnsTotal, v.P50, v.P99)
	}

	var answered, retried uint64
	for _, s := range rep.Servers {
		addr := map[string]string{"web1": web1.addr(), "web2": web2.addr(), "dead": dead}[s.Name]
		labels := []string{`pool="app"`, `server="` + addr + `"`}
		if m := metricSum(t, metrics, "quill_requests_total", append(labels, `code="2xx"`)...); float64(s.Class2xx) != m {
			t.Errorf("%s: %d 2xx in the status, %v in /metrics", s.Name, s.Class2xx, m)
		}
		if m := metricSum(t, metrics, "quill_server_failures_total", labels...); float64(s.Errors) != m {
			t.Errorf("%s: %d errors in the status, %v failures in /metrics", s.Name, s.Errors, m)
		}
		if m := metricSum(t, metrics, "quill_server_state", append(labels, `state="`+s.State+`"`)...); m != 1 {
			t.Errorf("%s: state %q in the status, not in /metrics", s.Name, s.State)
		}
		answered += s.Requests
		retried += s.Retries
	}
	if answered != ok+posted {
		t.Errorf("the servers answered %d requests, want %d", answered, ok+posted)
	}
	d := rep.server(t, "dead")
	if d.Errors != 1 || d.Retries != 1 || d.Requests != 0 || d.Total != 1 {
		t.Errorf("dead: %d errors, %d retries, %d answered, %d sent; want 1, 1, 0, 1", d.Errors, d.Retries, d.Requests, d.Total)
	}
	if m := metricSum(t, metrics, "quill_retries_total", `pool="app"`); float64(retried) != m {
		t.Errorf("%d retries in the status, %v in /metrics", retried, m)
	}
	if d.State != "down" || d.Reason != "connect refused" || !strings.HasPrefix(d.Text, "down ") {
		t.Errorf("dead: state %q, reason %q, text %q; want down, connect refused", d.State, d.Reason, d.Text)
	}

	// The counters survive a reload, as the Prometheus series do.
	src, err := os.ReadFile(tp.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.reload(t, string(src), nil); err != nil {
		t.Fatal(err)
	}
	after := statusOf(t, admin)
	if a := after.VIPs[0]; a.Requests != v.Requests || a.Class2xx != v.Class2xx {
		t.Errorf("after a reload the VIP shows %d requests, %d 2xx; before %d, %d", a.Requests, a.Class2xx, v.Requests, v.Class2xx)
	}
	for _, s := range rep.Servers {
		if a := after.server(t, s.Name); a.Requests != s.Requests || a.Errors != s.Errors || a.State != s.State {
			t.Errorf("after a reload %s shows %d requests, %d errors, %s; before %d, %d, %s", s.Name, a.Requests, a.Errors, a.State, s.Requests, s.Errors, s.State)
		}
	}
	if r := after.Process.LastReload; r == nil || !r.Applied {
		t.Errorf("last reload %+v, want applied", r)
	}
}

// TestRetryingIsNotUp: a server that refused a connect is down for the
// fail timeout, then retrying (never up) until it answers again.
func TestRetryingIsNotUp(t *testing.T) {
	web1 := newTestBackend(t, "web1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := ln.Addr().String()
	ln.Close()
	vip, admin := freeAddr(t), freeAddr(t)
	startProxy(t, fmt.Sprintf(`[admin]
listen = %q
[vips.web]
listen = [%q]
  [[vips.web.routes]]
  pool = "app"
[pools.app]
fail_timeout = "300ms"
servers = [{ address = %q, name = "flaky" }, { address = %q, name = "web1" }]
`, admin, vip, flaky, web1.addr()))
	if s := statusOf(t, admin).server(t, "flaky"); s.State != "up" {
		t.Fatalf("before any request: %q, want up", s.State)
	}
	if code, _ := getBody(t, "http://"+vip+"/"); code != http.StatusOK {
		t.Fatalf("request: %d", code)
	}
	if s := statusOf(t, admin).server(t, "flaky"); s.State != "down" || s.Reason != "connect refused" {
		t.Fatalf("after a refused connect: %q (%q), want down (connect refused)", s.State, s.Reason)
	}
	time.Sleep(400 * time.Millisecond)
	s := statusOf(t, admin).server(t, "flaky")
	if s.State != "retrying" || !regexp.MustCompile(`^retrying: failed \d+s ago, connect refused$`).MatchString(s.Text) {
		t.Fatalf("after the fail timeout: %q %q, want retrying: failed Ns ago", s.State, s.Text)
	}
	if a := apiServers(t, admin)["flaky"]; a.State != "retrying" {
		t.Errorf("/api/servers says %q, want retrying", a.State)
	}

	// The server comes back: the next request that reaches it is answered.
	back, err := net.Listen("tcp", flaky)
	if err != nil {
		t.Skipf("the port of the server was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "flaky") })}
	go srv.Serve(back)
	t.Cleanup(func() { srv.Close() })
	for i := 0; i < 4 && statusOf(t, admin).server(t, "flaky").State != "up"; i++ {
		getBody(t, "http://"+vip+"/")
	}
	if s := statusOf(t, admin).server(t, "flaky"); s.State != "up" {
		t.Errorf("after it answered: %q, want up", s.State)
	}
}

// TestIdleProxyHoldsNoConnections: the connections shown are those of
// clients, not the listeners' waiting Accept calls.
func TestIdleProxyHoldsNoConnections(t *testing.T) {
	web := newTestBackend(t, "web1")
	vip1, vip2, admin := freeAddr(t), freeAddr(t), freeAddr(t)
	startProxy(t, fmt.Sprintf(`[admin]
listen = %q
[vips.one]
listen = [%q]
  [[vips.one.routes]]
  pool = "app"
[vips.two]
listen = [%q]
  [[vips.two.routes]]
  pool = "app"
[pools.app]
servers = [{ address = %q }]
`, admin, vip1, vip2, web.addr()))
	// Both listeners are waiting in Accept once they answer.
	getBody(t, "http://"+vip1+"/")
	getBody(t, "http://"+vip2+"/")
	waitFor(t, 5*time.Second, "no client connection held", func() bool {
		return statusOf(t, admin).Process.Connections == 0
	})
	c, err := net.Dial("tcp", vip1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	rep := statusOf(t, admin)
	if rep.Process.Connections != 1 {
		t.Errorf("%d client connections with one open, want 1", rep.Process.Connections)
	}
	for _, v := range rep.VIPs {
		if want := map[string]int64{"one": 1, "two": 0}[v.Name]; v.ConnsActive != want {
			t.Errorf("vip %s: %d connections open, want %d", v.Name, v.ConnsActive, want)
		}
	}
	_, metrics := getBody(t, "http://"+admin+"/metrics")
	if !strings.Contains(metrics, "\nquill_client_connections 1\n") {
		t.Errorf("/metrics lacks quill_client_connections 1")
	}
}

// TestStatusPageWithoutJavaScript: the served HTML holds the whole table
// (state, reason, counters of every server, named as configured) before
// any script runs, and reloads itself; each row has its buttons, the API
// call they make works with the token and only with it, and the page
// never holds the token.
func TestStatusPageWithoutJavaScript(t *testing.T) {
	web1, web2 := newTestBackend(t, "web1"), newTestBackend(t, "web2")
	vip, admin := freeAddr(t), freeAddr(t)
	startProxy(t, fmt.Sprintf(`[admin]
listen = %q
token = "s3cret"
[vips.web]
listen = [%q]
  [[vips.web.routes]]
  pool = "app"
[pools.app]
servers = [{ address = %q, name = "alpha" }, { address = %q, name = "beta" }]
`, admin, vip, web1.addr(), web2.addr()))
	for i := 0; i < 4; i++ {
		getBody(t, "http://"+vip+"/")
	}
	settledStatus(t, admin, 4)
	setState := func(token, server, state string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/api/servers/app/"+server+"?state="+state, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := setState("", "beta", "maint"); code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d, want 401", code)
	}
	if code := setState("s3cret", "beta", "maint"); code != http.StatusOK {
		t.Fatalf("with the token: %d, want 200", code)
	}

	code, page := getBody(t, "http://"+admin+"/status")
	if code != http.StatusOK {
		t.Fatalf("/status: %d", code)
	}
	script := regexp.MustCompile(`(?s)<script>.*</script>`)
	html := script.ReplaceAllString(page, "")
	rows := regexp.MustCompile(`(?s)<tr class="server (\w+)" data-pool="app" data-server="(\w+)">(.*?)</tr>`).FindAllStringSubmatch(html, -1)
	if len(rows) != 2 {
		t.Fatalf("%d server rows in the HTML, want 2:\n%s", len(rows), html)
	}
	for _, r := range rows {
		class, name, cells := r[1], r[2], r[3]
		want := map[string]string{"alpha": "up", "beta": "maint"}[name]
		if class != want || !strings.Contains(cells, `data-state="`+want+`"`) {
			t.Errorf("row %s: class %q, want %q:\n%s", name, class, want, cells)
		}
		if want == "maint" && !regexp.MustCompile(`>maint \d+s \(API\)<`).MatchString(cells) {
			t.Errorf("row %s lacks \"maint Ns (API)\":\n%s", name, cells)
		}
		if !strings.Contains(cells, "<td>2</td>") {
			t.Errorf("row %s lacks its 2 answered requests:\n%s", name, cells)
		}
		for _, state := range []string{"drain", "maint", "ready"} {
			if !strings.Contains(cells, `<button type="button" data-set="`+state+`">`) {
				t.Errorf("row %s lacks the %s button", name, state)
			}
		}
	}
	for _, want := range []string{`<table id="vips">`, `<td id="version">`, `<noscript><meta http-equiv="refresh" content="10"></noscript>`, "<svg class=\"chart\""} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	// What the buttons do is clicked through in Chromium by the e2e test
	// TestStatusButtonsChromium.
	if js := script.FindString(page); !strings.Contains(js, "setInterval(refresh, 5000)") {
		t.Errorf("the script does not refresh the page every 5 seconds:\n%s", js)
	}
	if strings.Contains(page, "s3cret") {
		t.Error("the page shows the admin token")
	}
	for _, path := range []string{"/status.csv", "/status;csv"} {
		code, csvText := getBody(t, "http://"+admin+path)
		if code != http.StatusOK || !strings.HasPrefix(csvText, strings.Join(csvHeader, ",")+"\n") ||
			!strings.Contains(csvText, "\nserver,app,beta,"+web2.addr()+",maint,API,") {
			t.Errorf("%s: %d\n%s", path, code, csvText)
		}
	}
}

// TestStatusStickyClients: with ip stickiness the page counts the clients
// the table pins to each server, and the requests that came pinned.
func TestStatusStickyClients(t *testing.T) {
	web1, web2 := newTestBackend(t, "web1"), newTestBackend(t, "web2")
	vip, admin := freeAddr(t), freeAddr(t)
	startProxy(t, fmt.Sprintf(`[admin]
listen = %q
[vips.web]
listen = [%q]
  [[vips.web.routes]]
  pool = "app"
[pools.app]
servers = [{ address = %q, name = "web1" }, { address = %q, name = "web2" }]
  [pools.app.sticky]
  mode = "ip"
`, admin, vip, web1.addr(), web2.addr()))
	const requests = 3
	for i := 0; i < requests; i++ {
		getBody(t, "http://"+vip+"/")
	}
	rep := settledStatus(t, admin, requests)
	var clients, pinned, answered int
	for _, s := range rep.Servers {
		if s.StickyMode != "ip" {
			t.Errorf("%s: sticky mode %q, want ip", s.Name, s.StickyMode)
		}
		clients += s.StickyClients
		pinned += int(s.Pinned)
		if s.Requests > 0 {
			answered++
			if s.StickyClients != 1 || s.Pinned != requests-1 {
				t.Errorf("%s: %d sticky clients and %d pinned requests, want 1 and %d", s.Name, s.StickyClients, s.Pinned, requests-1)
			}
		}
	}
	if clients != 1 || pinned != requests-1 || answered != 1 {
		t.Errorf("%d clients, %d pinned requests over %d servers; want 1, %d, 1", clients, pinned, answered, requests-1)
	}
}

func TestConnectReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connect refused"},
		{"timeout", fmt.Errorf("connect: %w", os.ErrDeadlineExceeded), "connect timeout"},
		{"unreachable", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, "no route to host"},
		{"other", errors.New("too many open files"), "connect failed: too many open files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connectReason(tt.err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestServerStates: the state a server shows after each sequence of
// events, and its phrase.
func TestServerStates(t *testing.T) {
	refused := os.NewSyscallError("connect", syscall.ECONNREFUSED)
	const sec = int64(time.Second)
	tests := []struct {
		name     string
		events   func(s *server)
		at       int64
		want     string
		wantText string
	}{
		{"fresh", func(*server) {}, 5 * sec, "up", "up 5s"},
		{"down for the fail timeout", func(s *server) { s.markDown(10*sec, 10*time.Second, refused) }, 12 * sec, "down", "down 2s: connect refused"},
		{"retrying after it", func(s *server) { s.markDown(10*sec, 10*time.Second, refused) }, 25 * sec, "retrying", "retrying: failed 15s ago, connect refused"},
		{"up after an answer", func(s *server) { s.markDown(10*sec, 10*time.Second, refused); s.answered(22 * sec) }, 25 * sec, "up", "up 3s"},
		{"up after a passing check", func(s *server) {
			s.markDown(10*sec, 10*time.Second, refused)
			s.noteCheck(21*sec, true, "", time.Millisecond)
		}, 25 * sec, "up", "up 4s"},
		{"a failed check does not end retrying", func(s *server) {
			s.markDown(10*sec, 10*time.Second, refused)
			s.noteCheck(21*sec, false, "status 503", time.Millisecond)
		}, 25 * sec, "retrying", "retrying: failed 15s ago, connect refused"},
		{"down by the active check", func(s *server) {
			s.noteCheck(20*sec, false, "status 503, want 200-399", time.Millisecond)
			s.track.checkAt.Store(20 * sec)
			s.checkDown.Store(true)
		}, 23 * sec, "down", "down 3s: check failed: status 503, want 200-399"},
		{"maint through the API", func(s *server) { s.mode.Store(modeMaint); s.track.modeAt.Store(3 * sec) }, 70 * sec, "maint", "maint 1m7s (API)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(config.Server{Address: "127.0.0.1:1", Weight: 1})
			s.track.born = 0
			tt.events(s)
			v := s.stateView(tt.at)
			if v.State != tt.want || v.Text != tt.wantText {
				t.Errorf("state %q %q, want %q %q", v.State, v.Text, tt.want, tt.wantText)
			}
			if got := s.state(tt.at); got != tt.want {
				t.Errorf("state() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStatusCheckReason: a server the active check took down shows the
// check's reason, and the last check's result and latency.
func TestStatusCheckReason(t *testing.T) {
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(sick.Close)
	web := newTestBackend(t, "web")
	vip, admin := freeAddr(t), freeAddr(t)
	startProxy(t, fmt.Sprintf(`[admin]
listen = %q
[vips.web]
listen = [%q]
  [[vips.web.routes]]
  pool = "app"
[pools.app]
servers = [{ address = %q, name = "sick" }, { address = %q, name = "web" }]
  [pools.app.health]
  interval = "50ms"
  fall = 1
`, admin, vip, sick.Listener.Addr().String(), web.addr()))
	waitFor(t, 5*time.Second, "sick down", func() bool { return statusOf(t, admin).server(t, "sick").State == "down" })
	s := statusOf(t, admin).server(t, "sick")
	if !regexp.MustCompile(`^down \d+s: check failed: status 503, want `).MatchString(s.Text) {
		t.Errorf("sick: %q, want down Ns: check failed: status 503", s.Text)
	}
	if s.LastCheck == nil || !strings.HasPrefix(s.LastCheck.Result, "failed: status 503") || s.LastCheck.LatencyMS <= 0 {
		t.Errorf("sick: last check %+v", s.LastCheck)
	}
	if w := statusOf(t, admin).server(t, "web"); w.LastCheck == nil || w.LastCheck.Result != "ok" || w.State != "up" {
		t.Errorf("web: %q, last check %+v", w.State, w.LastCheck)
	}
}

// TestStatusPageMarks: what the page marks red, rendered from a report.
func TestStatusPageMarks(t *testing.T) {
	cert := func(days int) []certView { return []certView{{Names: []string{"a.test"}, DaysLeft: days}} }
	tests := []struct {
		name    string
		vip     vipStatus
		want    string
		wantNot string
	}{
		{"a certificate of 13 days is red", vipStatus{Name: "v", Certificates: cert(13)}, `<div class="bad" title="until ">a.test: 13 days</div>`, ""},
		{"one of 14 days is not", vipStatus{Name: "v", Certificates: cert(14)}, `<div title="until ">a.test: 14 days</div>`, ""},
		{"5xx answers are red", vipStatus{Name: "v", trafficView: trafficView{Class5xx: 2}}, `<td class="bad">2</td>`, ""},
		{"handshakes that did not happen are left out", vipStatus{Name: "v", TLSHandshakes: map[string]uint64{"1.2/ok": 0, "1.3/ok": 4}}, `<td class="l">1.3/ok 4</td>`, "1.2/ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := statusPage.Execute(&b, &statusReport{VIPs: []vipStatus{tt.vip}}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("the page lacks %q:\n%s", tt.want, b.String())
			}
			if tt.wantNot != "" && strings.Contains(b.String(), tt.wantNot) {
				t.Errorf("the page has %q", tt.wantNot)
			}
		})
	}
}
