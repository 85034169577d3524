package tlsterm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"
)

// pebbleVersion is the Pebble release the ACME test is written against.
const pebbleVersion = "v2.10.1"

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

// freePort finds a loopback port for Pebble, which needs fixed ports.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pebble is a running Pebble test CA.
type pebble struct {
	directory string // ACME directory URL
	rootCA    string // PEM file Pebble's HTTPS endpoints are signed with
	client    *http.Client
	mgmt      string // management base URL
}

// startPebble runs Pebble on loopback. With dnsAddr it really validates,
// resolving names there and connecting to httpPort or tlsPort; without, it
// runs in always-valid mode and issues for any name without connecting.
func startPebble(t *testing.T, bin string, httpPort, tlsPort int, dnsAddr string) *pebble {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM, _, err := SelfSigned([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	p := &pebble{rootCA: writeFile(t, dir, "pebble.crt", certPEM)}
	keyFile := writeFile(t, dir, "pebble.key", keyPEM)
	acmeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	mgmtAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           acmeAddr,
		"managementListenAddress": mgmtAddr,
		"certificate":             p.rootCA,
		"privateKey":              keyFile,
		"httpPort":                httpPort,
		"tlsPort":                 tlsPort,
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := writeFile(t, dir, "pebble.json", data)

	var out lockedBuffer
	args := []string{"-config", cfgFile}
	env := append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	if dnsAddr != "" {
		args = append(args, "-dnsserver", dnsAddr)
	} else {
		env = append(env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting pebble: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() || os.Getenv("QUILL_PEBBLE_LOG") != "" {
			t.Logf("pebble output:\n%s", out.String())
		}
	})

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	p.directory = "https://" + acmeAddr + "/dir"
	p.mgmt = "https://" + mgmtAddr
	eventually(t, 10*time.Second, "pebble answers", func() bool {
		resp, err := p.client.Get(p.directory)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// issuingRoots fetches the root that Pebble signs certificates with.
func (p *pebble) issuingRoots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("pebble root: not PEM: %q", data)
	}
	return pool
}

// startDNS answers every A query with 127.0.0.1 over TCP, which is how
// Pebble asks, so that a CA on loopback can validate any name against
// quill's listeners.
func startDNS(t *testing.T) string {
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

// TestACMEWithPebble obtains certificates from a real ACME server, once
// without validation and once through each challenge quill answers itself.
// Pebble takes longer to build than this package's tests take to run, so
// the test runs only when QUILL_PEBBLE names a Pebble binary, made for
// instance with
//
//	GOBIN=/tmp/pebble go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1
func TestACMEWithPebble(t *testing.T) {
	bin := os.Getenv("QUILL_PEBBLE")
	if bin == "" {
		t.Skipf("QUILL_PEBBLE is not set; build Pebble with `GOBIN=/tmp/pebble go install github.com/letsencrypt/pebble/v2/cmd/pebble@%s` and set QUILL_PEBBLE=/tmp/pebble/pebble", pebbleVersion)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("QUILL_PEBBLE: %v", err)
	}
	tests := []struct {
		name      string
		validate  bool   // Pebble really validates, through startDNS
		challenge string // the only challenge offered to the CA, if validate
	}{
		{name: "always valid"},
		{name: "HTTP-01", validate: true, challenge: "http-01"},
		{name: "TLS-ALPN-01", validate: true, challenge: "tls-alpn-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testACME(t, bin, tt.validate, tt.challenge)
		})
	}
}

func testACME(t *testing.T, bin string, validate bool, challenge string) {
	// quill's two listeners of the VIP, on ports Pebble is told about.
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsPort, httpPort := tlsLn.Addr().(*net.TCPAddr).Port, httpLn.Addr().(*net.TCPAddr).Port
	var dnsAddr string
	if validate {
		dnsAddr = startDNS(t)
	}
	ca := startPebble(t, bin, httpPort, tlsPort, dnsAddr)

	storage := filepath.Join(t.TempDir(), "acme")
	term, err := New(Options{ACME: &ACME{
		Email:    "ops@quill.test",
		Domains:  []string{"quill.test"},
		CA:       ca.directory,
		Storage:  storage,
		RootCA:   ca.rootCA,
		HTTPPort: httpPort,
		TLSPort:  tlsPort,
	}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(term.Stop)
	switch challenge {
	case "http-01":
		term.acme.issuer.DisableTLSALPNChallenge = true
	case "tls-alpn-01":
		term.acme.issuer.DisableHTTPChallenge = true
	}

	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "proxied") }),
		TLSConfig: term.TLSConfig(),
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	plain := &http.Server{
		Handler: term.HTTPChallenge(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain "+r.URL.Path) })),
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); srv.Serve(term.Listener(tlsLn)) }()
	go func() { defer wg.Done(); plain.Serve(httpLn) }()
	t.Cleanup(func() {
		srv.Close()
		plain.Close()
		wg.Wait()
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := term.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := term.Start(ctx); err == nil {
		t.Error("a second Start succeeded")
	}

	roots := ca.issuingRoots(t)
	var st tls.ConnectionState
	eventually(t, 30*time.Second, "a handshake for quill.test verifies against Pebble's root", func() bool {
		st, err = handshake(tlsLn.Addr().String(), &tls.Config{ServerName: "quill.test", RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
		return err == nil
	})
	if got := st.PeerCertificates[0].DNSNames; !slices.Equal(got, []string{"quill.test"}) {
		t.Errorf("served certificate for %v, want [quill.test]", got)
	}
	if st.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN %q, want h2", st.NegotiatedProtocol)
	}

	t.Run("status page lists the managed certificate", func(t *testing.T) {
		infos := term.Certificates()
		if len(infos) != 1 || infos[0].Source != "acme" || !slices.Equal(infos[0].Names, []string{"quill.test"}) {
			t.Errorf("Certificates() = %+v", infos)
		}
	})
	t.Run("plain HTTP requests reach the next handler", func(t *testing.T) {
		for _, path := range []string{"/", "/.well-known/acme-challenge/unknown-token"} {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, path))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "plain " + path; string(body) != want {
				t.Errorf("GET %s: %q, want %q", path, body, want)
			}
		}
	})
	t.Run("certificate kept in storage", func(t *testing.T) {
		var found bool
		filepath.WalkDir(storage, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "quill.test.crt" {
				found = true
			}
			return nil
		})
		if !found {
			t.Errorf("no quill.test.crt under %s", storage)
		}
	})
}
