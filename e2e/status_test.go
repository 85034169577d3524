package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromium runs headless Chromium with args and returns its stdout.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chromium", append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-proxy-server", "--user-data-dir=" + t.TempDir()}, args...)...)
	// Chromium starts helper processes; on a timeout the whole group it
	// leads is ended, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// statusJSON is the part of /status.json the tests read.
type statusJSON struct {
	Process struct {
		Version    string `json:"version"`
		ConfigFile string `json:"config_file"`
		ConfigHash string `json:"config_hash"`
		LastReload *struct {
			Applied bool   `json:"applied"`
			Error   string `json:"error"`
		} `json:"last_reload"`
	} `json:"process"`
	VIPs []struct {
		Name         string `json:"name"`
		Requests     uint64 `json:"requests"`
		Class2xx     uint64 `json:"2xx"`
		Certificates []struct {
			DaysLeft int `json:"days_left"`
		} `json:"certificates"`
		TLSHandshakes map[string]uint64 `json:"tls_handshakes"`
	} `json:"vips"`
	Servers []struct {
		Name, Address, State, Reason string
		Class2xx                     uint64 `json:"2xx"`
		Errors                       uint64 `json:"errors"`
		Retries                      uint64 `json:"retries"`
	} `json:"servers"`
}

// metricValue is the value of the one sample of /metrics that starts with
// series (name and labels as printed), or -1.
func metricValue(metrics, series string) float64 {
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// TestStatusPageChromium: with one backend killed and another drained,
// the status page as headless Chromium renders it shows each server's
// state and its reason; its numbers are those of /metrics after a known
// number of requests; a screenshot is saved in the test's directory
// (and, with QUILL_STATUS_SCREENSHOT=FILE, after 2.5 minutes of traffic for
// the charts, to FILE: how the README's picture is made).
func TestStatusPageChromium(t *testing.T) {
	requireTool(t, "chromium")
	web1, web2, web3 := startBackend(t, "web1"), startBackend(t, "web2"), startBackend(t, "web3")
	ca := newTestCA(t)
	pair := ca.pair(t, t.TempDir(), "www", leafSpec{cn: "www.example.test", notAfter: time.Now().Add(90 * 24 * time.Hour)})
	plain, secure, admin := freeAddr(t), freeAddr(t), freeAddr(t)
	q := startQuill(t, fmt.Sprintf(`[global]
shutdown_timeout = "5s"

[admin]
listen = %q
token = "e2e-token"

[vips.www]
listen = [%q]
  [[vips.www.routes]]
  pool = "app"

[vips.www-tls]
listen = [%q]
  [vips.www-tls.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.www-tls.routes]]
  pool = "app"

[pools.app]
balance = "roundrobin"
fail_timeout = "1h"
servers = [{ name = "web1", address = %q }, { name = "web2", address = %q }, { name = "web3", address = %q }]
`, admin, plain, secure, pair.cert, pair.key, web1.addr, web2.addr, web3.addr), plain, secure, admin)

	// 30 plain and 9 TLS requests, 13 to each server.
	codes := mustCurl(t, "-o", "/dev/null", "-w", "%{http_code}\n", "http://"+plain+"/page[1-30]")
	codes += mustCurl(t, append(trusting(ca.file, "www.example.test", secure),
		"-o", "/dev/null", "-w", "%{http_code}\n", "https://www.example.test:"+portOf(secure)+"/tls[1-9]")...)
	if n := strings.Count(codes, "200\n"); n != 39 {
		t.Fatalf("%d of 39 requests answered 200:\n%s", n, codes)
	}
	web3.kill()
	// Three more requests: the one that reaches web3 is refused and retried.
	mustCurl(t, "-o", "/dev/null", "http://"+plain+"/after[1-3]")
	drained := mustCurl(t, "-X", "POST", "-H", "Authorization: Bearer e2e-token", "http://"+admin+"/api/servers/app/web2?state=drain")
	if !strings.Contains(drained, `"state": "drain"`) {
		t.Fatalf("drain: %s", drained)
	}

	// A client may read its answer before quill has counted it.
	var rep statusJSON
	eventually(t, 5*time.Second, func() bool {
		rep = statusJSON{}
		if err := json.Unmarshal([]byte(mustCurl(t, "http://"+admin+"/status.json")), &rep); err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, v := range rep.VIPs {
			n += v.Requests
		}
		return n == 42
	})
	metrics := mustCurl(t, "http://"+admin+"/metrics")
	byName := map[string]int{}
	for i, s := range rep.Servers {
		byName[s.Name] = i
	}
	var answered uint64
	for _, name := range []string{"web1", "web2", "web3"} {
		s := rep.Servers[byName[name]]
		answered += s.Class2xx
		m := max(metricValue(metrics, fmt.Sprintf(`quill_requests_total{code="2xx",pool="app",server=%q,vip="www"}`, s.Address)), 0) +
			max(metricValue(metrics, fmt.Sprintf(`quill_requests_total{code="2xx",pool="app",server=%q,vip="www-tls"}`, s.Address)), 0)
		if float64(s.Class2xx) != m {
			t.Errorf("%s: %d 2xx on the page, %v in /metrics", name, s.Class2xx, m)
		}
		f := metricValue(metrics, fmt.Sprintf(`quill_server_failures_total{pool="app",server=%q}`, s.Address))
		if float64(s.Errors) != f {
			t.Errorf("%s: %d errors on the page, %v failures in /metrics", name, s.Errors, f)
		}
	}
	if answered != 42 {
		t.Errorf("the servers answered %d requests, want the 42 sent", answered)
	}
	if s := rep.Servers[byName["web3"]]; s.Class2xx != 13 || s.Errors != 1 || s.Retries != 1 {
		t.Errorf("web3: %d answered, %d errors and %d retries, want 13, 1 and 1", s.Class2xx, s.Errors, s.Retries)
	}
	for _, v := range rep.VIPs {
		want := map[string]uint64{"www": 33, "www-tls": 9}[v.Name]
		var m float64
		for _, b := range []*backend{web1, web2, web3} {
			m += max(metricValue(metrics, fmt.Sprintf(`quill_requests_total{code="2xx",pool="app",server=%q,vip=%q}`, b.addr, v.Name)), 0)
		}
		if v.Requests != want || float64(v.Class2xx) != m {
			t.Errorf("vip %s: %d requests and %d 2xx on the page, %v in /metrics, %d sent", v.Name, v.Requests, v.Class2xx, m, want)
		}
		if v.Name == "www-tls" && (len(v.Certificates) != 1 || v.Certificates[0].DaysLeft != 89 || v.TLSHandshakes == nil) {
			t.Errorf("vip www-tls: certificates %+v, handshakes %v; want one expiring in 89 days", v.Certificates, v.TLSHandshakes)
		}
	}
	if rep.Process.ConfigFile != q.config || len(rep.Process.ConfigHash) == 0 || !strings.HasPrefix(rep.Process.Version, "dev") {
		t.Errorf("process: %+v", rep.Process)
	}

	// A reload refused for a typo in the file: the page says so and why.
	good, err := os.ReadFile(q.config)
	if err != nil {
		t.Fatal(err)
	}
	q.rewrite(t, strings.Replace(string(good), `shutdown_timeout = "5s"`, `shutdown_timeout = "5s"`+"\nshutdown_timout = \"9s\"", 1))
	q.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, func() bool {
		var r statusJSON
		json.Unmarshal([]byte(mustCurl(t, "http://"+admin+"/status.json")), &r)
		return r.Process.LastReload != nil && !r.Process.LastReload.Applied
	})
	if path := os.Getenv("QUILL_STATUS_SCREENSHOT"); path != "" {
		chartTraffic(t, plain)
	}
	dom := string(chromium(t, "--dump-dom", "http://"+admin+"/status"))
	if !strings.Contains(dom, `<html lang="en" class="js">`) {
		t.Errorf("the page's script did not run:\n%s", dom)
	}
	if !regexp.MustCompile(`<td id="reload"><span class="bad">refused</span>: [^<]*quill.toml:3: [^<]*shutdown_timout`).MatchString(dom) {
		t.Errorf("the page does not show the refused reload:\n%s", dom)
	}
	for _, name := range []string{"www", "www-tls"} {
		if !regexp.MustCompile(`<tr class="vip open" data-vip="` + name + `">\s*<td class="l"><b>` + name + `</b></td><td class="l">https?://[0-9.:]+</td><td class="l st" data-state="open">open [0-9dhms]+</td>`).MatchString(dom) {
			t.Errorf("the DOM lacks VIP %s open", name)
		}
	}
	for name, want := range map[string]string{
		"web1": `up [0-9dhms]+`,
		"web2": `drain [0-9dhms]+ \(API\)`,
		"web3": `down [0-9dhms]+: connect refused`,
	} {
		state := strings.Fields(want)[0]
		row := regexp.MustCompile(`(?s)<tr class="server ` + state + `" data-pool="app" data-server="` + name + `">.*?</tr>`).FindString(dom)
		if row == "" {
			t.Errorf("no %s row for %s in the DOM:\n%s", state, name, dom)
			continue
		}
		if !regexp.MustCompile(`<td class="l st" data-state="` + state + `">` + want + `</td>`).MatchString(row) {
			t.Errorf("%s's row lacks %q:\n%s", name, want, row)
		}
	}
	shot := filepath.Join(t.TempDir(), "status.png")
	chromium(t, "--hide-scrollbars", "--window-size=1440,560", "--screenshot="+shot, "http://"+admin+"/status")
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: %v (%d bytes)", shot, err, len(png))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if path := os.Getenv("QUILL_STATUS_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// chartTraffic sends requests in bursts of varied size for a little over
// fifteen sample intervals, so that the charts have something to draw.
func chartTraffic(t *testing.T, vip string) {
	t.Helper()
	deadline := time.Now().Add(150 * time.Second)
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		n := 2 + i%7
		curl(t, "-o", "/dev/null", fmt.Sprintf("http://%s/load[1-%d]", vip, n))
		time.Sleep(150 * time.Millisecond)
	}
}

