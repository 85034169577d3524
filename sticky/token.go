package sticky

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
)

// TokenLen is the length of every token [Signer.Token] returns: 16 bytes in
// unpadded base64url.
const TokenLen = 22

// tokenBytes is how much of the HMAC a token keeps. 128 bits is far beyond
// what an online guessing attack against a proxy can try.
const tokenBytes = 16

// Signer turns a server identity into the value of a sticky cookie. Tokens
// depend only on the secret, the pool name and the identity, so the two hosts
// of an HA pair configured with the same secret issue and accept the same
// tokens. A Signer is safe for concurrent use.
type Signer struct {
	secret []byte
	// prefix is the fixed start of every signed message, "quill-sticky\x00" +
	// pool + "\x00", which keeps tokens of one pool from naming a server of
	// another.
	prefix []byte
}

// NewSigner returns a Signer for the pool named pool. The secret should be at
// least 32 random bytes: anyone who knows it can forge a cookie for any server
// and test guesses of a server's address against a token. NewSigner copies
// secret.
func NewSigner(secret []byte, pool string) *Signer {
	prefix := make([]byte, 0, len("quill-sticky\x00")+len(pool)+1)
	prefix = append(prefix, "quill-sticky\x00"...)
	prefix = append(prefix, pool...)
	prefix = append(prefix, 0)
	return &Signer{secret: append([]byte(nil), secret...), prefix: prefix}
}

// Token returns the cookie value naming the server with the given identity
// (its name, else its address): the first 16 bytes of HMAC-SHA256 over the
// pool and identity, in unpadded base64url, which is safe in URLs and cookie
// values without quoting.
func (s *Signer) Token(serverIdentity string) string {
	return base64.RawURLEncoding.EncodeToString(s.sum(serverIdentity))
}

// Verify reports whether token names the server with the given identity. It
// compares in constant time, so response timing reveals nothing about how
// much of a guessed token was right. Tokens are compared in their encoded
// form, so only the exact string Token returns is accepted, not other
// spellings of the same bytes.
func (s *Signer) Verify(token, serverIdentity string) bool {
	if len(token) != TokenLen {
		return false
	}
	want := make([]byte, TokenLen)
	base64.RawURLEncoding.Encode(want, s.sum(serverIdentity))
	return subtle.ConstantTimeCompare([]byte(token), want) == 1
}

func (s *Signer) sum(identity string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write(s.prefix)
	io.WriteString(m, identity)
	return m.Sum(nil)[:tokenBytes]
}

// DeriveSecret returns the secret of a pool that has none of its own, from
// the global secret: HMAC-SHA256(globalSecret, "quill pool secret\x00" + pool).
// Every pool gets a different key, so a token never carries over to another
// pool, and both hosts of an HA pair derive the same one.
func DeriveSecret(globalSecret []byte, pool string) []byte {
	m := hmac.New(sha256.New, globalSecret)
	io.WriteString(m, "quill pool secret\x00")
	io.WriteString(m, pool)
	return m.Sum(nil)
}
