package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Active-active in a lab: three load balancers lb1..lb3 run `quill run`
// and `quill vrrp` from configs/active-active/three/ (the lab's addresses
// put in), in front of two web servers; lbN is master of VIP N. A client
// spread over the three VIPs is answered by all three hosts; cookie- and
// ip-sticky clients keep their server through every VIP. lb1 dies (its
// link down, its processes killed): a survivor takes VIP 1 within the
// master-down interval, the other VIPs lose nothing, and the sticky
// clients still keep their servers. Meanwhile each VIP gets 20 requests a
// second, and the test prints what failed (`-short` runs 8 s instead of
// 20 s, lb1 dying after 3 s instead of 5 s).
func TestActiveActiveThreeHosts(t *testing.T) {
	const adv = 100 * time.Millisecond
	aa := newActiveActiveLab(t, "three")
	lbs, client, vips, logs := aa.lbs, aa.client, aa.vips, aa.logs
	proxies, sidecars, watch := aa.proxies, aa.sidecars, aa.watch

	// One browser for www.example.com, whose DNS answer lists the three
	// VIPs: a request goes to the VIP chosen, and the cookie jar keeps the
	// cookie for the name, whichever address answered.
	jar, _ := cookiejar.New(nil)
	browser := func(vip string) *http.Client { return dialingVIP(client, vip, "", jar) }

	// Spread: five requests through each VIP, each found in the access
	// log of the host that is its VIP's master.
	for j, v := range vips {
		for n := range 5 {
			path := fmt.Sprintf("/spread/vip%d/%d", j+1, n)
			if code, _, err := get(browser(v), "http://www.example.com"+path); err != nil || code != 200 {
				t.Fatalf("GET %s through %s: %d %v", path, v, code, err)
			}
		}
	}
	for j := range vips {
		for n := range 5 {
			path := fmt.Sprintf("/spread/vip%d/%d", j+1, n)
			if got := servedBy(t, logs, path); got != j {
				t.Errorf("%s: served by lb%d, want lb%d (master of %s)", path, got+1, j+1, vips[j])
			}
		}
	}

	// Sticky clients: cookie clients (their own browsers) pinned through
	// VIP 1, ip clients (their own source addresses) wherever they land.
	const cookieClients, ipClients = 6, 8
	var jars []http.CookieJar
	for range cookieClients {
		jar, _ := cookiejar.New(nil)
		jars = append(jars, jar)
	}
	var sources []string
	for k := range ipClients {
		src := fmt.Sprintf("10.77.0.%d", 201+k)
		client.run("ip", "addr", "add", src+"/24", "dev", "eth0")
		sources = append(sources, src)
	}
	cookieServer := make([]string, cookieClients)
	for k, jar := range jars {
		_, body, err := get(dialingVIP(client, vips[0], "", jar), "http://www.example.com/")
		if err != nil {
			t.Fatal(err)
		}
		cookieServer[k] = strings.TrimSpace(body)
	}
	ipServer := make([]string, ipClients)
	for k, src := range sources {
		_, body, err := get(dialingVIP(client, vips[k%len(vips)], src, nil), "http://www.example.com/ip/")
		if err != nil {
			t.Fatal(err)
		}
		ipServer[k] = strings.TrimSpace(body)
	}
	// Both kinds of client are spread over both servers, or keeping the
	// server would prove nothing.
	for what, got := range map[string][]string{"cookie": cookieServer, "ip": ipServer} {
		if !slices.Contains(got, "web1") || !slices.Contains(got, "web2") {
			t.Fatalf("%s clients all on one server: %q", what, got)
		}
	}
	checkSticky := func(when string, vipsUp []string) {
		t.Helper()
		for _, v := range vipsUp {
			// A host that honours the cookie sets none: a new one would be
			// a new pin, even to the same server.
			for k, jar := range jars {
				resp, err := dialingVIP(client, v, "", jar).Get("http://www.example.com/")
				if err != nil {
					t.Errorf("%s: cookie client %d through %s: %v", when, k, v, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if got := strings.TrimSpace(string(body)); got != cookieServer[k] || resp.Header.Get("Set-Cookie") != "" {
					t.Errorf("%s: cookie client %d through %s: on %s, Set-Cookie %q; want %s and no new cookie", when, k, v, got, resp.Header.Get("Set-Cookie"), cookieServer[k])
				}
			}
			for k, src := range sources {
				if _, body, err := get(dialingVIP(client, v, src, nil), "http://www.example.com/ip/"); err != nil || strings.TrimSpace(body) != ipServer[k] {
					t.Errorf("%s: ip client %s through %s: %q %v, want %s", when, src, v, body, err, ipServer[k])
				}
			}
		}
	}
	checkSticky("before the kill", vips)

	// The load: 20 requests a second through each VIP, each on a new
	// connection, bounded in count and time.
	total, killAt := 20*time.Second, 5*time.Second
	if testing.Short() {
		total, killAt = 8*time.Second, 3*time.Second
	}
	const rate = 20
	type result struct {
		sent time.Time
		wait time.Duration
		ok   bool
		why  string // of a failure: the error or the status
	}
	results := make([][]result, len(vips))
	var mu sync.Mutex
	var load sync.WaitGroup
	loadStart := time.Now()
	for j, v := range vips {
		c := dialingVIP(client, v, "", nil)
		c.Timeout = 5 * time.Second
		load.Add(1)
		go func() {
			defer load.Done()
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			var reqs sync.WaitGroup
			for n := 0; n < int(total.Seconds())*rate; n++ {
				<-tick.C
				reqs.Add(1)
				go func() {
					defer reqs.Done()
					sent := time.Now()
					code, _, err := get(c, fmt.Sprintf("http://www.example.com/load/vip%d/%d", j+1, n))
					r := result{sent: sent, wait: time.Since(sent), ok: err == nil && code == 200}
					if err != nil {
						r.why = err.Error()
					} else if !r.ok {
						r.why = fmt.Sprintf("status %d", code)
					}
					mu.Lock()
					results[j] = append(results[j], r)
					mu.Unlock()
				}()
			}
			reqs.Wait()
		}()
	}

	// lb1 dies as a crashed host does: it drops off the network at once
	// (its link down: no advert, no answer, not even a reset), and its
	// processes are killed. Killing them first would leave its kernel a
	// few milliseconds to accept connections and then reset them, and
	// its VIP behind on a live interface.
	nh := lbs[0].handle()
	defer nh.Close()
	time.Sleep(time.Until(loadStart.Add(killAt)))
	tKill := time.Now()
	lbs[0].setLink(nh, false)
	sidecars[0].kill()
	proxies[0].kill()
	// lb2 (priority 100 for VIP 1) outranks lb3 (50).
	masterDown := 3*adv + skew(100, adv)
	moved, ok := watch.added(lbs[1], vips[0], tKill, 5*time.Second)
	if !ok {
		t.Fatalf("VIP %s not on lb2 within 5s of lb1's death (lb3 has it: %v)", vips[0], watch.has(lbs[2], vips[0]))
	}
	failover := moved.Sub(tKill)
	if failover > masterDown+slack {
		t.Errorf("VIP %s on lb2 %s after lb1 died, want within 3×advert_interval+skew = %s", vips[0], failover, masterDown)
	}
	load.Wait()

	// VIP 1 answers on lb2 now; the other VIPs stayed where they were.
	if code, _, err := get(browser(vips[0]), "http://www.example.com/after/vip1"); err != nil || code != 200 {
		t.Fatalf("VIP %s after the failover: %d %v", vips[0], code, err)
	}
	if got := servedBy(t, logs[1:], "/after/vip1"); got != 0 {
		t.Errorf("VIP %s after the failover served by lb%d, want lb2", vips[0], got+2)
	}
	for j := 1; j < len(vips); j++ {
		if !watch.has(lbs[j], vips[j]) || watch.has(lbs[j], vips[0]) != (j == 1) {
			t.Errorf("after the failover lb%d holds %s: %v, %s: %v", j+1, vips[j], watch.has(lbs[j], vips[j]), vips[0], watch.has(lbs[j], vips[0]))
		}
	}
	checkSticky("after lb1 died", vips)

	// A request that waited a second or more had its SYN (or its bytes)
	// retransmitted: TCP's first retransmission is 1s after the first try.
	const retransmitted = time.Second
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests/s through each VIP for %s, lb1 killed at %s; VIP %s on lb2 %s later (netlink)\n",
		rate, total, killAt, vips[0], failover.Round(time.Millisecond))
	for j, rs := range results {
		var failed, waited int
		var longest time.Duration
		var first, last time.Time
		var whys []string
		for _, r := range rs {
			longest = max(longest, r.wait)
			if r.ok && r.wait < retransmitted {
				continue
			}
			if !r.ok {
				failed++
				whys = append(whys, fmt.Sprintf("sent %s after the kill: %s", r.sent.Sub(tKill).Round(time.Millisecond), r.why))
				if j == 0 && r.sent.After(moved.Add(time.Second)) {
					t.Errorf("VIP 1: a request sent %s after the VIP moved to lb2 failed", r.sent.Sub(moved).Round(time.Millisecond))
				}
			} else {
				waited++
			}
			if first.IsZero() || r.sent.Before(first) {
				first = r.sent
			}
			if r.sent.After(last) {
				last = r.sent
			}
		}
		window := "none"
		if !first.IsZero() {
			window = fmt.Sprintf("sent from %s to %s after the kill", first.Sub(tKill).Round(time.Millisecond), last.Sub(tKill).Round(time.Millisecond))
		}
		fmt.Fprintf(&b, "VIP %d (%s): %d requests, %d failed, %d answered after a retransmission (≥ 1 s); those: %s; longest wait %s\n",
			j+1, vips[j], len(rs), failed, waited, window, longest.Round(time.Millisecond))
		for _, why := range whys {
			fmt.Fprintf(&b, "  failed: %s\n", why)
		}
		if j > 0 && failed > 0 {
			t.Errorf("VIP %d, whose host lives, lost %d requests", j+1, failed)
		}
	}
	t.Logf("active-active, host killed under load:\n%s", b.String())
}

// What the hosts of configs/active-active/two/ share and what they do not:
// each has its own view of the servers' health and its own ip table. lb2
// loses its route to web1 (lb1 keeps its own): lb2 sends a cookie client
// pinned to web1 to web2 with a new cookie, which lb1 then honours too;
// lb2 places an ip client of web1 on web2 while lb1 keeps it on web1.
// Once lb2 sees web1 again, its table still sends that client to web2,
// and a client it has never seen goes to web1 on both hosts. A server put
// in maint through lb1's admin API is in maint on lb1 only.
func TestActiveActiveHealthViews(t *testing.T) {
	aa := newActiveActiveLab(t, "two")
	lb2, web1, client := aa.lbs[1], aa.webs[0], aa.client
	vip1, vip2 := aa.vips[0], aa.vips[1]

	// A cookie client on web1, pinned by lb1.
	var jar http.CookieJar
	for range 4 {
		jar, _ = cookiejar.New(nil)
		if _, body, err := get(dialingVIP(client, vip1, "", jar), "http://www.example.com/"); err == nil && strings.TrimSpace(body) == "web1" {
			break
		}
		jar = nil
	}
	if jar == nil {
		t.Fatal("no cookie client on web1 in 4 tries")
	}
	// Two ip clients that rendezvous hashing puts on web1: one asks lb1
	// now, the other is kept for the end.
	var onWeb1 []string
	for k := 0; k < 16 && len(onWeb1) < 2; k++ {
		src := fmt.Sprintf("10.77.0.%d", 201+k)
		client.run("ip", "addr", "add", src+"/24", "dev", "eth0")
		if _, body, err := get(dialingVIP(client, vip1, src, nil), "http://www.example.com/ip/"); err == nil && strings.TrimSpace(body) == "web1" {
			onWeb1 = append(onWeb1, src)
		}
	}
	if len(onWeb1) < 2 {
		t.Fatalf("fewer than two of 16 ip clients on web1: %q", onWeb1)
	}
	ipClient, unseen := onWeb1[0], onWeb1[1]
	type answer struct {
		server, setCookie string
	}
	ask := func(vip, source, path string, jar http.CookieJar) answer {
		t.Helper()
		resp, err := dialingVIP(client, vip, source, jar).Get("http://www.example.com" + path)
		if err != nil {
			return answer{server: err.Error()}
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{strings.TrimSpace(string(body)), resp.Header.Get("Set-Cookie")}
	}
	want := func(when string, got answer, server string, newCookie bool) {
		t.Helper()
		if got.server != server || (got.setCookie != "") != newCookie {
			t.Errorf("%s: answered by %q, Set-Cookie %q; want %s and a new cookie %v", when, got.server, got.setCookie, server, newCookie)
		}
	}
	want("cookie client through lb2 with both servers up", ask(vip2, "", "/", jar), "web1", false)
	want("ip client through lb2 with both servers up", ask(vip2, ipClient, "/ip/", nil), "web1", false)

	// lb2 can no longer reach web1.
	lb2.run("ip", "route", "add", "prohibit", web1.ip+"/32")
	var got answer
	eventually(t, 15*time.Second, func() bool {
		got = ask(vip2, "", "/", jar)
		return got.server == "web2"
	})
	want("cookie client through lb2 without web1", got, "web2", true)
	// The ip pool has no active check: its first request to web1 may wait
	// on a kept-alive connection whose packets now go nowhere, until the
	// client gives up; the next one finds web1 down.
	eventually(t, 15*time.Second, func() bool {
		got = ask(vip2, ipClient, "/ip/", nil)
		return got.server == "web2"
	})
	// lb1 sees web1 up: it honours the cookie lb2 issued, and keeps the
	// ip client where it placed it.
	want("cookie client through lb1 after lb2's new cookie", ask(vip1, "", "/", jar), "web2", false)
	want("ip client through lb1 while lb2 cannot reach web1", ask(vip1, ipClient, "/ip/", nil), "web1", false)

	// lb2 reaches web1 again, and sees it up in both pools.
	lb2.run("ip", "route", "del", "prohibit", web1.ip+"/32")
	admin := lb2.httpClient(time.Second)
	eventually(t, 30*time.Second, func() bool {
		_, body, err := get(admin, "http://127.0.0.1:9090/api/servers")
		var servers []struct{ Pool, Address, State string }
		if err != nil || json.Unmarshal([]byte(body), &servers) != nil {
			return false
		}
		up := 0
		for _, s := range servers {
			if s.Address == web1.ip+":8180" && s.State != "down" {
				up++
			}
		}
		return up == 2
	})
	want("ip client through lb2 once web1 is back", ask(vip2, ipClient, "/ip/", nil), "web2", false)
	want("ip client through lb1 once web1 is back", ask(vip1, ipClient, "/ip/", nil), "web1", false)
	want("cookie client through lb2 once web1 is back", ask(vip2, "", "/", jar), "web2", false)
	want("cookie client through lb1 once web1 is back", ask(vip1, "", "/", jar), "web2", false)
	want("ip client lb2 never saw, through lb2", ask(vip2, unseen, "/ip/", nil), "web1", false)

	// A run-time change reaches only the host that receives it.
	api := aa.lbs[0].httpClient(time.Second)
	resp, err := api.Post("http://127.0.0.1:9090/api/servers/byip/"+web1.ip+":8180?state=maint", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("maint on lb1: %s", resp.Status)
	}
	for i, h := range aa.lbs {
		_, body, err := get(h.httpClient(time.Second), "http://127.0.0.1:9090/api/servers")
		var servers []struct{ Pool, Address, State string }
		if err != nil || json.Unmarshal([]byte(body), &servers) != nil {
			t.Fatalf("lb%d: /api/servers: %v %q", i+1, err, body)
		}
		for _, s := range servers {
			if s.Pool == "byip" && s.Address == web1.ip+":8180" && (s.State == "maint") != (i == 0) {
				t.Errorf("lb%d: web1 in pool byip is %q after maint on lb1", i+1, s.State)
			}
		}
	}
}

// activeActiveLab is configs/active-active/DIR/ run in network
// namespaces: hosts lb1..lbN at 10.77.0.1..N, each with `quill run` and
// `quill vrrp`; web1 and web2 (testbackend on port 8180) and a client
// next; VIP N is 10.77.0.(100+N).
type activeActiveLab struct {
	lbs, webs         []*host
	client            *host
	vips              []string
	logs              []string // access log of each lb
	proxies, sidecars []*proc
	watch             *addrWatch
}

// newActiveActiveLab starts the lab of configs/active-active/dir and
// waits until each host holds its own VIP and no other.
func newActiveActiveLab(t *testing.T, dir string) *activeActiveLab {
	t.Helper()
	n := map[string]int{"two": 2, "three": 3}[dir]
	var names []string
	aa := &activeActiveLab{}
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("lb%d", i))
		aa.vips = append(aa.vips, fmt.Sprintf("10.77.0.%d", 100+i))
	}
	l := newLabPrefixed(t, "qa", append(names, "web1", "web2", "client")...)
	for _, name := range names {
		aa.lbs = append(aa.lbs, l.hosts[name])
	}
	aa.webs = []*host{l.hosts["web1"], l.hosts["web2"]}
	aa.client = l.hosts["client"]
	for _, w := range aa.webs {
		w.start(t, backendBin, "-name", w.name, "-listen", w.ip+":8180")
	}
	aa.watch = newAddrWatch(t, aa.lbs, aa.vips)
	ca := newTestCA(t)
	tmp := t.TempDir()
	cert := ca.pair(t, tmp, "www", leafSpec{cn: "www.example.com"})
	for i, h := range aa.lbs {
		cfg, accessLog := activeActiveLabConfig(t, dir, i+1, aa.vips, aa.webs, cert, filepath.Join(tmp, h.name))
		aa.logs = append(aa.logs, accessLog)
		aa.proxies = append(aa.proxies, h.start(t, quillBin, "run", "-c", cfg))
		admin := h.httpClient(time.Second)
		eventually(t, 20*time.Second, func() bool {
			code, _, err := get(admin, "http://127.0.0.1:9090/healthz")
			return err == nil && code == 200
		})
		s := &sidecar{proc: h.start(t, vrrpBin, "vrrp", "-c", cfg), host: h}
		t.Cleanup(func() { s.stop(t) })
		aa.sidecars = append(aa.sidecars, s.proc)
	}
	// Each host ends up with its own VIP only (one started first takes
	// them all for a moment; the others preempt theirs).
	eventually(t, 10*time.Second, func() bool {
		for i, h := range aa.lbs {
			for j, v := range aa.vips {
				if aa.watch.has(h, v) != (i == j) {
					return false
				}
			}
		}
		return true
	})
	// A sidecar of several instances starts without an error (netlink
	// subscriptions of one process see each other's messages at first,
	// which is no reason to subscribe again).
	for i, s := range aa.sidecars {
		if out := s.out.String(); strings.Contains(out, "ERROR") {
			t.Errorf("lb%d's sidecar logged an error at start:\n%s", i+1, out)
		}
	}
	return aa
}

