package tlsterm

import (
	"bytes"
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
)

// servedLeaf returns the leaf a fresh handshake gets for serverName.
func servedLeaf(t testing.TB, addr, serverName string) []byte {
	t.Helper()
	st, err := handshake(addr, clientConfig(serverName))
	if err != nil {
		t.Fatal(err)
	}
	return st.PeerCertificates[0].Raw
}

func TestReloadSwapsCertificate(t *testing.T) {
	for _, mode := range []serveMode{viaListener, viaServeTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			a := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
			b := writePair(t, dir, "b", leafSpec{names: []string{"quill.test"}})
			term := newTerminator(t, Options{Certificates: []CertFile{a}})
			addr := serve(t, term, mode)

			open, err := tls.Dial("tcp", addr, clientConfig("quill.test"))
			if err != nil {
				t.Fatal(err)
			}
			defer open.Close()
			if body := get(t, open, "quill.test"); body != "HTTP/1.1 quill.test" {
				t.Fatalf("before reload: %q", body)
			}

			if err := term.Reload(Options{Certificates: []CertFile{b}}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(servedLeaf(t, addr, "quill.test"), leafOf(t, b.Cert).Raw) {
				t.Error("a new handshake still gets the old certificate")
			}
			if body := get(t, open, "quill.test"); body != "HTTP/1.1 quill.test" {
				t.Errorf("the connection opened before the reload broke: %q", body)
			}
			if !bytes.Equal(open.ConnectionState().PeerCertificates[0].Raw, leafOf(t, a.Cert).Raw) {
				t.Error("the open connection changed certificate")
			}
			if got := term.Certificates(); len(got) != 1 || got[0].Source != b.Cert {
				t.Errorf("Certificates() = %+v, want only %s", got, b.Cert)
			}
		})
	}
}

// MinVersion follows a reload too, even through the clone ServeTLS makes.
func TestReloadMinVersion(t *testing.T) {
	for _, mode := range []serveMode{viaListener, viaServeTLS} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			a := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
			term := newTerminator(t, Options{Certificates: []CertFile{a}})
			addr := serve(t, term, mode)
			tls12 := clientConfig("quill.test")
			tls12.MaxVersion = tls.VersionTLS12
			if _, err := handshake(addr, tls12); err != nil {
				t.Fatalf("TLS 1.2 before the reload: %v", err)
			}
			if err := term.Reload(Options{Certificates: []CertFile{a}, MinVersion: tls.VersionTLS13}); err != nil {
				t.Fatal(err)
			}
			if _, err := handshake(addr, tls12); err == nil {
				t.Error("TLS 1.2 still accepted after raising MinVersion to 1.3")
			}
		})
	}
}

func TestReloadKeepsOldOnError(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	b := writePair(t, dir, "b", leafSpec{names: []string{"quill.test"}})
	garbage := writeFile(t, dir, "garbage.crt", []byte("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n"))
	missing := filepath.Join(dir, "missing.key")

	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "broken certificate file", opts: Options{Certificates: []CertFile{{Cert: garbage, Key: b.Key}}}, wantErr: garbage},
		{name: "missing key file", opts: Options{Certificates: []CertFile{{Cert: b.Cert, Key: missing}}}, wantErr: missing},
		{name: "key of another certificate", opts: Options{Certificates: []CertFile{{Cert: b.Cert, Key: a.Key}}}, wantErr: "does not match"},
		{name: "one good and one broken file", opts: Options{Certificates: []CertFile{b, {Cert: garbage, Key: b.Key}}}, wantErr: garbage},
		{name: "TLS 1.1", opts: Options{Certificates: []CertFile{b}, MinVersion: tls.VersionTLS11}, wantErr: "only TLS 1.2 and 1.3"},
		{name: "no certificates", opts: Options{}, wantErr: "no certificate"},
		{name: "ACME added", opts: Options{Certificates: []CertFile{b}, ACME: &ACME{Domains: []string{"quill.test"}}}, wantErr: "restart"},
	}
	term := newTerminator(t, Options{Certificates: []CertFile{a}})
	addr := serve(t, term, viaListener)
	want := leafOf(t, a.Cert).Raw
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := term.Reload(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Reload error %v, want one mentioning %q", err, tt.wantErr)
			}
			if !bytes.Equal(servedLeaf(t, addr, "quill.test"), want) {
				t.Error("the old certificate is no longer served")
			}
			if got := term.Certificates(); len(got) != 1 || got[0].Source != a.Cert {
				t.Errorf("Certificates() = %+v, want only %s", got, a.Cert)
			}
		})
	}
}

func TestCertificates(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a", leafSpec{names: []string{"a.example.com", "127.0.0.1"}})
	legacy := writePair(t, dir, "legacy", leafSpec{cn: "legacy.example.net"})
	term := newTerminator(t, Options{Certificates: []CertFile{a, legacy}})
	got := term.Certificates()
	tests := []struct {
		name      string
		info      CertInfo
		wantNames string
		source    string
	}{
		{name: "SANs", info: got[0], wantNames: "a.example.com,127.0.0.1", source: a.Cert},
		{name: "common name only", info: got[1], wantNames: "legacy.example.net", source: legacy.Cert},
	}
	if len(got) != len(tests) {
		t.Fatalf("%d certificates, want %d", len(got), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Join(tt.info.Names, ","); n != tt.wantNames {
				t.Errorf("names %s, want %s", n, tt.wantNames)
			}
			if tt.info.Source != tt.source {
				t.Errorf("source %s, want %s", tt.info.Source, tt.source)
			}
			if !strings.Contains(tt.info.Subject, "CN=") || tt.info.NotAfter.IsZero() {
				t.Errorf("incomplete info %+v", tt.info)
			}
		})
	}
}

// A prepared set is not served until Commit; a set that fails to prepare
// leaves the served one alone.
func TestPrepareCommit(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	b := writePair(t, dir, "b", leafSpec{names: []string{"quill.test"}})
	term := newTerminator(t, Options{Certificates: []CertFile{a}})
	addr := serve(t, term, viaListener)
	tests := []struct {
		name    string
		opts    Options
		commit  bool
		wantErr string
		want    CertFile
	}{
		{name: "prepared, not committed", opts: Options{Certificates: []CertFile{b}}, want: a},
		{name: "mismatched key", opts: Options{Certificates: []CertFile{{Cert: b.Cert, Key: a.Key}}}, wantErr: "does not match", want: a},
		{name: "committed", opts: Options{Certificates: []CertFile{b}}, commit: true, want: b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := term.Prepare(tt.opts)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Prepare error %v, want one mentioning %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			}
			if tt.commit {
				next.Commit()
			}
			if !bytes.Equal(servedLeaf(t, addr, "quill.test"), leafOf(t, tt.want.Cert).Raw) {
				t.Errorf("served certificate is not %s", tt.want.Cert)
			}
			if got := term.Certificates(); len(got) != 1 || got[0].Source != tt.want.Cert {
				t.Errorf("Certificates() = %+v, want only %s", got, tt.want.Cert)
			}
		})
	}
}
