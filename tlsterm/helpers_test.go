package tlsterm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// keyKind is the private key type and PEM encoding of a test certificate.
type keyKind int

const (
	ecSEC1 keyKind = iota
	ecPKCS8
	rsaPKCS1
	rsaPKCS8
	ed25519PKCS8
)

// issuer is a test CA.
type issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
	// chain is what a leaf signed by this issuer sends after itself.
	chain [][]byte
}

// testPKI is a root and an intermediate, shared by all tests because key
// generation is the slow part of these tests under -race.
var testPKI = sync.OnceValue(func() struct{ root, inter *issuer } {
	root := newIssuer(nil, "quill test root")
	inter := newIssuer(root, "quill test intermediate")
	return struct{ root, inter *issuer }{root, inter}
})

// rsaKey is generated once: a 2048-bit RSA key takes a while.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newIssuer(parent *issuer, cn string) *issuer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	signerCert, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	is := &issuer{cert: c, key: key}
	if parent != nil {
		is.chain = [][]byte{der}
	}
	return is
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 96))
	if err != nil {
		panic(err)
	}
	return n
}

// rootPool trusts the test root.
func rootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(testPKI().root.cert)
	return p
}

// leafSpec describes a test certificate.
type leafSpec struct {
	names     []string // DNS names; IP literals become IP SANs
	cn        string   // defaults to names[0]
	key       keyKind
	notBefore time.Time // zero means an hour ago
	notAfter  time.Time // zero means in 90 days
}

// newLeaf signs a leaf with the intermediate and returns its DER chain
// (leaf, intermediate) and key.
func newLeaf(t testing.TB, s leafSpec) ([][]byte, crypto.Signer) {
	t.Helper()
	var key crypto.Signer
	var err error
	switch s.key {
	case ecSEC1, ecPKCS8:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case rsaPKCS1, rsaPKCS8:
		key = rsaKey()
	case ed25519PKCS8:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.cn},
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.Subject.CommonName == "" && len(s.names) > 0 {
		tmpl.Subject.CommonName = s.names[0]
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	for _, n := range s.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	inter := testPKI().inter
	der, err := x509.CreateCertificate(rand.Reader, tmpl, inter.cert, key.Public(), inter.key)
	if err != nil {
		t.Fatal(err)
	}
	return append([][]byte{der}, inter.chain...), key
}

func certPEM(ders [][]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	return out
}

func keyPEM(t testing.TB, key crypto.Signer, kind keyKind) []byte {
	t.Helper()
	var b *pem.Block
	switch kind {
	case ecSEC1:
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		b = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case rsaPKCS1:
		b = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}
	default:
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		b = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return pem.EncodeToMemory(b)
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// replaceFile swaps a file atomically, the way deployment tools do.
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// writePair writes a fresh certificate and key for s under dir, using
// prefix for the file names.
func writePair(t testing.TB, dir, prefix string, s leafSpec) CertFile {
	t.Helper()
	ders, key := newLeaf(t, s)
	return CertFile{
		Cert: writeFile(t, dir, prefix+".crt", certPEM(ders)),
		Key:  writeFile(t, dir, prefix+".key", keyPEM(t, key, s.key)),
	}
}

// leafOf parses the leaf of a PEM file, to compare with what a server sent.
func leafOf(t testing.TB, certFile string) *x509.Certificate {
	t.Helper()
	chain, err := readChain(certFile)
	if err != nil {
		t.Fatal(err)
	}
	return chain[0]
}

// newTerminator builds a Terminator that is stopped when the test ends.
func newTerminator(t testing.TB, o Options) *Terminator {
	t.Helper()
	term, err := New(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(term.Stop)
	return term
}

// clientConfig trusts the test root and asks for serverName.
func clientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: rootPool(), ServerName: serverName}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
