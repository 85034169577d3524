package tlsterm

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// expiryWarning is how close to its end a certificate draws a warning: two
// weeks leaves time to renew by hand when automation has failed.
const expiryWarning = 14 * 24 * time.Hour

// Check validates a VIP's TLS settings for `quill check` without serving.
// What stops quill from serving is an error: a missing, empty or
// unparsable file, a key that does not match its certificate, a bad
// version or ACME section. What quill would serve but a client may refuse
// is a warning: a certificate expired, not yet valid or expiring within 14
// days at now, a chain out of order, a name claimed by two certificates.
func Check(o Options, now time.Time) (warnings []string, err error) {
	var errs []error
	if _, err := minVersion(o.MinVersion); err != nil {
		errs = append(errs, err)
	}
	if len(o.Certificates) == 0 && o.ACME == nil {
		errs = append(errs, errors.New("no certificate: give certificate files or an ACME section"))
	}
	if o.ACME != nil {
		if err := validateACME(*o.ACME); err != nil {
			errs = append(errs, err)
		}
		if _, err := loadRoots(o.ACME.RootCA); err != nil {
			errs = append(errs, err)
		}
	}
	owner := map[string]string{}
	for _, f := range o.Certificates {
		c, err := loadPair(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		warnings = append(warnings, chainWarnings(f.Cert, c.Certificate, now)...)
		for _, n := range leafNames(c.Leaf) {
			n = strings.ToLower(n)
			if first, ok := owner[n]; ok {
				warnings = append(warnings, fmt.Sprintf("certificate %q: name %q is already served by %q, which wins", f.Cert, n, first))
				continue
			}
			owner[n] = f.Cert
		}
	}
	return warnings, errors.Join(errs...)
}

// chainWarnings looks at the validity of every certificate of a chain and
// at its order, which a browser may forgive but other clients do not.
func chainWarnings(path string, ders [][]byte, now time.Time) []string {
	chain, err := parseDERs(ders)
	if err != nil {
		return []string{fmt.Sprintf("certificate %q: %v", path, err)}
	}
	var w []string
	for i, c := range chain {
		what := "certificate"
		if i > 0 {
			what = fmt.Sprintf("chain certificate %d", i)
		}
		subject := c.Subject.String()
		switch {
		case now.After(c.NotAfter):
			w = append(w, fmt.Sprintf("certificate %q: %s (%s) expired on %s", path, what, subject, c.NotAfter.UTC().Format(time.RFC3339)))
		case now.Before(c.NotBefore):
			w = append(w, fmt.Sprintf("certificate %q: %s (%s) is not valid before %s", path, what, subject, c.NotBefore.UTC().Format(time.RFC3339)))
		case c.NotAfter.Sub(now) < expiryWarning:
			w = append(w, fmt.Sprintf("certificate %q: %s (%s) expires on %s, in less than 14 days", path, what, subject, c.NotAfter.UTC().Format(time.RFC3339)))
		}
		if i > 0 {
			if err := chain[i-1].CheckSignatureFrom(c); err != nil {
				w = append(w, fmt.Sprintf("certificate %q: certificate %d is not signed by certificate %d that follows it; the chain should go from the leaf up", path, i-1, i))
			}
		}
	}
	return w
}

func parseDERs(ders [][]byte) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain[i] = c
	}
	return chain, nil
}
