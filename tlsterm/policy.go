package tlsterm

import (
	"crypto/tls"
	"fmt"
)

// minVersion validates Options.MinVersion, defaulting to TLS 1.2.
func minVersion(v uint16) (uint16, error) {
	switch v {
	case 0:
		return tls.VersionTLS12, nil
	case tls.VersionTLS12, tls.VersionTLS13:
		return v, nil
	default:
		return 0, fmt.Errorf("min version %s: only TLS 1.2 and 1.3 are supported", tls.VersionName(v))
	}
}

// nextProtos are the ALPN protocols a VIP offers: HTTP/2 first so that
// capable clients multiplex, and acme-tls/1 only when ACME may need to
// answer a TLS-ALPN-01 challenge.
func nextProtos(withACME bool) []string {
	p := []string{"h2", "http/1.1"}
	if withACME {
		p = append(p, acmeTLS1Protocol)
	}
	return p
}

// cipherSuites are the TLS 1.2 suites offered: ECDHE with AEAD only, as in
// Mozilla's "intermediate" profile. Go's defaults add ECDHE with AES-CBC,
// which scanners rate weak (LUCKY13) and no current client needs. TLS 1.3
// suites are not configurable and all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// servingConfig is the tls.Config that handshakes of one generation really
// use (returned from GetConfigForClient). Keeping it apart from the config
// handed to http.Server matters because ServeTLS clones that one, and a
// clone would keep stale session ticket keys and a stale MinVersion.
// Go's curve preferences are kept on purpose (they include the post-quantum
// hybrid).
func (t *Terminator) servingConfig(minVersion uint16) *tls.Config {
	return &tls.Config{
		MinVersion:     minVersion,
		CipherSuites:   cipherSuites,
		NextProtos:     nextProtos(t.acme != nil),
		GetCertificate: t.getCertificate,
	}
}
