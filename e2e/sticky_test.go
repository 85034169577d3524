package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stickyConfig is an HTTP VIP, optionally an HTTPS VIP, in front of a
// sticky pool.
func stickyConfig(httpVIP, httpsVIP, certFile, keyFile, mode string, servers ...*backend) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nsecret = \"shared by both hosts\"\n\n[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n", httpVIP)
	if httpsVIP != "" {
		fmt.Fprintf(&b, "[vips.secure]\nlisten = [%q]\n  [vips.secure.tls]\n  certificates = [{ cert = %q, key = %q }]\n  [[vips.secure.routes]]\n  pool = \"app\"\n", httpsVIP, certFile, keyFile)
	}
	// No balance: cookie mode takes roundrobin, ip mode hash (its only one).
	fmt.Fprintf(&b, "[pools.app]\nfail_timeout = \"30s\"\n  [pools.app.sticky]\n  mode = %q\n  ttl = \"1h\"\n", mode)
	for _, s := range servers {
		fmt.Fprintf(&b, "  [[pools.app.servers]]\n  name = %q\n  address = %q\n", s.name, s.addr)
	}
	return b.String()
}

func jarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func backendOf(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	code, body, err := get(c, url)
	if err != nil || code != 200 {
		t.Fatalf("GET %s: %d %v", url, code, err)
	}
	return strings.TrimSpace(body)
}

func TestCookieStickiness(t *testing.T) {
	servers := []*backend{startBackend(t, "web1"), startBackend(t, "web2"), startBackend(t, "web3")}
	vip := freeAddr(t)
	startQuill(t, stickyConfig(vip, "", "", "", "cookie", servers...), vip)
	client := jarClient(t)

	resp, err := client.Get("http://" + vip + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"QUILL=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=3600"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", cookie, want)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Errorf("Cache-Control %q on a response that sets the cookie", cc)
	}
	for _, s := range servers {
		if strings.Contains(cookie, s.addr) || strings.Contains(cookie, s.name) {
			t.Errorf("cookie %q names its server", cookie)
		}
	}
	pinned := backendOf(t, client, "http://"+vip+"/")
	for i := 0; i < 50; i++ {
		if got := backendOf(t, client, "http://"+vip+"/"); got != pinned {
			t.Fatalf("request %d went to %s, pinned to %s", i, got, pinned)
		}
	}
	t.Run("the backend does not see the cookie", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+vip+"/echo", nil)
		req.Header.Set("Cookie", "other=1")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e echo
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(e.Header["Cookie"], "; "); strings.Contains(got, "QUILL") || !strings.Contains(got, "other=1") {
			t.Errorf("backend saw Cookie %q", got)
		}
	})
	t.Run("forged cookie is ignored", func(t *testing.T) {
		for _, forged := range []string{"QUILL=web1", "QUILL=AAAAAAAAAAAAAAAAAAAAAA", "QUILL=" + strings.Repeat("x", 500), "QUILL=\"\""} {
			out := mustCurl(t, "-o", "/dev/null", "-w", "%{http_code}", "-H", "Cookie: "+forged, "http://"+vip+"/")
			if out != "200" {
				t.Errorf("%s: status %s", forged, out)
			}
		}
	})
	t.Run("server killed: re-pinned, no failed request", func(t *testing.T) {
		var victim *backend
		for _, s := range servers {
			if s.name == pinned {
				victim = s
			}
		}
		victim.kill()
		moved := ""
		for i := 0; i < 20; i++ {
			got := backendOf(t, client, "http://"+vip+"/")
			if got == pinned {
				t.Fatalf("request %d still reached the killed %s", i, pinned)
			}
			if moved == "" {
				moved = got
			} else if got != moved {
				t.Errorf("after the re-pin, request %d went to %s, want %s", i, got, moved)
			}
		}
	})
}