// activeActiveLabConfig is configs/active-active/DIR/lbN.toml with the
// lab's addresses, its files in files, 100ms adverts, and the HTTP VIP serving
// (not redirecting) so that plain requests reach the pools; a route
// /ip/ to a pool with ip stickiness on the same servers is added. It
// returns the file and its access log.
func activeActiveLabConfig(t *testing.T, dir string, n int, vips []string, webs []*host, cert certPair, files string) (path, accessLog string) {
	t.Helper()
	src, err := os.ReadFile(fmt.Sprintf("../configs/active-active/%s/lb%d.toml", dir, n))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	accessLog = filepath.Join(files, "access.log")
	replace := []string{
		`"/run/quill/quill.pid"`, fmt.Sprintf("%q", filepath.Join(files, "quill.pid")),
		`"/var/log/quill/access.log"`, fmt.Sprintf("%q", accessLog),
		`"/etc/quill/www.pem"`, fmt.Sprintf("%q", cert.cert),
		`"/etc/quill/www.key"`, fmt.Sprintf("%q", cert.key),
		`advert_interval = "1s"`, `advert_interval = "100ms"`,
		`redirect_https = true`, `redirect_https = false`,
		`"192.168.0.1:8180"`, fmt.Sprintf("%q", webs[0].ip+":8180"),
		`"192.168.0.2:8180"`, fmt.Sprintf("%q", webs[1].ip+":8180"),
	}
	for j, v := range vips {
		example := fmt.Sprintf("192.168.0.%d", 3+j)
		replace = append(replace, `"`+example+`:`, `"`+v+`:`, `"`+example+`/24"`, `"`+v+`/24"`)
	}
	cfg := strings.NewReplacer(replace...).Replace(string(src))
	// Whatever the example has that the lab cannot use must be gone,
	// outside comments.
	for i, line := range strings.Split(cfg, "\n") {
		code, _, _ := strings.Cut(line, "#")
		for _, gone := range []string{"192.168.0.", "/etc/quill", "/run/quill", "/var/log/quill", `"1s"`, "redirect_https = true"} {
			if strings.Contains(code, gone) {
				t.Fatalf("lb%d.toml:%d: %q left in the lab's config: %s", n, i+1, gone, line)
			}
		}
	}
	cfg += fmt.Sprintf(`
[[vips.www-http.routes]]
path = "/ip/"
pool = "byip"

[pools.byip]
  [pools.byip.sticky]
  mode = "ip"
  [[pools.byip.servers]]
  address = "%s:8180"
  [[pools.byip.servers]]
  address = "%s:8180"
`, webs[0].ip, webs[1].ip)
	path = filepath.Join(files, "quill.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, accessLog
}

// dialingVIP is a client in h's namespace whose every connection goes to
// vip:80, whatever the URL's host (a DNS answer that named vip), from
// source when set; a new connection for each request.
func dialingVIP(h *host, vip, source string, jar http.CookieJar) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	return &http.Client{
		Timeout: 2 * time.Second,
		Jar:     jar,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var c net.Conn
				err := h.inNetns(func() error {
					var err error
					c, err = d.DialContext(ctx, network, vip+":80")
					return err
				})
				return c, err
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// servedBy is the index in logs of the one access log that has a request
// for path; it waits for the logs' write window.
func servedBy(t *testing.T, logs []string, path string) int {
	t.Helper()
	found := -1
	eventually(t, 5*time.Second, func() bool {
		found = -1
		for i, l := range logs {
			b, _ := os.ReadFile(l)
			if strings.Contains(string(b), `"GET `+path+` HTTP/1.1" 200`) {
				if found >= 0 {
					t.Fatalf("%s in the access logs of two hosts", path)
				}
				found = i
			}
		}
		return found >= 0
	})
	return found
}

// addrWatch records, with the time netlink reports them, the addresses of
// a set coming and going on the lab's hosts.
type addrWatch struct {
	mu     sync.Mutex
	events map[*host][]addrChange
	wake   chan struct{}
}

type addrChange struct {
	at    time.Time
	addr  string
	added bool
}

func newAddrWatch(t *testing.T, hosts []*host, addrs []string) *addrWatch {
	t.Helper()
	w := &addrWatch{events: map[*host][]addrChange{}, wake: make(chan struct{}, 1)}
	for _, h := range hosts {
		ns, err := netns.GetFromName(h.ns)
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan netlink.AddrUpdate, 256)
		done := make(chan struct{})
		err = netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{Namespace: &ns})
		ns.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { close(done) })
		go func() {
			for u := range ch {
				ip, _ := netip.AddrFromSlice(u.LinkAddress.IP)
				if a := ip.Unmap().String(); slices.Contains(addrs, a) {
					w.mu.Lock()
					w.events[h] = append(w.events[h], addrChange{time.Now(), a, u.NewAddr})
					w.mu.Unlock()
					select {
					case w.wake <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	return w
}

// has tells whether addr is on h now, as netlink last reported it.
func (w *addrWatch) has(h *host, addr string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	on := false
	for _, e := range w.events[h] {
		if e.addr == addr {
			on = e.added
		}
	}
	return on
}

// added waits until addr is added on h after since, at most timeout, and
// returns when.
func (w *addrWatch) added(h *host, addr string, since time.Time, timeout time.Duration) (time.Time, bool) {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		for _, e := range w.events[h] {
			if e.addr == addr && e.added && !e.at.Before(since) {
				w.mu.Unlock()
				return e.at, true
			}
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-deadline:
			return time.Time{}, false
		}
	}
}