// devtools is a page of a headless Chromium driven through the DevTools
// protocol.
type devtools struct {
	ws   *websocket.Conn
	next int
}

// openDevtools starts headless Chromium on url and connects to its page.
func openDevtools(t *testing.T, url string) *devtools {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-proxy-server", "--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir="+t.TempDir(), url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	// "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
	listening := regexp.MustCompile(`DevTools listening on ws://([^/\s]+)/`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var hostPort string
	select {
	case hostPort = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not open its DevTools port")
	}
	var pageWS string
	eventually(t, 10*time.Second, func() bool {
		var targets []struct{ Type, URL, WebSocketDebuggerURL string }
		json.Unmarshal([]byte(mustCurl(t, "http://"+hostPort+"/json/list")), &targets)
		for _, tg := range targets {
			if tg.Type == "page" && tg.URL == url {
				pageWS = tg.WebSocketDebuggerURL
			}
		}
		return pageWS != ""
	})
	ws, err := websocket.Dial(pageWS, "", "http://"+hostPort)
	if err != nil {
		t.Fatalf("DevTools: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return &devtools{ws: ws}
}

// eval runs expression in the page, awaiting a promise, and returns its
// value as a string.
func (d *devtools) eval(t *testing.T, expression string) string {
	t.Helper()
	d.next++
	req := map[string]any{"id": d.next, "method": "Runtime.evaluate", "params": map[string]any{
		"expression": expression, "awaitPromise": true, "returnByValue": true}}
	if err := websocket.JSON.Send(d.ws, req); err != nil {
		t.Fatalf("DevTools: %v", err)
	}
	d.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var resp struct {
			ID     int `json:"id"`
			Result struct {
				Result struct {
					Value any `json:"value"`
				} `json:"result"`
				ExceptionDetails *struct {
					Text      string `json:"text"`
					Exception struct {
						Description string `json:"description"`
					} `json:"exception"`
				} `json:"exceptionDetails"`
			} `json:"result"`
		}
		if err := websocket.JSON.Receive(d.ws, &resp); err != nil {
			t.Fatalf("DevTools: %v", err)
		}
		if resp.ID != d.next {
			continue // an event
		}
		if e := resp.Result.ExceptionDetails; e != nil {
			t.Fatalf("%s: %s %s", expression, e.Text, e.Exception.Description)
		}
		return fmt.Sprint(resp.Result.Result.Value)
	}
}

// TestStatusButtonsChromium: the page's buttons, clicked in Chromium,
// call the runtime API with the token typed in the page, and the page
// then shows the server's new state; with a wrong token the API refuses
// and the page says so.
func TestStatusButtonsChromium(t *testing.T) {
	requireTool(t, "chromium")
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	vip, admin := freeAddr(t), freeAddr(t)
	startQuill(t, fmt.Sprintf("[admin]\nlisten = %q\ntoken = \"button-token\"\n%s", admin, poolConfig(vip, "roundrobin", "", web1, web2)), vip, admin)
	page := openDevtools(t, "http://"+admin+"/status")
	eventually(t, 20*time.Second, func() bool {
		return page.eval(t, `document.readyState === "complete" && document.documentElement.className`) == "js"
	})
	// click types token, clicks the button set in server's row, and waits
	// for the page's message and the refresh that shows the server in
	// state.
	click := func(token, server, set, state string) string {
		return page.eval(t, fmt.Sprintf(`new Promise(function (done) {
  var field = document.getElementById("token");
  field.value = %q;
  field.dispatchEvent(new Event("change"));
  var msg = document.getElementById("msg");
  msg.textContent = "";
  msg.className = "";
  document.querySelector('tr[data-server=%q] button[data-set=%q]').click();
  var tries = 0;
  (function wait() {
    var cell = document.querySelector('tr[data-server=%q] td[data-state]');
    if ((msg.textContent && cell.dataset.state === %q) || (msg.className === "bad") || ++tries > 100) {
      done(msg.textContent + " | " + cell.textContent);
      return;
    }
    setTimeout(wait, 100);
  })();
})`, token, server, set, server, state))
	}
	apiState := func(name string) string {
		var servers []struct{ Name, State string }
		json.Unmarshal([]byte(mustCurl(t, "http://"+admin+"/api/servers", "-H", "Authorization: Bearer button-token")), &servers)
		for _, s := range servers {
			if s.Name == name {
				return s.State
			}
		}
		return "missing"
	}

	if got := click("wrong", "web2", "maint", "maint"); !strings.HasPrefix(got, "refused: missing or wrong admin token") {
		t.Errorf("with a wrong token the page says %q", got)
	}
	if s := apiState("web2"); s != "up" {
		t.Errorf("web2 is %q after a refused click, want up", s)
	}
	steps := []struct{ server, set, state, want string }{
		{"web2", "drain", "drain", `^app/web2: drain \| drain \d+s \(API\)$`},
		{"web1", "maint", "maint", `^app/web1: maint \| maint \d+s \(API\)$`},
		{"web2", "ready", "up", `^app/web2: up \| up \d+s$`},
	}
	for _, s := range steps {
		got := click("button-token", s.server, s.set, s.state)
		if !regexp.MustCompile(s.want).MatchString(got) {
			t.Errorf("%s %s: the page says %q, want %s", s.set, s.server, got, s.want)
		}
		if a := apiState(s.server); a != s.state {
			t.Errorf("%s %s: the API says %q, want %q", s.set, s.server, a, s.state)
		}
	}
	if got := page.eval(t, `sessionStorage.getItem("quill-admin-token")`); got != "button-token" {
		t.Errorf("the token kept for the tab is %q", got)
	}
}
