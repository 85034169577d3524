package sticky

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

var testSecret = []byte("correct horse battery staple")

// TestTokenIsStable pins the token format. Both hosts of an HA pair, and
// every version of quill, must issue the same cookie for the same server.
// The expected value comes from openssl dgst -sha256 -hmac.
func TestTokenIsStable(t *testing.T) {
	if got, want := NewSigner(testSecret, "shop").Token("web-1"), "UGMBatUKoIXHKqOy9pD6aw"; got != want {
		t.Errorf("Token = %q, want %q", got, want)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		identity string
	}{
		{"name", "web-1"},
		{"IPv4 address", "10.0.0.1:8080"},
		{"IPv6 address", "[2001:db8::1]:443"},
		{"unicode name", "serveur-é"},
		{"empty identity", ""},
	}
	s := NewSigner(testSecret, "shop")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := s.Token(tt.identity)
			if len(tok) != TokenLen {
				t.Errorf("token %q has length %d, want %d", tok, len(tok), TokenLen)
			}
			if i := strings.IndexFunc(tok, func(r rune) bool {
				return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
			}); i >= 0 {
				t.Errorf("token %q has %q, not safe in a cookie", tok, tok[i])
			}
			if strings.Contains(tok, tt.identity) && tt.identity != "" {
				t.Errorf("token %q contains the identity", tok)
			}
			if !s.Verify(tok, tt.identity) {
				t.Errorf("Verify(Token(%q)) = false", tt.identity)
			}
		})
	}
}

func TestTokenDiffers(t *testing.T) {
	base := NewSigner(testSecret, "shop").Token("web-1")
	tests := []struct {
		name     string
		secret   []byte
		pool     string
		identity string
	}{
		{"other secret", []byte("correct horse battery stapler"), "shop", "web-1"},
		{"empty secret", nil, "shop", "web-1"},
		{"other pool", testSecret, "blog", "web-1"},
		{"other identity", testSecret, "shop", "web-2"},
		{"pool and identity split differently", testSecret, "shopweb", "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSigner(tt.secret, tt.pool)
			if tok := s.Token(tt.identity); tok == base {
				t.Errorf("token %q equals the base token", tok)
			}
			if s.Verify(base, tt.identity) {
				t.Errorf("Verify accepted the base token")
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	s := NewSigner(testSecret, "shop")
	good := s.Token("web-1")
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"truncated", good[:TokenLen-1]},
		{"half", good[:TokenLen/2]},
		{"extended", good + "A"},
		{"padded", good + "=="},
		{"first character changed", flip(good, 0)},
		{"same bytes, other spelling", otherSpelling(good)},
		{"garbage", strings.Repeat("!", TokenLen)},
		{"all zero bytes", strings.Repeat("A", TokenLen)},
		{"token of another server", s.Token("web-2")},
		{"token of another pool", NewSigner(testSecret, "blog").Token("web-1")},
		{"identity instead of token", "web-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s.Verify(tt.token, "web-1") {
				t.Errorf("Verify(%q) = true, want false", tt.token)
			}
		})
	}
}

// flip returns tok with the character at i replaced by another one of the
// base64url alphabet.
func flip(tok string, i int) string {
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// otherSpelling changes the unused low bits of the last character, which a
// lenient base64 decoder would accept as the same 16 bytes.
func otherSpelling(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[last^1])
}

func TestTokenAcrossSigners(t *testing.T) {
	// Each host reads the secret from its own configuration file.
	active := NewSigner(bytes.Clone(testSecret), "shop")
	secret := bytes.Clone(testSecret)
	standby := NewSigner(secret, "shop")
	// The Signer keeps its own copy of the secret.
	secret[0] ^= 0xff
	for _, identity := range []string{"web-1", "web-2", "10.0.0.3:8080"} {
		t.Run(identity, func(t *testing.T) {
			tok := active.Token(identity)
			if got := standby.Token(identity); got != tok {
				t.Errorf("standby issues %q, active %q", got, tok)
			}
			if !standby.Verify(tok, identity) {
				t.Errorf("standby rejects the active host's token %q", tok)
			}
		})
	}
}

func TestDeriveSecret(t *testing.T) {
	global := []byte("global secret")
	// From openssl dgst -sha256 -hmac 'global secret' over "quill pool secret\x00shop".
	want, _ := hex.DecodeString("406f6b07c78a314edd4adb4659ac281488d0ca1d861b6cf082999e6976434df7")
	if got := DeriveSecret(global, "shop"); !bytes.Equal(got, want) {
		t.Fatalf("DeriveSecret = %x, want %x", got, want)
	}
	tests := []struct {
		name   string
		global []byte
		pool   string
	}{
		{"other pool", global, "blog"},
		{"empty pool", global, ""},
		{"other global secret", []byte("global secret 2"), "shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DeriveSecret(tt.global, tt.pool)
			if bytes.Equal(got, want) {
				t.Errorf("DeriveSecret(%q, %q) equals that of pool shop", tt.global, tt.pool)
			}
			if len(got) != 32 {
				t.Errorf("derived secret has %d bytes, want 32", len(got))
			}
		})
	}
}
