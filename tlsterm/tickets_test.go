package tlsterm

import (
	"crypto/tls"
	"testing"
)

func TestSessionResumption(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	tests := []struct {
		name       string
		mode       serveMode
		version    uint16
		rotations  int  // ticket key rotations between the two connections
		reload     bool // a Reload between the two connections
		wantResume bool
	}{
		{name: "TLS 1.3", version: tls.VersionTLS13, wantResume: true},
		{name: "TLS 1.2", version: tls.VersionTLS12, wantResume: true},
		{name: "TLS 1.3 after a rotation", version: tls.VersionTLS13, rotations: 1, wantResume: true},
		{name: "TLS 1.2 after two rotations", version: tls.VersionTLS12, rotations: ticketKeysKept - 1, wantResume: true},
		{name: "TLS 1.3 once the key is dropped", version: tls.VersionTLS13, rotations: ticketKeysKept},
		{name: "TLS 1.2 once the key is dropped", version: tls.VersionTLS12, rotations: ticketKeysKept},
		{name: "TLS 1.3 after a reload", version: tls.VersionTLS13, reload: true, wantResume: true},
		{name: "ServeTLS after a rotation", mode: viaServeTLS, version: tls.VersionTLS13, rotations: 1, wantResume: true},
		{name: "ServeTLS once the key is dropped", mode: viaServeTLS, version: tls.VersionTLS13, rotations: ticketKeysKept},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := newTerminator(t, Options{Certificates: []CertFile{pair}})
			addr := serve(t, term, tt.mode)
			cfg := clientConfig("quill.test")
			cfg.MinVersion, cfg.MaxVersion = tt.version, tt.version
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			connect := func() tls.ConnectionState {
				c, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// A request makes the client read the TLS 1.3
				// tickets that follow the handshake.
				get(t, c, "quill.test")
				return c.ConnectionState()
			}
			if connect().DidResume {
				t.Fatal("first connection resumed")
			}
			for range tt.rotations {
				rotateRandomKey(term)
			}
			if tt.reload {
				if err := term.Reload(Options{Certificates: []CertFile{pair}}); err != nil {
					t.Fatal(err)
				}
			}
			if got := connect().DidResume; got != tt.wantResume {
				t.Errorf("second connection resumed: %v, want %v", got, tt.wantResume)
			}
		})
	}
}

// rotateRandomKey installs a fresh random key on the live config, as the
// 12-hour rotation does, without waiting for it.
func rotateRandomKey(term *Terminator) {
	term.mu.Lock()
	defer term.mu.Unlock()
	term.tickets.rotate(term.clock.Now())
	term.cur.Load().config.SetSessionTicketKeys(term.tickets.keys)
}
