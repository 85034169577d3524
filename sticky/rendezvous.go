package sticky

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
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

// Pick returns the index in ids of the server with the highest [Score] for
// client, or -1 when ids is empty. Equal scores, which need a 64-bit
// collision, go to the larger id so that the order of ids never matters.
// Removing a server moves only the clients that were on it; adding one moves
// to it only the share of clients it now wins.
func Pick(client uint64, ids []uint64) int {
	best := -1
	var bestScore uint64
	for i, id := range ids {
		s := Score(client, id)
		if best < 0 || s > bestScore || (s == bestScore && id > ids[best]) {
			best, bestScore = i, s
		}
	}
	return best
}

// PickWeighted returns the index in ids of the server that wins client under
// weighted rendezvous hashing, or -1 when no server has a positive weight.
// weights[i] is the weight of ids[i], so weights must be at least as long as
// ids; a server with weight 0 or less is never picked.
//
// Each server scores -weight/ln(u), where u in (0,1) is taken from [Score].
// A server then wins a share of clients proportional to its weight, and
// changing one weight moves clients only to or from that server. With equal
// weights the result is the same as [Pick].
func PickWeighted(client uint64, ids []uint64, weights []int) int {
	if len(weights) < len(ids) {
		panic("sticky: PickWeighted: fewer weights than ids")
	}
	best := -1
	var bestScore float64
	for i, id := range ids {
		w := weights[i]
		if w <= 0 {
			continue
		}
		s := -float64(w) / math.Log(unitInterval(Score(client, id)))
		if best < 0 || s > bestScore || (s == bestScore && id > ids[best]) {
			best, bestScore = i, s
		}
	}
	return best
}

// unitInterval maps a 64-bit hash onto the open interval (0,1), keeping the
// 53 bits a float64 can hold and centring each step so neither 0 (whose
// logarithm is infinite) nor 1 (whose logarithm is zero) can occur.
func unitInterval(h uint64) float64 {
	return (float64(h>>11) + 0.5) / (1 << 53)
}

// mix64 is the splitmix64 finaliser (Stafford's variant 13): a bijection on
// 64-bit values in which every input bit affects every output bit with
// probability close to one half.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
