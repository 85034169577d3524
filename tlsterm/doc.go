// Package tlsterm terminates TLS for quill's VIPs: it loads certificates
// from PEM files or obtains them with ACME, picks one per handshake by SNI,
// reloads them without dropping connections, and counts handshakes.
//
// # Wiring a TLS VIP
//
// One Terminator serves one VIP for the VIP's whole life:
//
//	t, err := tlsterm.New(opts, log)        // error names each bad file
//	defer t.Stop()
//	srv := &http.Server{Handler: h, TLSConfig: t.TLSConfig()}
//	go srv.Serve(t.Listener(tcpListener))   // handshakes counted, HTTP/2 on
//	go t.Watch(ctx, 5*time.Second)          // files replaced on disk
//	err = t.Start(ctx)                      // ACME, once the listeners serve
//	...
//	err = t.Reload(newOpts)                 // on SIGHUP; old set kept on error
//
// Listener runs each handshake itself (with Options.HandshakeTimeout) so
// that failures can be counted, and hands http.Server connections that are
// already *tls.Conn. http.Server.Serve then enables HTTP/2 by itself
// provided srv.TLSConfig is nil or TLSConfig() (whose NextProtos lists
// "h2"); srv.TLSNextProto must be left nil and srv.Protocols, if set, must
// keep HTTP/2 on, since the ALPN list offered to clients always holds "h2"
// and "http/1.1". srv.ServeTLS(tcpListener, "", "") with srv.TLSConfig =
// TLSConfig() also works, HTTP/2 included, but then handshakes are not
// counted.
//
// # ACME
//
// With Options.ACME set, the plain-HTTP VIP on the same address must wrap
// its handler so that HTTP-01 challenges are answered:
//
//	httpSrv := &http.Server{Handler: t.HTTPChallenge(redirectOrProxy)}
//
// TLS-ALPN-01 challenges are answered by the TLS config itself ("acme-tls/1"
// is offered). Start is asynchronous: call it after both listeners serve,
// since the CA connects back to them while Start's work is in progress.
// Options.ACME.HTTPPort and TLSPort tell certmagic which ports the CA uses
// (80 and 443 unless a test CA says otherwise); as quill already listens
// there, certmagic opens no listener of its own.
//
// # Certificate selection
//
// For names managed by ACME the ACME certificate comes first. Otherwise the
// files are searched by the ClientHello's server name, case-insensitively:
// an exact DNS SAN, then a wildcard SAN ("*.example.com" matches
// "a.example.com", not "example.com" nor "a.b.example.com"); the common
// name counts only for certificates without SANs. Unknown names and
// clients without SNI get the first certificate of Options.Certificates.
// When two certificates claim a name the first one listed wins (Check
// warns about it).
//
// # Session tickets
//
// Without Options.TicketSecret, session ticket keys are random, rotated
// every 12 hours, and the two previous keys still decrypt tickets so that
// resumption survives a rotation. They live in memory only: a restart, or
// the other host of a pair taking the VIP, costs clients one full handshake.
//
// With a TicketSecret, the keys are HKDF-SHA256 of the secret, the VIP's
// name and the UTC day: the day's key issues tickets, the previous and the
// next day's still decrypt them, and they change at UTC midnight. Every
// process with the same secret and VIP name holds the same keys, so a
// session started on one host of a pair resumes on the other without the
// hosts talking. The VIP's name is part of the derivation because
// crypto/tls does not check, on resumption, which certificate the session
// was authenticated with: one VIP's ticket must not open a session on a
// VIP serving another certificate.
package tlsterm
