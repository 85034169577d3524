package tlsterm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// acmeTLS1Protocol is the ALPN name of TLS-ALPN-01 validation (RFC 8737).
const acmeTLS1Protocol = "acme-tls/1"

// acmeManager obtains and renews the certificates of one VIP's ACME
// domains with certmagic. It has its own certmagic cache and config rather
// than certmagic's package defaults, so that two VIPs, or two generations of
// quill's configuration, never share state by accident.
type acmeManager struct {
	opts    ACME
	log     *zap.Logger
	cache   *certmagic.Cache
	cfg     *certmagic.Config
	issuer  *certmagic.ACMEIssuer
	domains nameIndex[struct{}]

	mu      sync.Mutex
	cancel  context.CancelFunc // set by start
	stopped bool
}

func newACMEManager(o ACME, log *zap.Logger) (*acmeManager, error) {
	if err := validateACME(o); err != nil {
		return nil, err
	}
	roots, err := loadRoots(o.RootCA)
	if err != nil {
		return nil, err
	}
	m := &acmeManager{opts: o, log: log, domains: newNameIndex[struct{}]()}
	for _, d := range o.Domains {
		m.domains.add(d, struct{}{})
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		Logger:           log,
	})
	cfg := certmagic.Config{
		Logger: log,
		// Clients without SNI on a VIP that has no certificate file
		// get the first ACME domain's certificate.
		DefaultServerName: strings.ToLower(o.Domains[0]),
	}
	if o.Storage != "" {
		cfg.Storage = &certmagic.FileStorage{Path: o.Storage}
	}
	m.cfg = certmagic.New(m.cache, cfg)
	m.issuer = certmagic.NewACMEIssuer(m.cfg, certmagic.ACMEIssuer{
		CA:             o.CA,
		Email:          o.Email,
		Agreed:         true,
		TrustedRoots:   roots,
		AltHTTPPort:    o.HTTPPort,
		AltTLSALPNPort: o.TLSPort,
		Logger:         log,
	})
	m.cfg.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

// validateACME checks what can be checked without contacting the CA.
func validateACME(o ACME) error {
	var errs []error
	if len(o.Domains) == 0 {
		errs = append(errs, errors.New("acme: no domains"))
	}
	for _, d := range o.Domains {
		switch {
		case strings.HasPrefix(d, "*."):
			errs = append(errs, fmt.Errorf("acme domain %q: wildcard certificates need the DNS-01 challenge, which quill does not solve", d))
		case d == "" || strings.ContainsAny(d, " /:*"):
			errs = append(errs, fmt.Errorf("acme domain %q: not a host name", d))
		}
	}
	if o.CA != "" {
		if u, err := url.Parse(o.CA); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("acme CA %q: want an https:// directory URL", o.CA))
		}
	}
	for _, p := range []struct {
		name string
		port int
	}{{"HTTP", o.HTTPPort}, {"TLS", o.TLSPort}} {
		if p.port < 0 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("acme %s port %d: out of range", p.name, p.port))
		}
	}
	return errors.Join(errs...)
}

// loadRoots returns the system roots plus those of path, or nil (meaning the
// system roots) when path is empty.
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	extra, err := readChain(path)
	if err != nil {
		return nil, fmt.Errorf("acme root CA %q: %w", path, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, c := range extra {
		pool.AddCert(c)
	}
	return pool, nil
}

// sameACME reports whether two ACME settings are equal, so that Reload can
// tell a change it cannot apply from an unchanged section.
func sameACME(a, b *ACME) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Email == b.Email && slices.Equal(a.Domains, b.Domains) && a.CA == b.CA &&
		a.Storage == b.Storage && a.RootCA == b.RootCA && a.HTTPPort == b.HTTPPort && a.TLSPort == b.TLSPort
}

// Start begins ACME management: certificates already in storage are loaded
// and those missing or due are obtained or renewed, then renewed for as
// long as the Terminator runs, with OCSP responses stapled. It works in the
// background and returns at once, because validation needs quill's own
// listeners to be serving: the proxy calls Start after it has started
// serving both the HTTPS listener and the plain-HTTP one wrapped by
// HTTPChallenge. Until a managed name has its certificate, handshakes for it
// get the file certificates, if any. Progress and failures are logged;
// failures are retried with backoff. Without ACME, Start does nothing.
// Cancelling ctx, like Stop, ends the management.
func (t *Terminator) Start(ctx context.Context) error {
	if t.acme == nil {
		return nil
	}
	return t.acme.start(ctx)
}

func (m *acmeManager) start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.stopped:
		return errors.New("acme: terminator is stopped")
	case m.cancel != nil:
		return errors.New("acme: already started")
	}
	ctx, m.cancel = context.WithCancel(ctx)
	if err := m.cfg.ManageAsync(ctx, m.opts.Domains); err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	m.log.Info("managing certificates", zap.Strings("domains", m.opts.Domains), zap.String("ca", m.issuer.CA))
	return nil
}

func (m *acmeManager) stop() {
	m.mu.Lock()
	m.stopped = true
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Unlock()
	m.cache.Stop()
}

// HTTPChallenge wraps the handler of the plain-HTTP VIP on the same address
// so that it answers the CA's HTTP-01 requests
// (/.well-known/acme-challenge/...) for challenges this process started;
// everything else goes to next. Without ACME it returns next.
func (t *Terminator) HTTPChallenge(next http.Handler) http.Handler {
	if t.acme == nil {
		return next
	}
	return t.acme.issuer.HTTPChallengeHandler(next)
}

// manages reports whether serverName is one of the ACME domains.
func (m *acmeManager) manages(serverName string) bool {
	if serverName == "" {
		return false
	}
	_, ok := m.domains.lookup(serverName)
	return ok
}

// isACMEChallenge recognizes a TLS-ALPN-01 validation handshake: the CA
// offers acme-tls/1 and nothing else.
func isACMEChallenge(hello *tls.ClientHelloInfo) bool {
	return hello.ServerName != "" && len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1Protocol
}

func (m *acmeManager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c, err := m.cfg.GetCertificate(hello)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// certificates describes the managed certificates in the cache.
func (m *acmeManager) certificates() []CertInfo {
	var infos []CertInfo
	seen := map[string]bool{}
	for _, d := range m.opts.Domains {
		for _, c := range m.cache.AllMatchingCertificates(strings.ToLower(d)) {
			if seen[c.Hash()] || len(c.Certificate.Certificate) == 0 {
				continue
			}
			seen[c.Hash()] = true
			tc := c.Certificate
			if tc.Leaf == nil {
				leaf, err := x509.ParseCertificate(tc.Certificate[0])
				if err != nil {
					continue
				}
				tc.Leaf = leaf
			}
			infos = append(infos, certInfo(&tc, "acme"))
		}
	}
	return infos
}
