package tlsterm

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"go.uber.org/zap"
)

const (
	// randomTicketRotation is how often a fresh random session ticket key
	// is made when no secret is shared. A stolen key decrypts only the
	// sessions of its own window, which is what forward secrecy asks of
	// tickets.
	randomTicketRotation = 12 * time.Hour
	// ticketKeysKept counts the current random key and the previous ones
	// still accepted for resumption, so that a client resuming just after
	// a rotation does not pay a full handshake.
	ticketKeysKept = 3
	// maxTicketWait bounds the sleep until the next UTC midnight, so that
	// a wall clock stepped while quill runs (NTP catching up after boot)
	// moves the shared keys to the right day within the hour: timers run
	// on the monotonic clock and do not see the step.
	maxTicketWait = time.Hour
	// ticketKeySalt and ticketKeyLabel make the ticket keys independent of
	// every other key derived from the same secret: sticky cookies use
	// HMAC keyed by the secret itself over "quill pool secret\x00..." and
	// "quill-sticky\x00...", while ticket keys are HMACs keyed by
	// HKDF-Extract(salt, secret), over a label no other key uses.
	ticketKeySalt  = "quill session ticket keys"
	ticketKeyLabel = "quill session ticket key\x00"
)

// clock is the wall clock and timer that ticket rotation reads, so that
// tests can move to midnight without waiting for it.
type clock interface {
	Now() time.Time
	After(time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ticketSource is what session ticket keys are derived from when hosts
// share them: a pseudorandom key extracted from the shared secret, and the
// VIP's name, so that each VIP has keys of its own. A nil prk means
// random keys made by this process.
type ticketSource struct {
	prk []byte
	vip string
}

func newTicketSource(secret []byte, vip string) (ticketSource, error) {
	if len(secret) == 0 {
		return ticketSource{vip: vip}, nil
	}
	prk, err := hkdf.Extract(sha256.New, secret, []byte(ticketKeySalt))
	if err != nil {
		return ticketSource{}, fmt.Errorf("session ticket keys from the secret: %w", err)
	}
	return ticketSource{prk: prk, vip: vip}, nil
}

func (s ticketSource) shared() bool { return s.prk != nil }

func (s ticketSource) equal(o ticketSource) bool {
	return bytes.Equal(s.prk, o.prk) && (!s.shared() || s.vip == o.vip)
}

// keyFor is the ticket key of one UTC day, "2006-01-02". The day comes
// first in the label because it has a fixed length, so no VIP name can
// make the label of another day and VIP.
func (s ticketSource) keyFor(day string) [32]byte {
	b, err := hkdf.Expand(sha256.New, s.prk, ticketKeyLabel+day+"\x00"+s.vip, 32)
	if err != nil {
		// Expand only fails for a key too long or, in FIPS 140-only
		// mode, for a PRK shorter than SHA-256's, and this is neither.
		panic(fmt.Sprintf("session ticket key: %v", err))
	}
	return [32]byte(b)
}

// utcDay is the day whose shared key issues tickets at now.
func utcDay(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// sharedKeys are the keys of now's UTC day: that day's key first, which
// encrypts new tickets, then the previous and the next day's, which still
// decrypt, so that a host whose clock is a few hours off on either side
// of midnight resumes the sessions of the other.
func (s ticketSource) sharedKeys(now time.Time) [][32]byte {
	today := utcDay(now)
	return [][32]byte{
		s.keyFor(today.Format(time.DateOnly)),
		s.keyFor(today.AddDate(0, 0, -1).Format(time.DateOnly)),
		s.keyFor(today.AddDate(0, 0, 1).Format(time.DateOnly)),
	}
}

// ticketKeys is the list of session ticket keys in force, newest first.
// Terminator.mu guards it, together with the swap of serving configs, so
// that a new generation never starts with keys older than the current ones.
type ticketKeys struct {
	keys   [][32]byte
	source ticketSource
	// day is the UTC midnight of shared keys; rotatedAt the making of the
	// newest random key.
	day       time.Time
	rotatedAt time.Time
}

// rotate prepends a fresh random key and forgets the oldest beyond the kept
// count.
func (k *ticketKeys) rotate(now time.Time) {
	var key [32]byte
	rand.Read(key[:]) // never fails since Go 1.24
	keys := make([][32]byte, 0, ticketKeysKept)
	keys = append(keys, key)
	keys = append(keys, k.keys...)
	if len(keys) > ticketKeysKept {
		keys = keys[:ticketKeysKept]
	}
	k.keys = keys
	k.rotatedAt = now
}

// use makes the keys come from src from now on. Keys of another secret or
// VIP are dropped, not kept for decryption: a changed secret is often a
// leaked one.
func (k *ticketKeys) use(src ticketSource, now time.Time) {
	k.source = src
	if src.shared() {
		k.day = utcDay(now)
		k.keys = src.sharedKeys(now)
	} else {
		k.keys = nil
		k.rotate(now)
	}
}

// refresh moves shared keys to now's day, and replaces a random key once
// it is due; it reports whether the keys changed.
func (k *ticketKeys) refresh(now time.Time) bool {
	if k.source.shared() {
		if utcDay(now).Equal(k.day) {
			return false
		}
		k.day = utcDay(now)
		k.keys = k.source.sharedKeys(now)
		return true
	}
	if now.Sub(k.rotatedAt) < randomTicketRotation {
		return false
	}
	k.rotate(now)
	return true
}

// untilRotation is how long the keys stay as they are: shared keys until
// the next UTC midnight, random ones for randomTicketRotation.
func (k *ticketKeys) untilRotation(now time.Time) time.Duration {
	if k.source.shared() {
		return min(utcDay(now).AddDate(0, 0, 1).Sub(now), maxTicketWait)
	}
	return max(k.rotatedAt.Add(randomTicketRotation).Sub(now), 0)
}

// refreshTicketKeys installs the keys that are due, if they changed.
func (t *Terminator) refreshTicketKeys() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tickets.refresh(t.clock.Now()) {
		return
	}
	t.cur.Load().config.SetSessionTicketKeys(t.tickets.keys)
	t.log.Info("session ticket keys rotated", zap.Bool("shared", t.tickets.source.shared()))
}

// rotateTickets runs until Stop, rotating the keys when they are due, and
// starting its wait again when a reload changed where they come from.
func (t *Terminator) rotateTickets() {
	defer t.wg.Done()
	for {
		t.mu.Lock()
		wait := t.tickets.untilRotation(t.clock.Now())
		t.mu.Unlock()
		select {
		case <-t.done:
			return
		case <-t.ticketSourceChanged:
		case <-t.clock.After(wait):
			t.refreshTicketKeys()
		}
	}
}
