package tlsterm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPair(t *testing.T) {
	dir := t.TempDir()
	good := func(name string, kind keyKind) CertFile {
		return writePair(t, dir, name, leafSpec{names: []string{name + ".example.com"}, key: kind})
	}
	ecdsaPair := good("ecdsa-sec1", ecSEC1)
	other := good("other", ecSEC1)
	combined := good("combined", ecPKCS8)
	certData, _ := os.ReadFile(combined.Cert)
	keyData, _ := os.ReadFile(combined.Key)
	combinedPath := writeFile(t, dir, "combined.pem", append(append([]byte{}, certData...), keyData...))
	garbage := writeFile(t, dir, "garbage.pem", []byte("this is not PEM\n"))
	empty := writeFile(t, dir, "empty.pem", []byte("\n"))
	encrypted := writeFile(t, dir, "encrypted.key", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name      string
		file      CertFile
		wantNames []string // leaf DNS names when loading succeeds
		wantChain int      // certificates in the chain
		wantErr   []string // substrings of the error; nil means success
	}{
		{name: "ECDSA SEC1 key with intermediate", file: ecdsaPair, wantNames: []string{"ecdsa-sec1.example.com"}, wantChain: 2},
		{name: "ECDSA PKCS#8 key", file: good("ecdsa-pkcs8", ecPKCS8), wantNames: []string{"ecdsa-pkcs8.example.com"}, wantChain: 2},
		{name: "RSA PKCS#1 key", file: good("rsa-pkcs1", rsaPKCS1), wantNames: []string{"rsa-pkcs1.example.com"}, wantChain: 2},
		{name: "RSA PKCS#8 key", file: good("rsa-pkcs8", rsaPKCS8), wantNames: []string{"rsa-pkcs8.example.com"}, wantChain: 2},
		{name: "Ed25519 PKCS#8 key", file: good("ed25519", ed25519PKCS8), wantNames: []string{"ed25519.example.com"}, wantChain: 2},
		{name: "certificate and key in one file", file: CertFile{Cert: combinedPath, Key: combinedPath}, wantNames: []string{"combined.example.com"}, wantChain: 2},
		{name: "key of another certificate", file: CertFile{Cert: ecdsaPair.Cert, Key: other.Key}, wantErr: []string{ecdsaPair.Cert, other.Key, "does not match"}},
		{name: "garbage certificate", file: CertFile{Cert: garbage, Key: ecdsaPair.Key}, wantErr: []string{garbage, "no PEM data"}},
		{name: "garbage key", file: CertFile{Cert: ecdsaPair.Cert, Key: garbage}, wantErr: []string{garbage, "no PEM data"}},
		{name: "missing certificate", file: CertFile{Cert: missing, Key: ecdsaPair.Key}, wantErr: []string{missing, "no such file"}},
		{name: "missing key", file: CertFile{Cert: ecdsaPair.Cert, Key: missing}, wantErr: []string{missing, "no such file"}},
		{name: "empty certificate file", file: CertFile{Cert: empty, Key: ecdsaPair.Key}, wantErr: []string{empty, "empty"}},
		{name: "key file as certificate", file: CertFile{Cert: ecdsaPair.Key, Key: ecdsaPair.Key}, wantErr: []string{ecdsaPair.Key, "no CERTIFICATE block"}},
		{name: "certificate file as key", file: CertFile{Cert: ecdsaPair.Cert, Key: ecdsaPair.Cert}, wantErr: []string{ecdsaPair.Cert, "no PRIVATE KEY block"}},
		{name: "encrypted key", file: CertFile{Cert: ecdsaPair.Cert, Key: encrypted}, wantErr: []string{encrypted, "encrypted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadPair(tt.file)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("loaded, want an error")
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Leaf.DNSNames; strings.Join(got, ",") != strings.Join(tt.wantNames, ",") {
				t.Errorf("leaf names %v, want %v", got, tt.wantNames)
			}
			if len(c.Certificate) != tt.wantChain {
				t.Errorf("chain of %d certificates, want %d", len(c.Certificate), tt.wantChain)
			}
		})
	}
}

// New must report every broken file, not only the first, so that an
// operator fixes them all in one go.
func TestNewNamesEveryBrokenFile(t *testing.T) {
	dir := t.TempDir()
	good := writePair(t, dir, "good", leafSpec{names: []string{"good.example.com"}})
	bad1 := writeFile(t, dir, "bad1.pem", []byte("junk"))
	bad2 := filepath.Join(dir, "absent.pem")
	_, err := New(Options{Certificates: []CertFile{
		good,
		{Cert: bad1, Key: good.Key},
		{Cert: good.Cert, Key: bad2},
	}}, nil)
	if err == nil {
		t.Fatal("New succeeded with broken files")
	}
	for _, want := range []string{bad1, bad2} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
