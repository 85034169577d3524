package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// reloadConfig is generation i of a config whose pool and routes change.
func reloadConfig(vip, admin string, i int, servers []*backend) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[admin]\nlisten = %q\n\n[vips.web]\nlisten = [%q]\n", admin, vip)
	if i%2 == 1 {
		b.WriteString("  [[vips.web.routes]]\n  path = \"/extra/\"\n  pool = \"app\"\n")
	}
	b.WriteString("  [[vips.web.routes]]\n  pool = \"app\"\n\n[pools.app]\n")
	// Each generation drops one server and keeps the others.
	for j, s := range servers {
		if j == i%len(servers) {
			continue
		}
		fmt.Fprintf(&b, "  [[pools.app.servers]]\n  address = %q\n", s.addr)
	}
	return b.String()
}

func TestReloadUnderLoadLosesNothing(t *testing.T) {
	servers := []*backend{startBackend(t, "web1"), startBackend(t, "web2"), startBackend(t, "web3")}
	vip, admin := freeAddr(t), freeAddr(t)
	q := startQuill(t, reloadConfig(vip, admin, 0, servers), vip, admin)

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			deadline := time.Now().Add(60 * time.Second)
			for n := 0; n < 20000 && time.Now().Before(deadline); n++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/"
				if n%3 == 0 {
					path = "/extra/x"
				}
				code, _, err := get(client, "http://"+vip+path)
				sent.Add(1)
				if err != nil || code != 200 {
					failed.Add(1)
					t.Logf("request failed: %d %v", code, err)
				}
			}
		}()
	}
	for i := 1; i <= 50; i++ {
		q.rewrite(t, reloadConfig(vip, admin, i, servers))
		if i%10 == 0 {
			// Every tenth through the CLI, which reports the result.
			out, err := exec.Command(quillBin, "reload", "-c", q.config).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "reload applied") {
				t.Errorf("quill reload: %v: %s", err, out)
			}
		} else {
			q.signal(syscall.SIGHUP)
		}
		time.Sleep(60 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if sent.Load() < 200 {
		t.Errorf("only %d requests were sent", sent.Load())
	}
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed across 50 reloads", failed.Load(), sent.Load())
	}
	t.Logf("%d requests across 50 reloads, %d failed", sent.Load(), failed.Load())
	if n := strings.Count(q.out.String(), "config reloaded"); n < 40 {
		t.Errorf("%d reloads logged as applied", n)
	}
}

func TestBrokenReloadChangesNothing(t *testing.T) {
	web := startBackend(t, "web1")
	vip, admin := freeAddr(t), freeAddr(t)
	good := fmt.Sprintf("[admin]\nlisten = %q\n[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = %q }]\n", admin, vip, web.addr)
	q := startQuill(t, good, vip, admin)
	q.rewrite(t, strings.Replace(good, `pool = "app"`, `pool = "gone"`, 1)+"bogus = 1\n")
	out, err := exec.Command(quillBin, "reload", "-c", q.config).CombinedOutput()
	if err == nil {
		t.Errorf("quill reload of a broken file exited 0: %s", out)
	}
	for _, want := range []string{`pool "gone" does not exist`, `unknown key "pools.app.bogus"`, "the running config stays"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("reload output lacks %q:\n%s", want, out)
		}
	}
	q.signal(syscall.SIGHUP)
	eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "reload refused") })
	if got := mustCurl(t, "http://"+vip+"/"); got != "web1\n" {
		t.Errorf("after refused reload: %q", got)
	}
}

func TestActiveHealthCheck(t *testing.T) {
	dir := t.TempDir()
	sick := filepath.Join(dir, "web2.sick")
	web1 := startBackend(t, "web1")
	web2 := startBackend(t, "web2", "-sick-file", sick)
	vip, admin := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf("[admin]\nlisten = %q\n%s  [pools.app.health]\n  path = \"/health\"\n  interval = \"200ms\"\n  rise = 2\n  fall = 3\n",
		admin, poolConfig(vip, "roundrobin", "", web1, web2))
	startQuill(t, cfg, vip, admin)
	state := func() string {
		out := mustCurl(t, "http://"+admin+"/api/servers")
		var servers []struct{ Name, State string }
		json.Unmarshal([]byte(out), &servers)
		for _, s := range servers {
			if s.Name == "web2" {
				return s.State
			}
		}
		return "missing"
	}
	os.WriteFile(sick, nil, 0o644)
	start := time.Now()
	eventually(t, 5*time.Second, func() bool { return state() == "down" })
	t.Logf("down after %s (fall 3 × interval 200ms)", time.Since(start).Round(10*time.Millisecond))
	for i := 0; i < 6; i++ {
		if got := mustCurl(t, "http://"+vip+"/"); got != "web1\n" {
			t.Fatalf("request went to %q while web2 is down", got)
		}
	}
	os.Remove(sick)
	start = time.Now()
	eventually(t, 5*time.Second, func() bool { return state() == "up" })
	t.Logf("up after %s (rise 2 × interval 200ms)", time.Since(start).Round(10*time.Millisecond))
}

