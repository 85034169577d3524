package sticky

import (
	"crypto/sha256"
	"encoding/binary"
)

// Fixed constants that separate the uses of mix64. They are part of the
// placement every quill host computes: changing one moves clients between
// servers when an HA pair is upgraded one host at a time.
const (
	keySeed    = 0x9e3779b97f4a7c15 // 2^64 divided by the golden ratio
	serverSeed = 0xd6e8feb86659fd93
)

// ServerID returns the stable 64-bit id of a server's identity (its name, else
// its address): the first 8 bytes, big-endian, of the SHA-256 of the identity.
// A cryptographic hash costs nothing here, since ids are computed once per
// configuration, and it needs no seed, so every process on every host agrees.
func ServerID(identity string) uint64 {
	sum := sha256.Sum256([]byte(identity))
	return binary.BigEndian.Uint64(sum[:8])
}

// Score returns the rendezvous score of a client hash (see [Key.Hash])
// against a server id (see [ServerID]). The server id is mixed on its own
// before being combined with the client, so that servers whose ids differ in
// few bits still rank clients independently; the scores of one client over
// several servers then behave as independent uniform 64-bit values.
func Score(client, server uint64) uint64 {
	return mix64(client ^ mix64(server^serverSeed))
}

// Rendezvous finds, among servers offered one at a time, the one with the
// highest [Score] for a client. It is the one placement every quill host
// computes, for balance "hash" and for the first server of an ip-sticky
// client. Scores of one client against distinct ids never tie, since Score is
// a bijection of the server id for a given client (mix64 and xor are), so the
// choice depends on the set of ids alone, not on the order in which they are
// offered: two hosts whose configs list the servers differently still agree.
// Removing a server moves only the clients that were on it; adding one moves
// to it only the share of clients it now wins. A Rendezvous lives on the
// caller's stack: choosing allocates nothing.
type Rendezvous struct {
	client uint64
	score  uint64
	found  bool
}

// NewRendezvous starts a choice for a client hash (see [Key.Hash]).
func NewRendezvous(client uint64) Rendezvous { return Rendezvous{client: client} }

// Offer considers the server with id (see [ServerID]) and reports whether it
// now leads, so that the caller keeps the server that goes with the winning id.
func (r *Rendezvous) Offer(id uint64) bool {
	s := Score(r.client, id)
	if r.found && s <= r.score {
		return false
	}
	r.score, r.found = s, true
	return true
}

// Pick returns the index in ids of the server a [Rendezvous] chooses for
// client, or -1 when ids is empty.
func Pick(client uint64, ids []uint64) int {
	r := NewRendezvous(client)
	best := -1
	for i, id := range ids {
		if r.Offer(id) {
			best = i
		}
	}
	return best
}

// mix64 is the splitmix64 finaliser (Stafford's variant 13): a bijection on
// 64-bit values in which every input bit affects every output bit with
// probability close to one half.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
