package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"quill/internal/pebbletest"
)

// The TLS tests run quill with certificates of a CA made for the test, and
// real clients: curl, openssl s_client, testssl and Pebble's validation.

// TestTLSVersionsAndHTTP2: curl verifies quill's certificate and gets
// TLS 1.2 or 1.3 as asked, and HTTP/2 over either when it offers h2.
func TestTLSVersionsAndHTTP2(t *testing.T) {
	requireTool(t, "curl")
	requireTool(t, "openssl")
	ca := newTestCA(t)
	web := startBackend(t, "web")
	vip := freeAddr(t)
	www := ca.pair(t, t.TempDir(), "www", leafSpec{cn: "www.example.test", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	startQuill(t, tlsVIPConfig(vip, web, "", "", www), vip)

	tests := []struct {
		name        string
		args        []string
		wantVersion string // in curl -v's "SSL connection using" line
		wantHTTP    string // %{http_version}
	}{
		{"TLS 1.2", []string{"--tlsv1.2", "--tls-max", "1.2", "--http1.1"}, "TLSv1.2", "1.1"},
		{"TLS 1.3", []string{"--tlsv1.3", "--http1.1"}, "TLSv1.3", "1.1"},
		{"HTTP/2 over TLS 1.3", []string{"--tlsv1.3", "--http2"}, "TLSv1.3", "2"},
		{"HTTP/2 over TLS 1.2", []string{"--tlsv1.2", "--tls-max", "1.2", "--http2"}, "TLSv1.2", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(trusting(ca.file, "www.example.test", vip), "-w", "|%{http_version}")
			args = append(args, tt.args...)
			out, verbose := curlVerbose(t, append(args, "https://www.example.test:"+portOf(vip)+"/")...)
			body, version, _ := strings.Cut(out, "|")
			if body != "web\n" {
				t.Errorf("body %q, want the backend's %q", body, "web\n")
			}
			if version != tt.wantHTTP {
				t.Errorf("HTTP version %q, want %q", version, tt.wantHTTP)
			}
			if want := "SSL connection using " + tt.wantVersion + " "; !strings.Contains(verbose, want) {
				t.Errorf("curl -v lacks %q:\n%s", want, verbose)
			}
		})
	}
	t.Run("by IP address", func(t *testing.T) {
		out, verbose := curlVerbose(t, "--cacert", ca.file, "https://"+vip+"/")
		if out != "web\n" {
			t.Errorf("body %q, want %q\n%s", out, "web\n", verbose)
		}
	})
	t.Run("openssl s_client -tls1_3", func(t *testing.T) {
		out, errOut, err := runTool(t, "", "openssl", "s_client", "-connect", vip, "-servername", "www.example.test", "-tls1_3", "-CAfile", ca.file, "-verify_return_error", "-alpn", "h2")
		if err != nil {
			t.Fatalf("openssl s_client: %v\n%s", err, errOut)
		}
		for _, want := range []string{"New, TLSv1.3, Cipher is ", "ALPN protocol: h2", "Verify return code: 0 (ok)"} {
			if !strings.Contains(out, want) {
				t.Errorf("s_client output lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestTLSSNIChoosesCertificate: one VIP, two certificates; the name a
// client asks for picks one, and clients without SNI or with an unknown
// name get the first.
func TestTLSSNIChoosesCertificate(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "curl")
	ca := newTestCA(t)
	web := startBackend(t, "web")
	vip := freeAddr(t)
	dir := t.TempDir()
	www := ca.pair(t, dir, "www", leafSpec{cn: "www.example.test"})
	api := ca.pair(t, dir, "api", leafSpec{cn: "api.example.test"})
	startQuill(t, tlsVIPConfig(vip, web, "", "", www, api), vip)

	tests := []struct {
		name, serverName, wantCN string
	}{
		{"www by SNI", "www.example.test", "www.example.test"},
		{"api by SNI", "api.example.test", "api.example.test"},
		{"SNI in upper case", "API.EXAMPLE.TEST", "api.example.test"},
		{"unknown name gets the first", "other.example.test", "www.example.test"},
		{"no SNI gets the first", "", "www.example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject := servedSubject(t, vip, tt.serverName, ca)
			if !strings.HasSuffix(subject, "CN = "+tt.wantCN) {
				t.Errorf("served %q, want CN = %s", subject, tt.wantCN)
			}
		})
	}
	t.Run("curl verifies each name", func(t *testing.T) {
		for _, host := range []string{"www.example.test", "api.example.test"} {
			_, verbose := curlVerbose(t, append(trusting(ca.file, host, vip), "-o", "/dev/null", "https://"+host+":"+portOf(vip)+"/")...)
			if want := "subject: O=quill e2e; CN=" + host; !strings.Contains(verbose, want) {
				t.Errorf("curl for %s: -v lacks %q:\n%s", host, want, verbose)
			}
		}
	})
}

// TestTLSOldVersionsRefused: TLS 1.0 and 1.1 end in a protocol_version
// alert from quill, while the same openssl command does reach TLS 1.1 with
// a server that allows it; a VIP with min_version 1.3 refuses TLS 1.2.
func TestTLSOldVersionsRefused(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "curl")
	ca := newTestCA(t)
	web := startBackend(t, "web")
	vip, modern := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	www := ca.pair(t, dir, "www", leafSpec{cn: "www.example.test"})
	startQuill(t, tlsVIPConfig(vip, web, "", fmt.Sprintf(`
[vips.modern]
listen = [%q]
  [vips.modern.tls]
  certificates = [{ cert = %q, key = %q }]
  min_version = "1.3"
  [[vips.modern.routes]]
  pool = "app"
`, modern, www.cert, www.key), www), vip, modern)

	// Debian's openssl refuses TLS 1.0 and 1.1 itself at its default
	// security level; level 0 lets it offer them, so that a refusal can
	// only come from the server.
	oldClient := func(addr, version string) (string, error) {
		out, errOut, err := runTool(t, "", "openssl", "s_client", "-connect", addr, "-servername", "www.example.test",
			"-"+version, "-cipher", "DEFAULT@SECLEVEL=0")
		return out + errOut, err
	}
	t.Run("openssl can speak TLS 1.1", func(t *testing.T) {
		control := freeAddr(t)
		server := start(t, nil, "openssl", "s_server", "-accept", control, "-cert", www.cert, "-key", www.key,
			"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-www")
		waitListening(t, control, server)
		out, err := oldClient(control, "tls1_1")
		if err != nil || !strings.Contains(out, "Protocol  : TLSv1.1") {
			t.Fatalf("openssl s_client -tls1_1 against openssl s_server -tls1_1: %v\n%s", err, out)
		}
	})
	for _, version := range []string{"tls1", "tls1_1"} {
		t.Run(version+" refused", func(t *testing.T) {
			out, err := oldClient(vip, version)
			if err == nil {
				t.Fatalf("openssl s_client -%s succeeded:\n%s", version, out)
			}
			if !strings.Contains(out, "alert protocol version") {
				t.Errorf("the refusal is not quill's protocol_version alert:\n%s", out)
			}
		})
	}
	t.Run("min_version 1.3 refuses TLS 1.2", func(t *testing.T) {
		url := "https://www.example.test:" + portOf(modern) + "/"
		pin := trusting(ca.file, "www.example.test", modern)
		if out, err := curl(t, append(pin, "--tlsv1.2", "--tls-max", "1.2", url)...); err == nil {
			t.Fatalf("TLS 1.2 accepted: %q", out)
		}
		if out := mustCurl(t, append(pin, "--tlsv1.3", url)...); out != "web\n" {
			t.Errorf("TLS 1.3: %q, want %q", out, "web\n")
		}
	})
}

// TestTLSCertificateReload: a certificate replaced on disk is served to
// new handshakes after SIGHUP, and without it once the file watch sees the
// change; a keep-alive connection opened before goes on serving.
func TestTLSCertificateReload(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	web := startBackend(t, "web")
	vip := freeAddr(t)
	www := ca.pair(t, t.TempDir(), "www", leafSpec{cn: "www.example.test", ou: "first"})
	q := startQuill(t, tlsVIPConfig(vip, web, "", "", www), vip)

	first, err := servedSerial(vip, "www.example.test", ca.pool)
	if err != nil {
		t.Fatal(err)
	}
	old := dialKeepAlive(t, vip, "www.example.test", ca.pool)
	if body, err := old.get("www.example.test", "/"); err != nil || body != "web\n" {
		t.Fatalf("first request: %q, %v", body, err)
	}
	waitFor := func(t *testing.T, serial *big.Int, within time.Duration) {
		t.Helper()
		var (
			got *big.Int
			err error
		)
		deadline := time.Now().Add(within)
		for {
			got, err = servedSerial(vip, "www.example.test", ca.pool)
			if err == nil && got.Cmp(serial) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("new handshakes get serial %v (err %v), want %v within %s", got, err, serial, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("SIGHUP", func(t *testing.T) {
		second := ca.issue(t, www.cert, www.key, leafSpec{cn: "www.example.test", ou: "second"})
		if second.SerialNumber.Cmp(first) == 0 {
			t.Fatal("the new certificate has the old serial")
		}
		q.signal(syscall.SIGHUP)
		// The file watch reacts only after two 5s polls have seen the
		// same new files, so a change within 3s is the signal's doing.
		waitFor(t, second.SerialNumber, 3*time.Second)
		if body, err := old.get("www.example.test", "/"); err != nil || body != "web\n" {
			t.Fatalf("request on the connection opened before the reload: %q, %v", body, err)
		}
		if got := old.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(first) != 0 {
			t.Errorf("the old connection's certificate changed to serial %v", got)
		}
	})
	t.Run("file watch without a signal", func(t *testing.T) {
		third := ca.issue(t, www.cert, www.key, leafSpec{cn: "www.example.test", ou: "third"})
		waitFor(t, third.SerialNumber, 12*time.Second)
		if body, err := old.get("www.example.test", "/"); err != nil || body != "web\n" {
			t.Fatalf("request on the connection opened before both reloads: %q, %v", body, err)
		}
	})
	if strings.Contains(q.out.String(), "reload refused") {
		t.Errorf("quill refused a reload:\n%s", q.out.String())
	}
}

// TestTLSForwardedHeaders: the backend learns that the client came over
// HTTPS, and its address, over HTTP/1.1 and HTTP/2 alike.
func TestTLSForwardedHeaders(t *testing.T) {
	requireTool(t, "curl")
	ca := newTestCA(t)
	web := startBackend(t, "web")
	vip := freeAddr(t)
	www := ca.pair(t, t.TempDir(), "www", leafSpec{cn: "www.example.test"})
	startQuill(t, tlsVIPConfig(vip, web, "", "", www), vip)

	for _, proto := range []string{"--http1.1", "--http2"} {
		t.Run(proto, func(t *testing.T) {
			// The client's own X-Forwarded-Proto is a lie quill must replace.
			e := curlEcho(t, append(trusting(ca.file, "www.example.test", vip), proto,
				"-H", "X-Forwarded-Proto: http", "https://www.example.test:"+portOf(vip)+"/echo")...)
			tests := []struct{ name, got, want string }{
				{"X-Forwarded-Proto", strings.Join(e.Header["X-Forwarded-Proto"], ","), "https"},
				{"X-Forwarded-For", strings.Join(e.Header["X-Forwarded-For"], ","), "127.0.0.1"},
				{"X-Forwarded-Host", strings.Join(e.Header["X-Forwarded-Host"], ","), "www.example.test:" + portOf(vip)},
				{"Host", e.Host, "www.example.test:" + portOf(vip)},
			}
			for _, tt := range tests {
				if tt.got != tt.want {
					t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
				}
			}
		})
	}
}

// TestTLSRedirectAndHSTS: a plain-HTTP VIP with redirect_https sends
// clients to the TLS VIP's port with 308, which keeps a POST a POST, and
// the TLS VIP adds Strict-Transport-Security.
func TestTLSRedirectAndHSTS(t *testing.T) {
	requireTool(t, "curl")
	ca := newTestCA(t)
	web := startBackend(t, "web")
	vip, plain := freeAddr(t), freeAddr(t)
	www := ca.pair(t, t.TempDir(), "www", leafSpec{cn: "www.example.test"})
	startQuill(t, tlsVIPConfig(vip, web, `hsts = "max-age=300"`, fmt.Sprintf(`
[vips.plain]
listen = [%q]
redirect_https = true
`, plain), www), vip, plain)
	httpsBase := "https://www.example.test:" + portOf(vip)
	httpBase := "http://www.example.test:" + portOf(plain)
	pin := trusting(ca.file, "www.example.test", vip, plain)

	t.Run("308 to the TLS VIP's port", func(t *testing.T) {
		for _, method := range []string{"GET", "POST"} {
			got := mustCurl(t, append(pin, "-X", method, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
				httpBase+"/a/b?x=1&y=%2F")...)
			if want := "308 " + httpsBase + "/a/b?x=1&y=%2F"; got != want {
				t.Errorf("%s: %q, want %q", method, got, want)
			}
		}
	})
	t.Run("no HSTS over plain HTTP", func(t *testing.T) {
		head := mustCurl(t, append(pin, "-o", "/dev/null", "-D", "-", httpBase+"/")...)
		if strings.Contains(strings.ToLower(head), "strict-transport-security") {
			t.Errorf("HSTS sent over plain HTTP:\n%s", head)
		}
	})
	t.Run("followed POST arrives over HTTPS with its body", func(t *testing.T) {
		out := mustCurl(t, append(pin, "-L", "-d", "order=42", httpBase+"/echo?q=1")...)
		var e struct {
			Method string              `json:"method"`
			URI    string              `json:"uri"`
			Body   string              `json:"body"`
			Header map[string][]string `json:"header"`
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatalf("backend answer %q: %v", out, err)
		}
		if e.Method != "POST" || e.URI != "/echo?q=1" || e.Body != "order=42" || strings.Join(e.Header["X-Forwarded-Proto"], ",") != "https" {
			t.Errorf("backend saw %s %s body %q proto %v, want POST /echo?q=1 body order=42 over https", e.Method, e.URI, e.Body, e.Header["X-Forwarded-Proto"])
		}
	})
	t.Run("HSTS on the TLS VIP", func(t *testing.T) {
		for _, proto := range []string{"--http1.1", "--http2"} {
			head := mustCurl(t, append(pin, proto, "-o", "/dev/null", "-D", "-", httpsBase+"/")...)
			if !strings.Contains(strings.ToLower(head), "strict-transport-security: max-age=300\r\n") {
				t.Errorf("%s: no Strict-Transport-Security: max-age=300 in\n%s", proto, head)
			}
		}
	})
}

// TestTLSCheckCertificates: quill check refuses a key that is not the
// certificate's, naming the file and line, and lets an expired
// certificate pass with a warning.
func TestTLSCheckCertificates(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	www := ca.pair(t, dir, "www", leafSpec{cn: "www.example.test"})
	api := ca.pair(t, dir, "api", leafSpec{cn: "api.example.test"})
	expired := ca.pair(t, dir, "expired", leafSpec{cn: "old.example.test", notAfter: time.Now().Add(-24 * time.Hour)})

	tests := []struct {
		name   string
		pair   certPair
		wantOK bool
		want   string
	}{
		{"key of another certificate", certPair{cert: www.cert, key: api.key}, false, "the private key does not match the certificate's public key"},
		{"expired certificate", expired, true, "warning: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fmt.Sprintf(`[vips.secure]
listen = ["127.0.0.1:8443"]
  [vips.secure.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ address = "127.0.0.1:8080" }]
`, tt.pair.cert, tt.pair.key)
			path := filepath.Join(t.TempDir(), "quill.toml")
			if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(quillBin, "check", "-c", path).CombinedOutput()
			t.Logf("quill check:\n%s", out)
			if ok := err == nil; ok != tt.wantOK {
				t.Fatalf("check exit ok = %v, want %v:\n%s", ok, tt.wantOK, out)
			}
			// The certificates line is the fourth of the file.
			if where := path + ":4: "; !strings.Contains(string(out), where) {
				t.Errorf("output does not name %s:\n%s", where, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if tt.wantOK && !strings.Contains(string(out), "expired on") {
				t.Errorf("no expiry warning:\n%s", out)
			}
		})
	}
}

// TestTLSACMEWithPebble: a TLS VIP with no certificate file obtains one
// from a real ACME CA, which validates the challenge against quill's own
// listeners, then serves HTTPS with it.
func TestTLSACMEWithPebble(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	dir := t.TempDir()
	web := startBackend(t, "web")
	vip, plain := freeAddr(t), freeAddr(t)
	pebble := pebbletest.Start(t, pebbletest.Options{
		Bin:      pebbletest.Binary(t),
		HTTPPort: mustAtoi(t, portOf(plain)),
		TLSPort:  mustAtoi(t, portOf(vip)),
		DNS:      pebbletest.StartDNS(t),
	})

	// The plain-HTTP VIP on the same host redirects everything but the
	// CA's HTTP-01 requests.
	q := startQuill(t, fmt.Sprintf(`[global]
shutdown_timeout = "5s"

[vips.plain]
listen = [%q]
redirect_https = true

[vips.secure]
listen = [%q]
  [vips.secure.tls]
  acme = { email = "ops@quill.test", domains = ["quill.test"], ca = %q, storage = %q, root_ca = %q }
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ name = %q, address = %q }]
`, plain, vip, pebble.Directory, filepath.Join(dir, "acme"), pebble.RootCA, web.name, web.addr), plain, vip)

	// The root Pebble issues under, as a client would be given it.
	roots := pebble.IssuingRoots(t)
	rootFile := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(rootFile, pebble.IssuingRootPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}

	var leaf *x509.Certificate
	deadline := time.Now().Add(30 * time.Second)
	for leaf == nil {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", vip, &tls.Config{ServerName: "quill.test", RootCAs: roots})
		if err == nil {
			leaf = c.ConnectionState().PeerCertificates[0]
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for quill.test from Pebble's root within 30s; last handshake: %v\nquill:\n%s", err, q.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "quill.test" {
		t.Errorf("certificate for %v, want [quill.test]", leaf.DNSNames)
	}
	e := curlEcho(t, append(trusting(rootFile, "quill.test", vip), "https://quill.test:"+portOf(vip)+"/echo")...)
	if e.Backend != "web" || strings.Join(e.Header["X-Forwarded-Proto"], ",") != "https" {
		t.Errorf("HTTPS through quill reached %q with X-Forwarded-Proto %v, want web over https", e.Backend, e.Header["X-Forwarded-Proto"])
	}
	// Pebble really validated against quill: quill answered the CA's
	// request (HTTP-01 or TLS-ALPN-01, as certmagic chose) and Pebble
	// found the answer good.
	quillLog := q.out.String()
	if !strings.Contains(quillLog, "served key authentication") || !strings.Contains(pebble.Output(), "set VALID by completed challenge") {
		t.Errorf("no challenge validated against quill; quill's log:\n%s", quillLog)
	}
	if _, rest, ok := strings.Cut(quillLog, `"challenge_type": "`); ok {
		challenge, _, _ := strings.Cut(rest, `"`)
		t.Logf("Pebble validated %s against quill", challenge)
	}
}

// TestTLSScan runs testssl's protocol and vulnerability checks against a
// TLS VIP: nothing below TLS 1.2 is offered and nothing is found
// vulnerable. (bench/tls/testssl.sh runs the full scan for TESTSSL.md.)
func TestTLSScan(t *testing.T) {
	t.Parallel()
	requireTool(t, "testssl")
	ca := newTestCA(t)
	web := startBackend(t, "web")
	vip := freeAddr(t)
	dir := t.TempDir()
	www := ca.pair(t, dir, "www", leafSpec{cn: "www.example.test"})
	startQuill(t, tlsVIPConfig(vip, web, "", "", www), vip)

	report := filepath.Join(dir, "testssl.json")
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "testssl", "--quiet", "--warnings", "off", "--nodns", "none", "--color", "0",
		"--protocols", "--vulnerable", "--jsonfile", report, "--ip", "127.0.0.1", "www.example.test:"+portOf(vip))
	out, err := cmd.CombinedOutput()
	t.Logf("testssl took %s", time.Since(began).Round(time.Second))
	if err != nil {
		t.Fatalf("testssl: %v\n%s", err, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var findings []testsslFinding
	if err := json.Unmarshal(data, &findings); err != nil {
		t.Fatalf("testssl JSON: %v", err)
	}
	byID := map[string]testsslFinding{}
	for _, f := range findings {
		byID[f.ID] = f
	}
	for id, want := range map[string]string{
		"SSLv2": "not offered", "SSLv3": "not offered", "TLS1": "not offered", "TLS1_1": "not offered",
		"TLS1_2": "offered", "TLS1_3": "offered",
	} {
		if got := byID[id].Finding; got != want && !strings.HasPrefix(got, want+" ") {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	for _, id := range []string{"heartbleed", "CCS", "ROBOT", "secure_client_renego", "CRIME_TLS", "POODLE_SSL", "SWEET32", "FREAK", "LOGJAM", "BEAST", "RC4"} {
		if _, ok := byID[id]; !ok {
			t.Errorf("testssl did not report %s", id)
		}
	}
	for _, f := range findings {
		if f.Severity == "HIGH" || f.Severity == "CRITICAL" || strings.Contains(f.Finding, "VULNERABLE") {
			t.Errorf("%s (%s): %s", f.ID, f.Severity, f.Finding)
		}
	}
	if t.Failed() {
		t.Logf("testssl output:\n%s", out)
	}
}
