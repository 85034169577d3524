package e2e

import (
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
