package tlsterm

import "time"

// CertFile is one certificate of a TLS VIP, read from PEM files so that an
// operator can replace them on disk without restarting quill.
type CertFile struct {
	// Cert is the PEM file with the leaf certificate first, then the
	// intermediates that clients need to build a chain.
	Cert string
	// Key is the PEM file with the leaf's unencrypted private key: RSA,
	// ECDSA or Ed25519, in PKCS#1, PKCS#8 or SEC1 ("EC PRIVATE KEY") form.
	// It may be the same file as Cert.
	Key string
}

// ACME asks a certificate authority for the certificates of some names and
// renews them before they expire.
type ACME struct {
	// Email is the account's contact address; the CA writes to it about
	// expiring certificates and policy changes.
	Email string
	// Domains are the names to obtain certificates for. "*.example.com"
	// needs a DNS challenge, which quill does not solve.
	Domains []string
	// CA is the ACME directory URL; empty means Let's Encrypt production.
	CA string
	// Storage is the directory that keeps accounts, keys and certificates
	// across restarts; empty means certmagic's default under the user's
	// data directory.
	Storage string
	// RootCA is an optional PEM file of extra roots to trust for the CA's
	// own HTTPS endpoint, for private or test CAs such as Pebble.
	RootCA string
	// HTTPPort and TLSPort are the ports on which the CA reaches this host
	// for HTTP-01 and TLS-ALPN-01 validation; zero means 80 and 443.
	// quill answers the challenges on the VIP's own listeners, so these
	// ports are normally already bound by quill; only when nothing listens
	// on them does certmagic open a short-lived challenge listener there.
	HTTPPort int
	TLSPort  int
}

// Options describe what one TLS VIP serves.
type Options struct {
	// Certificates are served by SNI: an exact name first, then a
	// wildcard, then the first certificate of the list.
	Certificates []CertFile
	// ACME, if set, obtains and renews certificates for its domains; those
	// names are answered with the ACME certificate before any file.
	ACME *ACME
	// MinVersion is tls.VersionTLS12 (the default when zero) or
	// tls.VersionTLS13; older versions are refused.
	MinVersion uint16
	// HandshakeTimeout bounds each handshake run by Terminator.Listener so
	// that a silent client cannot hold a goroutine; zero means 10 s.
	HandshakeTimeout time.Duration
	// TicketSecret, if set, is what the session ticket keys derive from,
	// with VIP and the UTC day, so that every quill with the same secret
	// and VIP name resumes the TLS sessions of the others. Empty: random
	// keys of this process, rotated every 12 hours.
	TicketSecret []byte
	// VIP is the name of the VIP. It is part of the derivation, so that a
	// ticket issued on one VIP never resumes a session on another.
	VIP string
	// OnHandshake, if set, learns the outcome of every handshake run by
	// Terminator.Listener, for a metrics collector. version is zero when
	// the handshake failed before a version was agreed. It is called from
	// the handshake goroutines and must be quick and safe for concurrent use.
	OnHandshake func(version uint16, err error)
}

// defaultHandshakeTimeout is long enough for a slow mobile client and short
// enough that idle sockets do not pile up.
const defaultHandshakeTimeout = 10 * time.Second
