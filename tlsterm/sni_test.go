package tlsterm

import (
	"crypto/tls"
	"testing"
)

// sniFixture loads certificates whose first DNS name identifies them.
func sniFixture(t testing.TB) *certSet {
	t.Helper()
	dir := t.TempDir()
	files := []CertFile{
		writePair(t, dir, "default", leafSpec{names: []string{"default.example.com"}}),
		writePair(t, dir, "exact", leafSpec{names: []string{"a.example.com", "www.a.example.com"}}),
		writePair(t, dir, "wild", leafSpec{names: []string{"*.example.org"}}),
		writePair(t, dir, "legacy", leafSpec{cn: "legacy.example.net"}),
		// Claims a.example.com again: the earlier certificate must win.
		writePair(t, dir, "dup", leafSpec{names: []string{"dup.example.com", "a.example.com"}}),
		// An exact name beats a wildcard whatever the order.
		writePair(t, dir, "exact-under-wild", leafSpec{names: []string{"api.example.org"}}),
	}
	s, err := loadCertSet(files)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPick(t *testing.T) {
	s := sniFixture(t)
	tests := []struct {
		name       string
		serverName string
		want       string // CN of the expected certificate
	}{
		{name: "exact name", serverName: "a.example.com", want: "a.example.com"},
		{name: "second SAN", serverName: "www.a.example.com", want: "a.example.com"},
		{name: "upper case", serverName: "WWW.A.Example.COM", want: "a.example.com"},
		{name: "wildcard matches one label", serverName: "shop.example.org", want: "*.example.org"},
		{name: "wildcard in upper case", serverName: "SHOP.EXAMPLE.ORG", want: "*.example.org"},
		{name: "exact beats wildcard", serverName: "api.example.org", want: "api.example.org"},
		{name: "wildcard does not match two labels", serverName: "a.shop.example.org", want: "default.example.com"},
		{name: "wildcard does not match its apex", serverName: "example.org", want: "default.example.com"},
		{name: "common name without SANs", serverName: "legacy.example.net", want: "legacy.example.net"},
		{name: "name claimed twice goes to the first", serverName: "a.example.com", want: "a.example.com"},
		{name: "later certificate's own name", serverName: "dup.example.com", want: "dup.example.com"},
		{name: "unknown name gets the first", serverName: "unknown.example.com", want: "default.example.com"},
		{name: "no SNI gets the first", serverName: "", want: "default.example.com"},
		{name: "trailing dot is not a wildcard parent", serverName: "example.", want: "default.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.pick(tt.serverName)
			if c == nil {
				t.Fatal("no certificate")
			}
			if got := c.Leaf.Subject.CommonName; got != tt.want {
				t.Errorf("pick(%q) = %s, want %s", tt.serverName, got, tt.want)
			}
		})
	}
}

// The selection runs on every handshake: it must not allocate for the
// lower-case names that clients send.
func TestPickDoesNotAllocate(t *testing.T) {
	s := sniFixture(t)
	for _, name := range []string{"a.example.com", "shop.example.org", "unknown.example.com", ""} {
		if n := testing.AllocsPerRun(100, func() { s.pick(name) }); n != 0 {
			t.Errorf("pick(%q) allocates %.0f times", name, n)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	s := sniFixture(b)
	hellos := []string{"a.example.com", "shop.example.org", "unknown.example.com"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.pick(hellos[i%len(hellos)])
	}
}

// Through a real getCertificate call, as crypto/tls makes it.
func TestGetCertificateUsesCurrentSet(t *testing.T) {
	dir := t.TempDir()
	term := newTerminator(t, Options{Certificates: []CertFile{
		writePair(t, dir, "one", leafSpec{names: []string{"one.example.com"}}),
		writePair(t, dir, "two", leafSpec{names: []string{"two.example.com"}}),
	}})
	c, err := term.getCertificate(&tls.ClientHelloInfo{ServerName: "two.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Leaf.Subject.CommonName; got != "two.example.com" {
		t.Errorf("got %s, want two.example.com", got)
	}
}
