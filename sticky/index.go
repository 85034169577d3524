package sticky

import "hash/maphash"

// A shard finds entries through a linear-probing hash table of slab indices
// plus one, zero marking an empty slot. At most half the slots are used, which
// keeps probe sequences short, costs 8 to 16 bytes per client against the
// 50 or so of a Go map holding the same, and leaves the table free of
// pointers. Removal shifts later entries of the probe sequence back instead
// of leaving tombstones, so lookups never slow down as clients come and go.
//
// Positions come from the low bits of a hash seeded per table, as Go maps
// are, so that clients cannot choose addresses that pile onto one probe
// sequence or one shard.

// minSlots is the size of a shard's first index.
const minSlots = 16

// hash returns the position hash of k: the table's shard is chosen from its
// high bits and the slot from its low bits.
func (s *shard) hash(k Key) uint64 {
	return hashKey(s.seed, k)
}

func hashKey(seed maphash.Seed, k Key) uint64 {
	return maphash.Comparable(seed, k)
}

// find returns the slot holding k, whose hash is h, and its slab index, or
// none as the index when k is absent.
func (s *shard) find(k Key, h uint64) (slot int, i int32) {
	if len(s.slots) == 0 {
		return -1, none
	}
	mask := len(s.slots) - 1
	for p := int(h) & mask; ; p = (p + 1) & mask {
		v := s.slots[p]
		if v == 0 {
			return p, none
		}
		if s.slab[v-1].key == k {
			return p, v - 1
		}
	}
}

// place indexes slab entry i, whose key hashes to h, growing the index first
// if it would become more than half full.
func (s *shard) place(h uint64, i int32) {
	if 2*(s.n+1) > len(s.slots) {
		s.grow(max(2*len(s.slots), minSlots))
	}
	mask := len(s.slots) - 1
	p := int(h) & mask
	for s.slots[p] != 0 {
		p = (p + 1) & mask
	}
	s.slots[p] = i + 1
}

// unplace empties slot p and moves back every later entry of the probe
// sequence that may now sit closer to its home slot.
func (s *shard) unplace(p int) {
	mask := len(s.slots) - 1
	for q := (p + 1) & mask; s.slots[q] != 0; q = (q + 1) & mask {
		home := int(s.hash(s.slab[s.slots[q]-1].key)) & mask
		// The entry at q may fill the hole unless its home lies in the
		// cyclic range (p, q].
		if (q-home)&mask >= (q-p)&mask {
			s.slots[p] = s.slots[q]
			p = q
		}
	}
	s.slots[p] = 0
}

// grow rebuilds the index with n slots, a power of two.
func (s *shard) grow(n int) {
	old := s.slots
	s.slots = make([]int32, n)
	mask := n - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		p := int(s.hash(s.slab[v-1].key)) & mask
		for s.slots[p] != 0 {
			p = (p + 1) & mask
		}
		s.slots[p] = v
	}
}

// slotsFor returns the index size for n clients.
func slotsFor(n int) int {
	size := minSlots
	for size < 2*n {
		size *= 2
	}
	return size
}
