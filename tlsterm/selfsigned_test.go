package tlsterm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSelfSigned(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		wantDNS []string
		wantIPs []string
		wantErr bool
	}{
		{name: "names and IPs", names: []string{"demo.quill.test", "localhost", "127.0.0.1", "::1"}, wantDNS: []string{"demo.quill.test", "localhost"}, wantIPs: []string{"127.0.0.1", "::1"}},
		{name: "IP only", names: []string{"192.0.2.7"}, wantIPs: []string{"192.0.2.7"}},
		{name: "no names", names: nil, wantErr: true},
		{name: "URL is not a name", names: []string{"https://demo.quill.test"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, fp, err := SelfSigned(tt.names)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatalf("cert and key do not form a pair: %v", err)
			}
			leaf := pair.Leaf
			if got := strings.Join(leaf.DNSNames, ","); got != strings.Join(tt.wantDNS, ",") {
				t.Errorf("DNS names %s, want %v", got, tt.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if got := strings.Join(ips, ","); got != strings.Join(tt.wantIPs, ",") {
				t.Errorf("IPs %s, want %v", got, tt.wantIPs)
			}
			if leaf.Subject.CommonName != tt.names[0] {
				t.Errorf("CN %q, want %q", leaf.Subject.CommonName, tt.names[0])
			}
			pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Errorf("public key %T, want ECDSA P-256", leaf.PublicKey)
			}
			if life := time.Until(leaf.NotAfter); life < 364*24*time.Hour || life > 367*24*time.Hour {
				t.Errorf("valid for %s more, want about a year", life)
			}
			if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			block, _ := pem.Decode(certPEM)
			sum := sha256.Sum256(block.Bytes)
			if want := strings.ToUpper(fmt.Sprintf("% x", sum[:])); fp != strings.ReplaceAll(want, " ", ":") {
				t.Errorf("fingerprint %s, want %s", fp, want)
			}
			if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
				t.Errorf("fingerprint %q is not colon hex", fp)
			}
			// A client that pins this certificate as its root accepts it.
			roots := x509.NewCertPool()
			roots.AddCert(leaf)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: tt.names[0]}); err != nil && len(tt.wantDNS) > 0 {
				t.Errorf("verify as %s: %v", tt.names[0], err)
			}
		})
	}
}
