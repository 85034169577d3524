package tlsterm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// loadPair reads one certificate chain and its key, and proves that they
// belong together, so that a wrong file is refused at load time instead of
// failing every handshake later.
func loadPair(f CertFile) (*tls.Certificate, error) {
	chain, err := readChain(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", f.Cert, err)
	}
	key, err := readKey(f.Key)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", f.Key, err)
	}
	leaf := chain[0]
	if !publicKeyMatches(leaf.PublicKey, key) {
		return nil, fmt.Errorf("certificate %q and key %q: the private key does not match the certificate's public key", f.Cert, f.Key)
	}
	ders := make([][]byte, len(chain))
	for i, c := range chain {
		ders[i] = c.Raw
	}
	return &tls.Certificate{Certificate: ders, PrivateKey: key, Leaf: leaf}, nil
}

// readChain returns every CERTIFICATE block of a PEM file in file order.
// Other blocks are skipped so that a combined cert+key file also works.
func readChain(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("file is empty")
	}
	var chain []*x509.Certificate
	blocks := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", blocks, err)
		}
		chain = append(chain, c)
	}
	switch {
	case blocks == 0:
		return nil, errors.New("no PEM data")
	case len(chain) == 0:
		return nil, errors.New("no CERTIFICATE block")
	}
	return chain, nil
}

// readKey returns the first private key of a PEM file, whichever of the
// usual encodings it is in.
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("file is empty")
	}
	blocks := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return nil, errors.New("encrypted private keys are not supported: decrypt it first")
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS#1 RSA key: %w", err)
			}
			return k, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("SEC1 EC key: %w", err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS#8 key: %w", err)
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				return k, nil
			case *ecdsa.PrivateKey:
				return k, nil
			case ed25519.PrivateKey:
				return k, nil
			default:
				return nil, fmt.Errorf("PKCS#8 key of type %T cannot sign TLS handshakes", k)
			}
		}
	}
	if blocks == 0 {
		return nil, errors.New("no PEM data")
	}
	return nil, errors.New("no PRIVATE KEY block")
}

// publicKeyMatches reports whether key is the private half of pub.
func publicKeyMatches(pub any, key crypto.Signer) bool {
	p, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && p.Equal(pub)
}
