package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProxyProtocolBehindHAProxy puts real HAProxy in TCP mode in front of
// quill, sending PROXY v1 (send-proxy) and v2 (send-proxy-v2) to a plain
// and to a TLS VIP (HAProxy passes TLS through untouched), with its health
// checks sending the header too (v2 sends LOCAL): none is refused. curl
// connects to HAProxy from 127.0.0.5: quill logs 127.0.0.5 and the
// backend gets X-Forwarded-For: 127.0.0.5, over HTTP/1.1 and HTTP/2. curl
// straight to the VIPs, without a header, is refused and counted: as
// "source" from 127.0.0.5, as "invalid" from 127.0.0.1, the balancer's
// address.
func TestProxyProtocolBehindHAProxy(t *testing.T) {
	requireTool(t, "curl")
	requireTool(t, "haproxy")
	web := startBackend(t, "web")
	dir := t.TempDir()
	ca := newTestCA(t)
	cert := ca.pair(t, dir, "vip", leafSpec{cn: "localhost", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	plain, secure, admin := freeAddr(t), freeAddr(t), freeAddr(t)
	logPath := filepath.Join(dir, "access.log")
	startQuill(t, fmt.Sprintf(`[access_log]
path = %q
window = "100ms"

[admin]
listen = %q

[vips.plain]
listen = [%q]
proxy_protocol = true
proxy_protocol_from = ["127.0.0.1"]
  [[vips.plain.routes]]
  pool = "app"

[vips.secure]
listen = [%q]
proxy_protocol = true
proxy_protocol_from = ["127.0.0.1/32"]
  [vips.secure.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ address = %q }]
`, logPath, admin, plain, secure, cert.cert, cert.key, web.addr), plain, secure)
	// startQuill's probes connected and closed: refused as "closed".
	refusedBefore := grepLines(mustCurl(t, "http://"+admin+"/metrics"), "quill_proxy_protocol_refused_total{")

	fronts := map[string]string{}
	var cfg strings.Builder
	cfg.WriteString("global\n  log stderr local0 warning\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 20s\n  timeout server 20s\n")
	for _, f := range []struct{ name, to, send string }{
		{"v1plain", plain, "send-proxy"},
		{"v2plain", plain, "send-proxy-v2"},
		{"v1tls", secure, "send-proxy"},
		{"v2tls", secure, "send-proxy-v2"},
	} {
		fronts[f.name] = freeAddr(t)
		fmt.Fprintf(&cfg, "listen %s\n  bind %s\n  server quill %s %s check check-send-proxy inter 500ms\n", f.name, fronts[f.name], f.to, f.send)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	hap := start(t, nil, "haproxy", "-db", "-f", cfgPath)
	for _, a := range fronts {
		waitListening(t, a, hap)
	}

	tests := []struct {
		name, front, scheme, proto string
		args                       []string
	}{
		{"v1 plain", "v1plain", "http", "HTTP/1.1", nil},
		{"v2 plain", "v2plain", "http", "HTTP/1.1", nil},
		{"v1 TLS HTTP/1.1", "v1tls", "https", "HTTP/1.1", []string{"--http1.1"}},
		{"v2 TLS HTTP/1.1", "v2tls", "https", "HTTP/1.1", []string{"--http1.1"}},
		{"v1 TLS HTTP/2", "v1tls", "https", "HTTP/2.0", []string{"--http2"}},
		{"v2 TLS HTTP/2", "v2tls", "https", "HTTP/2.0", []string{"--http2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fmt.Sprintf("%s://%s/echo?via=%s", tt.scheme, fronts[tt.front], strings.ReplaceAll(tt.name, " ", "-"))
			args := append([]string{"--interface", "127.0.0.5", "--cacert", ca.file}, tt.args...)
			out := mustCurl(t, append(args, url)...)
			var echo struct {
				Header map[string][]string `json:"header"`
			}
			if err := json.Unmarshal([]byte(out), &echo); err != nil {
				t.Fatalf("backend answer %q: %v", out, err)
			}
			if xff := echo.Header["X-Forwarded-For"]; len(xff) != 1 || xff[0] != "127.0.0.5" {
				t.Errorf("backend got X-Forwarded-For %q, want [127.0.0.5]", xff)
			}
			line := regexp.MustCompile(`(?m)^(\S+) - - \[[^]]+\] "GET /echo\?via=` + regexp.QuoteMeta(strings.ReplaceAll(tt.name, " ", "-")) + ` (\S+)"`)
			var m []string
			eventually(t, 10*time.Second, func() bool {
				b, _ := os.ReadFile(logPath)
				m = line.FindStringSubmatch(string(b))
				return m != nil
			})
			if m[1] != "127.0.0.5" || m[2] != tt.proto {
				t.Errorf("access log: client %s over %s, want 127.0.0.5 over %s", m[1], m[2], tt.proto)
			}
		})
	}

	// HAProxy's health checks (a header, then a close, every 500ms) are
	// never refused.
	time.Sleep(time.Second)
	if after := grepLines(mustCurl(t, "http://"+admin+"/metrics"), "quill_proxy_protocol_refused_total{"); after != refusedBefore {
		t.Errorf("connections from HAProxy were refused: before\n%s\nafter\n%s", refusedBefore, after)
	}

	// Straight to the VIPs with no header: closed with nothing answered,
	// from outside proxy_protocol_from and from inside it alike.
	for _, from := range []string{"127.0.0.5", "127.0.0.1"} {
		if out, err := curl(t, "--interface", from, "http://"+plain+"/echo"); err == nil || !regexp.MustCompile(`exit status (52|56)`).MatchString(err.Error()) {
			t.Errorf("curl from %s straight to the plain VIP: %q, %v; want an empty reply or a reset (exit 52 or 56)", from, out, err)
		}
		if out, err := curl(t, "--interface", from, "--cacert", ca.file, "https://"+secure+"/echo"); err == nil || !strings.Contains(err.Error(), "exit status 35") {
			t.Errorf("curl from %s straight to the TLS VIP: %q, %v; want a failed handshake (exit 35)", from, out, err)
		}
	}
	metrics := mustCurl(t, "http://"+admin+"/metrics")
	for _, want := range []string{
		`quill_proxy_protocol_refused_total{reason="source",vip="plain"} 1`,
		`quill_proxy_protocol_refused_total{reason="source",vip="secure"} 1`,
		`quill_proxy_protocol_refused_total{reason="invalid",vip="plain"} 1`,
		`quill_proxy_protocol_refused_total{reason="invalid",vip="secure"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "quill_proxy_protocol_refused_total"))
		}
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