func TestMetricsMatchRequests(t *testing.T) {
	web := startBackend(t, "web1")
	vip, admin := freeAddr(t), freeAddr(t)
	startQuill(t, fmt.Sprintf("[admin]\nlisten = %q\n%s", admin, poolConfig(vip, "roundrobin", "", web)), vip, admin)
	for i := 0; i < 7; i++ {
		mustCurl(t, "http://"+vip+"/")
	}
	mustCurl(t, "http://"+vip+"/bad")
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	count := func(name string, labels map[string]string) float64 {
		total := 0.0
		for _, m := range families[name].GetMetric() {
			match := true
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				match = match && found
			}
			if match {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		return total
	}
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"2xx requests", "quill_requests_total", map[string]string{"vip": "web", "pool": "app", "code": "2xx"}, 7},
		{"5xx requests", "quill_requests_total", map[string]string{"code": "5xx"}, 1},
		{"server up", "quill_server_up", map[string]string{"server": web.addr}, 1},
		{"config info", "quill_config_info", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	latency := map[string]uint64{}
	for _, m := range families["quill_request_duration_seconds"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "server" {
				latency[lp.GetValue()] += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if latency[web.addr] != 8 || len(latency) != 1 {
		t.Errorf("latency histogram counts %v requests by server, want 8, all for %s", latency, web.addr)
	}
}

func TestDrainKeepsStickyClients(t *testing.T) {
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	vip, admin := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf("[admin]\nlisten = %q\n%s  [pools.app.sticky]\n  mode = \"cookie\"\n  secret = \"s\"\n",
		admin, poolConfig(vip, "roundrobin", "", web1, web2))
	startQuill(t, cfg, vip, admin)
	jar, _ := cookiejar.New(nil)
	sticky := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	_, first, err := get(sticky, "http://"+vip+"/")
	if err != nil {
		t.Fatal(err)
	}
	pinned := strings.TrimSpace(first)
	out := mustCurl(t, "-X", "POST", "http://"+admin+"/api/servers/app/"+pinned+"?state=drain")
	if !strings.Contains(out, `"drain"`) {
		t.Fatalf("drain answered %s", out)
	}
	for i := 0; i < 10; i++ {
		if _, body, _ := get(sticky, "http://"+vip+"/"); strings.TrimSpace(body) != pinned {
			t.Errorf("sticky client moved to %q while %s drains", body, pinned)
		}
		if body := strings.TrimSpace(mustCurl(t, "http://"+vip+"/")); body == pinned {
			t.Errorf("new client sent to draining %s", pinned)
		}
	}
}

func TestImportPenPassesCheck(t *testing.T) {
	for _, line := range []string{
		"pen -r -H -x 500 -t 5 80 192.168.0.1:8180 192.168.0.2:8180",
		"pen -h -T 3600 -c 20000 -s -e 192.168.0.9:8180 -C 8888 80 192.168.0.1:8180 192.168.0.2:8180",
		"pen -W -b 30 127.0.0.1:8080 a.example:8180:0:0:3 b.example:8180:0:0:1",
	} {
		t.Run(line, func(t *testing.T) {
			out, err := exec.Command(quillBin, append([]string{"import-pen", "--"}, strings.Fields(line)...)...).Output()
			if err != nil {
				t.Fatalf("import-pen: %v", err)
			}
			path := filepath.Join(t.TempDir(), "quill.toml")
			os.WriteFile(path, out, 0o644)
			if res, err := exec.Command(quillBin, "check", "-c", path).CombinedOutput(); err != nil {
				t.Errorf("check refused the translation: %v\n%s\n%s", err, res, out)
			}
		})
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	web1, web2 := startBackend(t, "web1"), startBackend(t, "web2")
	vip := freeAddr(t)
	cfg := func(s *backend) string {
		return strings.Replace(poolConfig(vip, "roundrobin", "", s), "[global]\n", "[global]\nwatch = true\n", 1)
	}
	q := startQuill(t, cfg(web1), vip)
	if got := mustCurl(t, "http://"+vip+"/"); got != "web1\n" {
		t.Fatalf("before: %q", got)
	}
	// Replace the file the way editors and config managers do: a new file
	// renamed over the old one.
	tmp := q.config + ".new"
	os.WriteFile(tmp, []byte(cfg(web2)), 0o644)
	os.Rename(tmp, q.config)
	eventually(t, 10*time.Second, func() bool { return mustCurl(t, "http://"+vip+"/") == "web2\n" })
	// A broken edit is refused and changes nothing.
	os.WriteFile(q.config, []byte(cfg(web1)+"nonsense = [\n"), 0o644)
	eventually(t, 10*time.Second, func() bool { return strings.Contains(q.out.String(), "reload refused") })
	if got := mustCurl(t, "http://"+vip+"/"); got != "web2\n" {
		t.Errorf("after a broken edit: %q", got)
	}
}
