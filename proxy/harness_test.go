package proxy

import (
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
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"quill/config"
)

// These helpers run a whole Proxy in the test process, against httptest
// backends on 127.0.0.1, and look at it only from outside: through its
// sockets, the admin API and the process's goroutines and descriptors, so
// that the tests hold whatever engine forwards the requests.

// testCert is a self-signed certificate for quill.test and 127.0.0.1 in
// PEM files.
type testCert struct {
	cert, key string
	leaf      []byte // DER
}

func newTestCert(t *testing.T, dir, name string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{"quill.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCert{cert: filepath.Join(dir, name+".crt"), key: filepath.Join(dir, name+".key"), leaf: der}
	writeTestFile(t, c.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeTestFile(t, c.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	return c
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testBackend is an httptest server that answers with its name and counts
// the requests it got.
type testBackend struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

func newTestBackend(t *testing.T, name string) *testBackend {
	t.Helper()
	b := &testBackend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		fmt.Fprintln(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *testBackend) addr() string { return b.Listener.Addr().String() }

// freeAddr is a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testProxy is a running Proxy and the file its config came from.
type testProxy struct {
	*Proxy
	path string
}

// parseConfig parses src as the file path, then lets edit change the
// result: a test can thus give the proxy what config validation might
// refuse first, to prove the proxy refuses it too.
func parseConfig(t *testing.T, path, src string, edit func(*config.Config)) *config.Config {
	t.Helper()
	cfg, err := config.Parse(path, src)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	if edit != nil {
		edit(cfg)
	}
	return cfg
}

// startProxy runs a Proxy on src until the test ends. Its admin API's
// reload reads the file again.
func startProxy(t *testing.T, src string) *testProxy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quill.toml")
	writeTestFile(t, path, []byte(src))
	p, err := New(parseConfig(t, path, src, nil), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: p, path: path}
	p.SetAdminHandler(NewAdmin(p, func() error {
		cfg, err := config.Load(path)
		if err != nil {
			return err
		}
		return p.Reload(cfg)
	}))
	p.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	return tp
}

// reload writes src as the config file and reloads it, after edit.
func (tp *testProxy) reload(t *testing.T, src string, edit func(*config.Config)) error {
	t.Helper()
	writeTestFile(t, tp.path, []byte(src))
	return tp.Reload(parseConfig(t, tp.path, src, edit))
}

// client makes requests without keeping connections, so that nothing the
// test itself holds counts as the proxy's goroutines or descriptors.
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "quill.test"}}}

// getBody GETs url and returns the status and body.
func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// servedLeaf is the leaf certificate a fresh handshake with addr gets.
func servedLeaf(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, ServerName: "quill.test"})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

func sameLeaf(a, b []byte) bool { return bytes.Equal(a, b) }

// apiServer is a server as GET /api/servers shows it.
type apiServer struct {
	Pool, Name, State string
	Weight            int
	Failures          int
}

// apiServers reads GET /api/servers on the admin address, by server name.
func apiServers(t *testing.T, admin string) map[string]apiServer {
	t.Helper()
	code, body := getBody(t, "http://"+admin+"/api/servers")
	if code != http.StatusOK {
		t.Fatalf("/api/servers: %d %s", code, body)
	}
	var list []apiServer
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("/api/servers: %v: %s", err, body)
	}
	out := map[string]apiServer{}
	for _, s := range list {
		out[s.Name] = s
	}
	return out
}

// bound reports whether something listens on addr: an address nobody
// listens on can be bound by the test.
func bound(t *testing.T, addr string) bool {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return true
	}
	ln.Close()
	return false
}

// openFDs counts the descriptors of this process.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

// listeningSockets counts the descriptors of this process that are
// listening TCP sockets.
func listeningSockets(t *testing.T) int {
	t.Helper()
	listening := map[string]bool{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			// sl local remote st ... inode
			if f := strings.Fields(line); len(f) > 9 && f[3] == "0A" {
				listening[f[9]] = true
			}
		}
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); ok && listening[strings.TrimSuffix(inode, "]")] {
			n++
		}
	}
	return n
}

// settled waits until the goroutine and descriptor counts stop moving and
// returns them: connections the test closed take a moment to end on the
// proxy's side.
func settled(t *testing.T) (goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	g, f := runtime.NumGoroutine(), openFDs(t)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		g2, f2 := runtime.NumGoroutine(), openFDs(t)
		if g2 == g && f2 == f {
			return g, f
		}
		g, f = g2, f2
	}
	return g, f
}

// backTo waits, at most 5 s, until the goroutine and descriptor counts are
// no higher than before.
func backTo(t *testing.T, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), openFDs(t)
		if g <= goroutines && f <= fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d (were %d), descriptors %d (were %d)\n%s",
				g, goroutines, f, fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond every 20 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countLines counts the lines of a file, 0 when it does not exist.
func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}
