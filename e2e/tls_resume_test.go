package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTLSResumeAcrossHosts: two quill processes stand for the two hosts of
// a pair (same config but for the port, same certificate). A session that
// openssl s_client got from host A resumes on host B when both have the
// same [global] secret, for TLS 1.2 and 1.3; with another secret, or with
// none on either host, B makes a full handshake.
func TestTLSResumeAcrossHosts(t *testing.T) {
	requireTool(t, "openssl")
	ca := newTestCA(t)
	web := startBackend(t, "web")
	www := ca.pair(t, t.TempDir(), "www", leafSpec{cn: "www.example.test"})
	configWith := func(addr, secret string) string {
		t.Helper()
		config := tlsVIPConfig(addr, web, "", "", www)
		if secret != "" {
			const global = "[global]\n"
			if !strings.HasPrefix(config, global) {
				t.Fatalf("the TLS VIP config does not start with [global]:\n%s", config)
			}
			config = global + "secret = \"" + secret + "\"\n" + config[len(global):]
		}
		return config
	}
	hosts := map[string]*quill{}
	startHost := func(secret string) string {
		t.Helper()
		addr := freeAddr(t)
		hosts[addr] = startQuill(t, configWith(addr, secret), addr)
		return addr
	}
	const shared = "2f1c6a0e9b8d4f7a93e5c1d0b6a8f4e2"
	hostA, hostB := startHost(shared), startHost(shared)
	otherSecret := startHost("another secret of 32 characters!")
	noSecretA, noSecretB := startHost(""), startHost("")

	tests := []struct {
		name       string
		from, to   string
		wantResume bool
	}{
		{name: "same secret", from: hostA, to: hostB, wantResume: true},
		{name: "same secret, the other way", from: hostB, to: hostA, wantResume: true},
		{name: "another secret", from: hostA, to: otherSecret},
		{name: "no secret on either host", from: noSecretA, to: noSecretB},
	}
	versions := []struct {
		flag, name string
		// resumeArgs are added to the second connection; keyExchange
		// is whether a resumed handshake makes a fresh key exchange.
		resumeArgs  []string
		keyExchange bool
	}{
		{flag: "-tls1_2", name: "TLSv1.2"},
		// The client offers psk_ke, resumption without a key exchange,
		// beside psk_dhe_ke: quill still picks psk_dhe_ke, so recorded
		// TLS 1.3 traffic stays secret to whoever has the ticket keys.
		{flag: "-tls1_3", name: "TLSv1.3", resumeArgs: []string{"-allow_no_dhe_kex"}, keyExchange: true},
	}
	for _, version := range versions {
		for _, tt := range tests {
			t.Run(version.name+"/"+tt.name, func(t *testing.T) {
				session := filepath.Join(t.TempDir(), "session.pem")
				first := sClient(t, ca, tt.from, version.flag, "-sess_out", session)
				if want := "New, " + version.name + ","; !strings.Contains(first, want) {
					t.Fatalf("the first connection lacks %q:\n%s", want, first)
				}
				if fi, err := os.Stat(session); err != nil || fi.Size() == 0 {
					t.Fatalf("s_client wrote no session: %v", err)
				}
				// 0-RTT data would be readable with a ticket's PSK alone,
				// so quill's TLS 1.3 tickets must not allow any.
				if early := regexp.MustCompile(`Max Early Data: (\d+)`).FindAllStringSubmatch(first, -1); version.name == "TLSv1.3" && (len(early) == 0 || slices.ContainsFunc(early, func(m []string) bool { return m[1] != "0" })) {
					t.Errorf("the tickets' early data allowances are %v, want 0:\n%s", early, first)
				}
				second := sClient(t, ca, tt.to, append([]string{version.flag, "-sess_in", session}, version.resumeArgs...)...)
				want := "New, " + version.name + ","
				if tt.wantResume {
					want = "Reused, " + version.name + ","
				}
				if !strings.Contains(second, want) {
					t.Fatalf("the second connection lacks %q:\n%s", want, second)
				}
				if keyExchange := strings.Contains(second, "Server Temp Key: "); tt.wantResume && keyExchange != version.keyExchange {
					t.Errorf("the resumed handshake made a key exchange: %v, want %v:\n%s", keyExchange, version.keyExchange, second)
				}
			})
		}
	}

	// A reload that gives the host of another secret the shared one (SIGHUP,
	// as `quill reload` does) makes it resume host A's sessions.
	t.Run("reload to the shared secret", func(t *testing.T) {
		session := filepath.Join(t.TempDir(), "session.pem")
		sClient(t, ca, hostA, "-tls1_3", "-sess_out", session)
		if out := sClient(t, ca, otherSecret, "-tls1_3", "-sess_in", session); !strings.Contains(out, "New, TLSv1.3,") {
			t.Fatalf("resumed before the reload:\n%s", out)
		}
		q := hosts[otherSecret]
		before := strings.Count(q.out.String(), "config reloaded")
		q.rewrite(t, configWith(otherSecret, shared))
		q.signal(syscall.SIGHUP)
		eventually(t, 10*time.Second, func() bool { return strings.Count(q.out.String(), "config reloaded") > before })
		if out := sClient(t, ca, otherSecret, "-tls1_3", "-sess_in", session); !strings.Contains(out, "Reused, TLSv1.3,") {
			t.Errorf("a session from host A did not resume after the reload:\n%s", out)
		}
	})
}

// sClient makes one request to addr with openssl s_client and returns what
// it printed; the answer must be the backend's. The request makes s_client
// read past the handshake, and so read the TLS 1.3 session tickets that
// follow it, before it writes -sess_out: -ign_eof keeps it reading after
// the request was sent until quill closes the connection.
func sClient(t *testing.T, ca *testCA, addr string, args ...string) string {
	t.Helper()
	args = append([]string{"s_client", "-connect", addr, "-servername", "www.example.test",
		"-CAfile", ca.file, "-verify_return_error", "-ign_eof"}, args...)
	request := "GET / HTTP/1.1\r\nHost: www.example.test\r\nConnection: close\r\n\r\n"
	out, errOut, err := runTool(t, request, "openssl", args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	if !strings.Contains(out, "HTTP/1.1 200 OK") || !strings.Contains(out, "\r\n\r\nweb\n") {
		t.Fatalf("openssl %s: not the backend's answer:\n%s", strings.Join(args, " "), out)
	}
	return out
}
