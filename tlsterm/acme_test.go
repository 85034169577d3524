package tlsterm

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"quill/internal/pebbletest"
)

// TestACMEWithPebble obtains certificates from a real ACME server, once
// without validation and once through each challenge quill answers itself.
// Pebble takes longer to build than this package's tests take to run, so
// the test runs only when QUILL_PEBBLE names a Pebble binary, made for
// instance with
//
//	GOBIN=/tmp/pebble go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1
func TestACMEWithPebble(t *testing.T) {
	if os.Getenv("QUILL_PEBBLE") == "" {
		t.Skipf("QUILL_PEBBLE is not set; build Pebble with `GOBIN=/tmp/pebble go install github.com/letsencrypt/pebble/v2/cmd/pebble@%s` and set QUILL_PEBBLE=/tmp/pebble/pebble", pebbletest.Version)
	}
	bin := pebbletest.Binary(t)
	tests := []struct {
		name      string
		validate  bool   // Pebble really validates, through pebbletest.StartDNS
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
	opts := pebbletest.Options{Bin: bin, HTTPPort: httpPort, TLSPort: tlsPort, AlwaysValid: !validate}
	if validate {
		opts.DNS = pebbletest.StartDNS(t)
	}
	ca := pebbletest.Start(t, opts)

	storage := filepath.Join(t.TempDir(), "acme")
	term, err := New(Options{ACME: &ACME{
		Email:    "ops@quill.test",
		Domains:  []string{"quill.test"},
		CA:       ca.Directory,
		Storage:  storage,
		RootCA:   ca.RootCA,
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

	roots := ca.IssuingRoots(t)
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
