package tlsterm

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
)

// ACME names go to certmagic first; everything else, and ACME names whose
// certificate is not there yet, go to the files. No CA is needed: a
// certificate is put in certmagic's cache directly, as an obtained one
// would be.
func TestCertificateSources(t *testing.T) {
	dir := t.TempDir()
	files := writePair(t, dir, "files", leafSpec{names: []string{"files.example.com", "quill.test"}})
	managed := writePair(t, dir, "managed", leafSpec{names: []string{"quill.test"}})
	term := newTerminator(t, Options{
		Certificates: []CertFile{files},
		ACME:         &ACME{Domains: []string{"quill.test", "pending.test"}, Storage: t.TempDir()},
	})
	pair, err := loadPair(managed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := term.acme.cfg.CacheUnmanagedTLSCertificate(context.Background(), *pair, nil); err != nil {
		t.Fatal(err)
	}
	filesLeaf, managedLeaf := leafOf(t, files.Cert), leafOf(t, managed.Cert)

	tests := []struct {
		name    string
		hello   tls.ClientHelloInfo
		want    []byte // the leaf expected; nil means an error
		wantErr bool
	}{
		{name: "ACME name from certmagic", hello: tls.ClientHelloInfo{ServerName: "quill.test"}, want: managedLeaf.Raw},
		{name: "ACME name in upper case", hello: tls.ClientHelloInfo{ServerName: "QUILL.test"}, want: managedLeaf.Raw},
		{name: "ACME name not obtained yet falls back to files", hello: tls.ClientHelloInfo{ServerName: "pending.test"}, want: filesLeaf.Raw},
		{name: "file name", hello: tls.ClientHelloInfo{ServerName: "files.example.com"}, want: filesLeaf.Raw},
		{name: "no SNI gets the first file", hello: tls.ClientHelloInfo{}, want: filesLeaf.Raw},
		{name: "TLS-ALPN challenge never gets a file certificate", hello: tls.ClientHelloInfo{ServerName: "quill.test", SupportedProtos: []string{"acme-tls/1"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// certmagic logs the peer's address.
			conn, peer := net.Pipe()
			defer conn.Close()
			defer peer.Close()
			hello := tt.hello
			hello.Conn = conn
			c, err := term.getCertificate(&hello)
			if tt.wantErr {
				if err == nil {
					t.Fatal("got a certificate, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(c.Certificate[0]) != string(tt.want) {
				t.Errorf("served %s from the wrong source", c.Leaf.Subject)
			}
		})
	}
}
