package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The TLS tests run quill with certificates of a CA made for the test, and
// real clients: curl, openssl s_client, testssl and Pebble's validation.

// testCA issues the certificates of one test.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	file   string // the CA certificate as PEM, for --cacert and -CAfile
	pool   *x509.CertPool
	serial int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"quill e2e"}, CommonName: "quill e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(2 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, pool: x509.NewCertPool(), serial: 1000}
	ca.pool.AddCert(cert)
	ca.file = filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// leafSpec describes a server certificate.
type leafSpec struct {
	cn       string   // common name
	ou       string   // organizational unit, to tell versions of one name apart
	dns      []string // DNS SANs; cn when empty
	ips      []net.IP
	notAfter time.Time // default: a year from now
}

// issue makes an ECDSA P-256 leaf and writes it and its key to certFile
// and keyFile, each by an atomic rename as certbot does, and returns it.
func (ca *testCA) issue(t *testing.T, certFile, keyFile string, s leafSpec) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	names := s.dns
	if len(names) == 0 {
		names = []string{s.cn}
	}
	notAfter := s.notAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	notBefore := time.Now().Add(-time.Hour)
	if notAfter.Before(notBefore) {
		notBefore = notAfter.Add(-30 * 24 * time.Hour)
	}
	subject := pkix.Name{Organization: []string{"quill e2e"}, CommonName: s.cn}
	if s.ou != "" {
		subject.OrganizationalUnit = []string{s.ou}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      subject,
		DNSNames:     names,
		IPAddresses:  s.ips,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// pair issues a certificate into dir as NAME.pem and NAME.key.
func (ca *testCA) pair(t *testing.T, dir, name string, s leafSpec) certPair {
	t.Helper()
	p := certPair{cert: filepath.Join(dir, name+".pem"), key: filepath.Join(dir, name+".key")}
	ca.issue(t, p.cert, p.key, s)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type certPair struct{ cert, key string }

// tlsVIPConfig is a config with the TLS VIP "secure" on addr, serving
// certs by SNI (the first one by default) in front of web. vipExtra is
// added to the VIP's table, tail at the end of the file.
func tlsVIPConfig(addr string, web *backend, vipExtra, tail string, certs ...certPair) string {
	list := make([]string, len(certs))
	for i, c := range certs {
		list[i] = fmt.Sprintf("{ cert = %q, key = %q }", c.cert, c.key)
	}
	return fmt.Sprintf(`[global]
shutdown_timeout = "5s"

[vips.secure]
listen = [%q]
%s
  [vips.secure.tls]
  certificates = [%s]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ name = %q, address = %q }]
%s`, addr, vipExtra, strings.Join(list, ", "), web.name, web.addr, tail)
}

// trusting is curl's arguments to trust caFile and to find host on
// 127.0.0.1 at the port of each of addrs.
func trusting(caFile, host string, addrs ...string) []string {
	args := []string{"--cacert", caFile}
	for _, a := range addrs {
		args = append(args, "--resolve", host+":"+portOf(a)+":127.0.0.1")
	}
	return args
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// runTool runs a client tool with stdin, bounded in time, and returns what it
// wrote to stdout and stderr.
func runTool(t *testing.T, stdin string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// curlVerbose runs curl -v and returns stdout and the verbose stderr.
func curlVerbose(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, err := runTool(t, "", "curl", append([]string{"-sS", "-v", "--max-time", "20"}, args...)...)
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

// servedSubject asks openssl s_client for the certificate served to
// serverName ("" sends no SNI), checks it against ca, and returns its
// subject as openssl x509 prints it.
func servedSubject(t *testing.T, addr, serverName string, ca *testCA) string {
	t.Helper()
	args := []string{"s_client", "-connect", addr, "-CAfile", ca.file, "-verify_return_error"}
	if serverName == "" {
		args = append(args, "-noservername")
	} else {
		args = append(args, "-servername", serverName)
	}
	out, errOut, err := runTool(t, "", "openssl", args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	subject, errOut, err := runTool(t, out, "openssl", "x509", "-noout", "-subject")
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s\ns_client printed:\n%s", err, errOut, out)
	}
	return strings.TrimSpace(subject)
}

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

// keepAliveConn is one client connection doing HTTP/1.1 requests in turn.
type keepAliveConn struct {
	*tls.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr, serverName string, roots *x509.CertPool) *keepAliveConn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAliveConn{Conn: c, br: bufio.NewReader(c)}
}

// get sends one request and reads its answer, which must leave the
// connection open.
func (c *keepAliveConn) get(host, path string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		return "", fmt.Errorf("status %d, close %v: %s", resp.StatusCode, resp.Close, body)
	}
	return string(body), nil
}

// servedSerial does a new handshake and returns the leaf's serial number.
func servedSerial(addr, serverName string, roots *x509.CertPool) (*big.Int, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
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

// startLoopbackDNS answers every A query with 127.0.0.1, over TCP as
// Pebble asks, so that a CA on loopback validates any name against quill.
func startLoopbackDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// pebbleBinary is $QUILL_PEBBLE, or Pebble built now. Without either the
// test is skipped, except in CI, which must provide it.
func pebbleBinary(t *testing.T) string {
	t.Helper()
	const version = "v2.10.1"
	if bin := os.Getenv("QUILL_PEBBLE"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("QUILL_PEBBLE: %v", err)
		}
		return bin
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@"+version)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("no Pebble: QUILL_PEBBLE is not set and building %s failed: %v\n%s", version, err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return filepath.Join(dir, "pebble")
}

// TestTLSACMEWithPebble: a TLS VIP with no certificate file obtains one
// from a real ACME CA, which validates the challenge against quill's own
// listeners, then serves HTTPS with it.
func TestTLSACMEWithPebble(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	bin := pebbleBinary(t)
	ca := newTestCA(t)
	dir := t.TempDir()
	web := startBackend(t, "web")
	vip, plain := freeAddr(t), freeAddr(t)

	// Pebble's own HTTPS endpoints, with a certificate of the test CA.
	pebbleTLS := ca.pair(t, dir, "pebble", leafSpec{cn: "localhost", ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	acmeAddr, mgmtAddr := freeAddr(t), freeAddr(t)
	pcfg, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           acmeAddr,
		"managementListenAddress": mgmtAddr,
		"certificate":             pebbleTLS.cert,
		"privateKey":              pebbleTLS.key,
		"httpPort":                mustAtoi(t, portOf(plain)),
		"tlsPort":                 mustAtoi(t, portOf(vip)),
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
	}})
	if err != nil {
		t.Fatal(err)
	}
	pcfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(pcfgFile, pcfg, 0o644); err != nil {
		t.Fatal(err)
	}
	pebble := exec.Command(bin, "-config", pcfgFile, "-dnsserver", startLoopbackDNS(t))
	pebble.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	pebbleOut := &syncBuffer{}
	pebble.Stdout, pebble.Stderr = pebbleOut, pebbleOut
	if err := pebble.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pebble.Process.Kill()
		pebble.Wait()
		if t.Failed() {
			t.Logf("pebble output:\n%s", pebbleOut)
		}
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	eventually(t, 10*time.Second, func() bool {
		resp, err := client.Get("https://" + acmeAddr + "/dir")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
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
  acme = { email = "ops@quill.test", domains = ["quill.test"], ca = "https://%s/dir", storage = %q, root_ca = %q }
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ name = %q, address = %q }]
`, plain, vip, acmeAddr, filepath.Join(dir, "acme"), ca.file, web.name, web.addr), plain, vip)

	// The root Pebble issues under, fetched as a client would be given it.
	resp, err := client.Get("https://" + mgmtAddr + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("pebble root: not PEM: %q", rootPEM)
	}
	rootFile := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(rootFile, rootPEM, 0o644); err != nil {
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
	if !strings.Contains(quillLog, "served key authentication") || !strings.Contains(pebbleOut.String(), "set VALID by completed challenge") {
		t.Errorf("no challenge validated against quill; quill's log:\n%s", quillLog)
	}
	if _, rest, ok := strings.Cut(quillLog, `"challenge_type": "`); ok {
		challenge, _, _ := strings.Cut(rest, `"`)
		t.Logf("Pebble validated %s against quill", challenge)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testsslFinding is one entry of testssl's --jsonfile.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
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
