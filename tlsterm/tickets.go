package tlsterm

import (
	"crypto/rand"
	"fmt"
	"time"

	"go.uber.org/zap"
)

const (
	// ticketRotation is how often a fresh session ticket key is made. A
	// stolen key decrypts only the sessions of its own window, which is
	// what forward secrecy asks of tickets.
	ticketRotation = 12 * time.Hour
	// ticketKeysKept counts the current key and the previous ones still
	// accepted for resumption, so that a client resuming just after a
	// rotation does not pay a full handshake.
	ticketKeysKept = 3
)

// ticketKeys is the rotating list of session ticket keys, newest first.
// Terminator.mu guards it, together with the swap of serving configs, so
// that a new generation never starts with keys older than the current ones.
type ticketKeys struct {
	keys [][32]byte
}

// rotate prepends a fresh random key and forgets the oldest beyond the kept
// count.
func (k *ticketKeys) rotate() error {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return fmt.Errorf("session ticket key: %w", err)
	}
	keys := make([][32]byte, 0, ticketKeysKept)
	keys = append(keys, key)
	keys = append(keys, k.keys...)
	if len(keys) > ticketKeysKept {
		keys = keys[:ticketKeysKept]
	}
	k.keys = keys
	return nil
}

// rotateTicketKeys installs a fresh session ticket key on the live config.
func (t *Terminator) rotateTicketKeys() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.tickets.rotate(); err != nil {
		return err
	}
	t.cur.Load().config.SetSessionTicketKeys(t.tickets.keys)
	return nil
}

// rotateTickets runs until Stop, rotating the keys every ticketRotation.
func (t *Terminator) rotateTickets() {
	defer t.wg.Done()
	tick := time.NewTicker(ticketRotation)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
			if err := t.rotateTicketKeys(); err != nil {
				// Keeping the old keys is safe; only their
				// forward secrecy window grows.
				t.log.Error("rotating session ticket keys", zap.Error(err))
			}
		}
	}
}
