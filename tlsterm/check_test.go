package tlsterm

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	healthy := writePair(t, dir, "healthy", leafSpec{names: []string{"ok.example.com"}})
	expired := writePair(t, dir, "expired", leafSpec{names: []string{"old.example.com"}, notBefore: now.AddDate(-1, 0, 0), notAfter: now.AddDate(0, 0, -3)})
	future := writePair(t, dir, "future", leafSpec{names: []string{"new.example.com"}, notBefore: now.AddDate(0, 0, 2), notAfter: now.AddDate(1, 0, 0)})
	soon := writePair(t, dir, "soon", leafSpec{names: []string{"soon.example.com"}, notAfter: now.AddDate(0, 0, 5)})
	dup := writePair(t, dir, "dup", leafSpec{names: []string{"ok.example.com"}})
	ders, key := newLeaf(t, leafSpec{names: []string{"order.example.com"}})
	reversed := CertFile{
		Cert: writeFile(t, dir, "reversed.crt", certPEM([][]byte{ders[1], ders[0]})),
		Key:  writeFile(t, dir, "reversed.key", keyPEM(t, key, ecSEC1)),
	}
	// Reversed, the leaf is no longer first: it must not match the key.
	outOfOrder := CertFile{
		Cert: writeFile(t, dir, "unordered.crt", certPEM([][]byte{ders[0], ders[0]})),
		Key:  reversed.Key,
	}
	missing := filepath.Join(dir, "missing.crt")

	tests := []struct {
		name         string
		opts         Options
		wantWarnings []string // substrings, one per expected warning
		wantErr      []string
	}{
		{name: "healthy", opts: Options{Certificates: []CertFile{healthy}}},
		{name: "expired is a warning", opts: Options{Certificates: []CertFile{expired}}, wantWarnings: []string{"expired on"}},
		{name: "not yet valid", opts: Options{Certificates: []CertFile{future}}, wantWarnings: []string{"not valid before"}},
		{name: "expiring in 5 days", opts: Options{Certificates: []CertFile{soon}}, wantWarnings: []string{"less than 14 days"}},
		{name: "name served twice", opts: Options{Certificates: []CertFile{healthy, dup}}, wantWarnings: []string{`"ok.example.com" is already served by`}},
		{name: "chain not in order", opts: Options{Certificates: []CertFile{outOfOrder}}, wantWarnings: []string{"not signed by certificate 1"}},
		{name: "intermediate first", opts: Options{Certificates: []CertFile{reversed}}, wantErr: []string{"does not match"}},
		{name: "missing file", opts: Options{Certificates: []CertFile{{Cert: missing, Key: healthy.Key}}}, wantErr: []string{missing}},
		{name: "every error at once", opts: Options{Certificates: []CertFile{{Cert: missing, Key: healthy.Key}, {Cert: healthy.Cert, Key: expired.Key}}, MinVersion: 0x0301}, wantErr: []string{missing, "does not match", "only TLS 1.2 and 1.3"}},
		{name: "nothing to serve", opts: Options{}, wantErr: []string{"no certificate"}},
		{name: "ACME without domains", opts: Options{ACME: &ACME{}}, wantErr: []string{"no domains"}},
		{name: "ACME root CA unreadable", opts: Options{ACME: &ACME{Domains: []string{"a.example.com"}, RootCA: healthy.Key}}, wantErr: []string{"no CERTIFICATE block"}},
		{name: "ACME fine", opts: Options{ACME: &ACME{Domains: []string{"a.example.com"}, RootCA: healthy.Cert}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, err := Check(tt.opts, now)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("error: %v", err)
			}
			if len(tt.wantErr) > 0 && err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if len(warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(tt.wantWarnings))
			}
			for i, want := range tt.wantWarnings {
				if !strings.Contains(warnings[i], want) {
					t.Errorf("warning %q does not mention %q", warnings[i], want)
				}
			}
		})
	}
}

// An expired certificate is still served (a warning, not an error): an
// operator may need quill up while the renewal is under way.
func TestExpiredCertificateStillLoads(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	expired := writePair(t, dir, "expired", leafSpec{names: []string{"old.example.com"}, notBefore: now.AddDate(-1, 0, 0), notAfter: now.AddDate(0, 0, -1)})
	warnings, err := Check(Options{Certificates: []CertFile{expired}}, now)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], expired.Cert) {
		t.Fatalf("Check = %q, %v; want one warning naming %s", warnings, err, expired.Cert)
	}
	term := newTerminator(t, Options{Certificates: []CertFile{expired}})
	if c := term.cur.Load().certs.pick("old.example.com"); c == nil || c.Leaf.NotAfter.After(now) {
		t.Fatal("the expired certificate is not served")
	}
}
