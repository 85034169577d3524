package tlsterm

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestNewRejectsOptions(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"a.example.com"}})
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "TLS 1.1 minimum", opts: Options{Certificates: []CertFile{pair}, MinVersion: tls.VersionTLS11}, wantErr: "only TLS 1.2 and 1.3"},
		{name: "no certificate at all", opts: Options{}, wantErr: "no certificate"},
		{name: "negative handshake timeout", opts: Options{Certificates: []CertFile{pair}, HandshakeTimeout: -1}, wantErr: "negative"},
		{name: "ACME without domains", opts: Options{ACME: &ACME{Email: "a@example.com"}}, wantErr: "no domains"},
		{name: "ACME wildcard", opts: Options{ACME: &ACME{Domains: []string{"*.example.com"}}}, wantErr: "DNS-01"},
		{name: "ACME plain HTTP directory", opts: Options{ACME: &ACME{Domains: []string{"a.example.com"}, CA: "http://ca.example/dir"}}, wantErr: "https://"},
		{name: "ACME missing root CA file", opts: Options{ACME: &ACME{Domains: []string{"a.example.com"}, RootCA: dir + "/nope.pem"}}, wantErr: "nope.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term, err := New(tt.opts, nil)
			if err == nil {
				term.Stop()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestCipherSuitesAreAEAD(t *testing.T) {
	insecure := map[uint16]bool{}
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[cs.ID] = true
	}
	for _, id := range cipherSuites {
		name := tls.CipherSuiteName(id)
		if insecure[id] || strings.Contains(name, "CBC") || !strings.Contains(name, "ECDHE") {
			t.Errorf("%s offered: want ECDHE with an AEAD only", name)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"a.example.com"}})
	tests := []struct {
		name       string
		opts       Options
		wantMin    uint16
		wantProtos string
	}{
		{name: "files", opts: Options{Certificates: []CertFile{pair}}, wantMin: tls.VersionTLS12, wantProtos: "h2,http/1.1"},
		{name: "TLS 1.3 only", opts: Options{Certificates: []CertFile{pair}, MinVersion: tls.VersionTLS13}, wantMin: tls.VersionTLS13, wantProtos: "h2,http/1.1"},
		{name: "ACME", opts: Options{ACME: &ACME{Domains: []string{"a.example.com"}, Storage: dir}}, wantMin: tls.VersionTLS12, wantProtos: "h2,http/1.1,acme-tls/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := newTerminator(t, tt.opts)
			for _, c := range []*tls.Config{term.TLSConfig(), term.cur.Load().config} {
				if c.MinVersion != tt.wantMin {
					t.Errorf("MinVersion %x, want %x", c.MinVersion, tt.wantMin)
				}
				if got := strings.Join(c.NextProtos, ","); got != tt.wantProtos {
					t.Errorf("NextProtos %s, want %s", got, tt.wantProtos)
				}
				if c.SessionTicketsDisabled {
					t.Error("session tickets are off")
				}
			}
		})
	}
}
