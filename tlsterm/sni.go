package tlsterm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// nameIndex finds the value registered for a server name: an exact name
// first, then a wildcard covering exactly one leftmost label. Both maps are
// built once at load time so that a handshake only does map lookups.
type nameIndex[T any] struct {
	exact map[string]T
	// wild is keyed by the parent of a wildcard: "*.example.com" is
	// stored under "example.com".
	wild map[string]T
}

func newNameIndex[T any]() nameIndex[T] {
	return nameIndex[T]{exact: map[string]T{}, wild: map[string]T{}}
}

// add registers name unless it is already taken, so that the first
// certificate of the configuration wins a name claimed twice. It reports
// whether name was taken.
func (ix nameIndex[T]) add(name string, v T) bool {
	name = strings.ToLower(name)
	m := ix.exact
	if parent, ok := strings.CutPrefix(name, "*."); ok {
		m, name = ix.wild, parent
	}
	if _, taken := m[name]; taken {
		return false
	}
	m[name] = v
	return true
}

// lookup finds name without allocating unless name has upper-case letters.
func (ix nameIndex[T]) lookup(name string) (T, bool) {
	name = lowerASCII(name)
	if v, ok := ix.exact[name]; ok {
		return v, true
	}
	if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 {
		if v, ok := ix.wild[name[i+1:]]; ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// lowerASCII lower-cases s, returning s itself when it has no upper-case
// ASCII letter, which is the case for nearly every SNI sent by browsers.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// loaded is one certificate of a set with where it came from.
type loaded struct {
	cert   *tls.Certificate
	source CertFile
}

// certSet is an immutable generation of file certificates; a reload builds
// a new one and swaps the pointer, so handshakes never see a half-built set.
type certSet struct {
	certs  []loaded
	byName nameIndex[*tls.Certificate]
	first  *tls.Certificate
}

// loadCertSet loads every file, reporting all broken files at once.
func loadCertSet(files []CertFile) (*certSet, error) {
	s := &certSet{byName: newNameIndex[*tls.Certificate]()}
	var errs []error
	for _, f := range files {
		c, err := loadPair(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.certs = append(s.certs, loaded{cert: c, source: f})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, l := range s.certs {
		for _, n := range leafNames(l.cert.Leaf) {
			s.byName.add(n, l.cert)
		}
	}
	if len(s.certs) > 0 {
		s.first = s.certs[0].cert
	}
	return s, nil
}

// pick chooses the certificate for a ClientHello's server name; clients
// without SNI and unknown names get the first certificate, as most servers
// do, so that IP-addressed health checks still complete a handshake.
func (s *certSet) pick(serverName string) *tls.Certificate {
	if serverName != "" {
		if c, ok := s.byName.lookup(serverName); ok {
			return c
		}
	}
	return s.first
}

// leafNames are the names a certificate is indexed under: its DNS SANs, or
// its common name when it has no SAN at all (legacy certificates).
func leafNames(leaf *x509.Certificate) []string {
	if len(leaf.DNSNames) > 0 {
		return leaf.DNSNames
	}
	if len(leaf.IPAddresses) == 0 && len(leaf.URIs) == 0 && len(leaf.EmailAddresses) == 0 && leaf.Subject.CommonName != "" {
		return []string{leaf.Subject.CommonName}
	}
	return nil
}
