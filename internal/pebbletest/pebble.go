// Package pebbletest runs Pebble, the ACME test server of Let's Encrypt,
// on loopback, for tests that obtain certificates from a real CA: it finds
// or builds the binary, starts it with a certificate of its own for its
// HTTPS endpoints, and answers its DNS queries with 127.0.0.1 so that it
// validates challenges against listeners on loopback.
package pebbletest

import (
	"bytes"
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
	"sync"
	"testing"
	"time"
)

// Version is the Pebble release the tests are written against, and the
// one Binary builds.
const Version = "v2.10.1"

// Binary returns the Pebble binary that $QUILL_PEBBLE names, failing the
// test when that file does not exist. Without $QUILL_PEBBLE it builds
// Version into a temporary directory with go install; when that fails too
// the test is skipped, except in CI ($CI set), which must provide Pebble,
// and there it fails.
func Binary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("QUILL_PEBBLE"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			tb.Fatalf("QUILL_PEBBLE: %v", err)
		}
		return bin
	}
	dir := tb.TempDir()
	cmd := exec.Command("go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@"+Version)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("no Pebble: QUILL_PEBBLE is not set and building %s failed: %v\n%s", Version, err, out)
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return filepath.Join(dir, "pebble")
}

// Options say how Pebble runs.
type Options struct {
	// Bin is the Pebble binary, as Binary returns it.
	Bin string
	// HTTPPort and TLSPort are the ports Pebble connects to on the names
	// it validates, for HTTP-01 and TLS-ALPN-01 challenges.
	HTTPPort, TLSPort int
	// DNS is the address of the DNS server Pebble resolves those names
	// with, as StartDNS returns it; empty leaves Pebble its default.
	DNS string
	// AlwaysValid makes Pebble issue for any name without validating it
	// (PEBBLE_VA_ALWAYS_VALID).
	AlwaysValid bool
}

// Pebble is a running Pebble, killed when the test that started it ends.
type Pebble struct {
	// Directory is the URL of the ACME directory.
	Directory string
	// RootCA is a PEM file of the certificate that Pebble's HTTPS
	// endpoints serve, for a client to trust (root_ca, TrustedRoots).
	RootCA string

	mgmt   string // base URL of the management endpoint
	client *http.Client
	out    *lockedBuffer
}

// Start runs Pebble on loopback ports of its own and waits until its
// directory answers. Pebble runs with PEBBLE_VA_NOSLEEP=1 and
// PEBBLE_WFE_NONCEREJECT=0, so that it neither waits before validating
// nor rejects nonces at random. Its output is logged when the test fails,
// or always with $QUILL_PEBBLE_LOG set.
func Start(tb testing.TB, o Options) *Pebble {
	tb.Helper()
	dir := tb.TempDir()
	certPEM, keyPEM := selfSigned(tb)
	p := &Pebble{RootCA: writeFile(tb, dir, "pebble.crt", certPEM, 0o644), out: &lockedBuffer{}}
	keyFile := writeFile(tb, dir, "pebble.key", keyPEM, 0o600)
	acmeAddr, mgmtAddr := freeAddr(tb), freeAddr(tb)
	cfg, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           acmeAddr,
		"managementListenAddress": mgmtAddr,
		"certificate":             p.RootCA,
		"privateKey":              keyFile,
		"httpPort":                o.HTTPPort,
		"tlsPort":                 o.TLSPort,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
	}})
	if err != nil {
		tb.Fatal(err)
	}
	cfgFile := writeFile(tb, dir, "pebble.json", cfg, 0o644)

	args := []string{"-config", cfgFile}
	if o.DNS != "" {
		args = append(args, "-dnsserver", o.DNS)
	}
	cmd := exec.Command(o.Bin, args...)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	if o.AlwaysValid {
		cmd.Env = append(cmd.Env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting pebble: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() || os.Getenv("QUILL_PEBBLE_LOG") != "" {
			tb.Logf("pebble output:\n%s", p.out)
		}
	})

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	p.Directory = "https://" + acmeAddr + "/dir"
	p.mgmt = "https://" + mgmtAddr
	const within = 10 * time.Second
	for deadline := time.Now().Add(within); !p.answers(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("pebble did not answer at %s within %s", p.Directory, within)
		}
	}
	return p
}

// answers tells whether Pebble's directory answers 200.
func (p *Pebble) answers() bool {
	resp, err := p.client.Get(p.Directory)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Output is what Pebble has written to stdout and stderr so far.
func (p *Pebble) Output() string { return p.out.String() }

// IssuingRootPEM fetches the root that Pebble signs certificates with, as
// PEM, from its management endpoint, as a client would be given it.
func (p *Pebble) IssuingRootPEM(tb testing.TB) []byte {
	tb.Helper()
	resp, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// IssuingRoots is a pool of the root that Pebble signs certificates with,
// to verify what it issued.
func (p *Pebble) IssuingRoots(tb testing.TB) *x509.CertPool {
	tb.Helper()
	data := p.IssuingRootPEM(tb)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		tb.Fatalf("pebble root: not PEM: %q", data)
	}
	return pool
}

// selfSigned makes the ECDSA P-256 certificate, for localhost and
// 127.0.0.1, and the PKCS#8 key that Pebble's HTTPS endpoints serve.
func selfSigned(tb testing.TB) (certPEM, keyPEM []byte) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"quill pebbletest"}},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// writeFile writes data to dir/name with mode perm and returns the path.
func writeFile(tb testing.TB, dir, name string, data []byte, perm os.FileMode) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, perm); err != nil {
		tb.Fatal(err)
	}
	return path
}

// freeAddr returns a loopback address with a port nobody listens on now;
// Pebble takes fixed addresses, not listeners.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a child process's output for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