func TestStickyAcrossHTTPAndHTTPS(t *testing.T) {
	servers := []*backend{startBackend(t, "web1"), startBackend(t, "web2"), startBackend(t, "web3")}
	ca := newTestCA(t)
	quillTest := ca.pair(t, t.TempDir(), "quill.test", leafSpec{cn: "quill.test", dns: []string{"localhost", "quill.test"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	for _, mode := range []string{"cookie", "ip"} {
		t.Run(mode, func(t *testing.T) {
			httpVIP, httpsVIP := freeAddr(t), freeAddr(t)
			q := startQuill(t, stickyConfig(httpVIP, httpsVIP, quillTest.cert, quillTest.key, mode, servers...), httpVIP, httpsVIP)
			defer q.kill()
			client := jarClient(t)
			client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}
			// A cookie set over HTTPS is Secure; the client sends it over HTTP
			// only when it got it over HTTP first, as browsers do.
			first := backendOf(t, client, "http://"+httpVIP+"/")
			for i := 0; i < 10; i++ {
				if got := backendOf(t, client, "https://"+httpsVIP+"/"); got != first {
					t.Fatalf("HTTPS request %d went to %s, HTTP to %s", i, got, first)
				}
				if got := backendOf(t, client, "http://"+httpVIP+"/"); got != first {
					t.Fatalf("HTTP request %d went to %s, first to %s", i, got, first)
				}
			}
		})
	}
}

func TestStickyAcrossTwoHosts(t *testing.T) {
	servers := []*backend{startBackend(t, "web1"), startBackend(t, "web2"), startBackend(t, "web3"), startBackend(t, "web4")}
	for _, mode := range []string{"cookie", "ip"} {
		t.Run(mode, func(t *testing.T) {
			vip1, vip2 := freeAddr(t), freeAddr(t)
			lb1 := startQuill(t, stickyConfig(vip1, "", "", "", mode, servers...), vip1)
			lb2 := startQuill(t, stickyConfig(vip2, "", "", "", mode, servers...), vip2)
			defer lb1.kill()
			defer lb2.kill()
			client := jarClient(t)
			// The jar keys cookies by host name, not port: both VIPs are
			// 127.0.0.1, so a cookie from lb1 is sent to lb2 too.
			for i := 0; i < 5; i++ {
				a := backendOf(t, client, "http://"+vip1+"/")
				b := backendOf(t, client, "http://"+vip2+"/")
				if a != b {
					t.Fatalf("lb1 sent the client to %s, lb2 to %s", a, b)
				}
			}
			if mode == "cookie" {
				u, _ := url.Parse("http://" + vip1 + "/")
				if len(client.Jar.Cookies(u)) != 1 {
					t.Errorf("cookies %v, want one shared by both hosts", client.Jar.Cookies(u))
				}
			}
			// A fresh client in ip mode, without any state: both hosts pick
			// the same server by rendezvous hashing.
			if mode == "ip" {
				fresh1 := backendOf(t, &http.Client{Timeout: 5 * time.Second}, "http://"+vip1+"/")
				fresh2 := backendOf(t, &http.Client{Timeout: 5 * time.Second}, "http://"+vip2+"/")
				if fresh1 != fresh2 {
					t.Errorf("ip mode: lb1 chose %s, lb2 %s", fresh1, fresh2)
				}
			}
		})
	}
}

func TestReloadKeepsStickiness(t *testing.T) {
	servers := []*backend{startBackend(t, "web1"), startBackend(t, "web2"), startBackend(t, "web3")}
	for _, mode := range []string{"cookie", "ip"} {
		t.Run(mode, func(t *testing.T) {
			vip := freeAddr(t)
			q := startQuill(t, stickyConfig(vip, "", "", "", mode, servers...), vip)
			defer q.kill()
			client := jarClient(t)
			pinned := backendOf(t, client, "http://"+vip+"/")
			// Reload with the servers in another order and one not pinned removed.
			var keep []*backend
			for i := len(servers) - 1; i >= 0; i-- {
				if servers[i].name == pinned || len(keep) == 0 {
					keep = append(keep, servers[i])
				}
			}
			q.rewrite(t, stickyConfig(vip, "", "", "", mode, keep...))
			q.signal(syscall.SIGHUP)
			eventually(t, 5*time.Second, func() bool { return strings.Contains(q.out.String(), "config reloaded") })
			for i := 0; i < 10; i++ {
				if got := backendOf(t, client, "http://"+vip+"/"); got != pinned {
					t.Fatalf("after reload request %d went to %s, pinned to %s", i, got, pinned)
				}
			}
		})
	}
}
