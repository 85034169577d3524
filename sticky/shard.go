package sticky

import (
	"hash/maphash"
	"sync"
)

// none marks the end of a list, an empty free list and an absent entry.
const none int32 = -1

// entry is one remembered client: 40 bytes, with its links into the shard's
// LRU list held as slab indices rather than pointers, so the garbage
// collector never has to scan a million of them.
type entry struct {
	key    Key
	server uint64
	// used is the time of the last Get or Put, in nanoseconds since the
	// table's epoch.
	used       int64
	prev, next int32
}

// shard is one lock's worth of a [Table]. Its clients live in a slab of
// entries, found through an open-addressing index (index.go) and ordered by a
// doubly linked list through the slab (lru.go) from the most recently used
// entry, head, to the least, tail. Freed slab slots are chained through next.
// Every method requires mu to be held.
type shard struct {
	mu sync.Mutex
	// seed is the table's hash seed, kept here so the index can rehash.
	seed  maphash.Seed
	slots []int32 // the index: slab index plus one, or 0 for empty
	slab  []entry
	n     int // live entries
	head  int32
	tail  int32
	free  int32
	limit int // most entries the shard may hold

	evictions uint64
	expiries  uint64
	// Keeps the lock of the next shard off this shard's cache lines.
	_ [64]byte
}

// reset empties the shard and gives it a new capacity. Counters survive.
func (s *shard) reset(seed maphash.Seed, limit int) {
	s.seed = seed
	s.slots, s.slab, s.n = nil, nil, 0
	s.head, s.tail, s.free = none, none, none
	s.limit = limit
}

// get returns the server of k, whose hash is h, and marks it used at now. An
// entry idle for longer than ttl (when ttl > 0) is removed and reported as a
// miss.
func (s *shard) get(k Key, h uint64, now, ttl int64) (uint64, bool) {
	p, i := s.find(k, h)
	if i == none {
		return 0, false
	}
	e := &s.slab[i]
	if expired(e, now, ttl) {
		s.removeAt(p, i)
		s.expiries++
		return 0, false
	}
	e.used = now
	s.touch(i)
	return e.server, true
}

// put stores server for k, whose hash is h, marked used at now. A new key
// first lets up to two expired entries leave the cold end of the list, so
// that clients that never return do not hold memory until the table fills; if
// the shard is still full its least recently used entry makes room.
func (s *shard) put(k Key, h uint64, server uint64, now, ttl int64) {
	if _, i := s.find(k, h); i != none {
		e := &s.slab[i]
		e.server = server
		e.used = now
		s.touch(i)
		return
	}
	for n := 0; n < 2 && s.tail != none && expired(&s.slab[s.tail], now, ttl); n++ {
		s.remove(s.tail)
		s.expiries++
	}
	s.insert(k, h, server, now, ttl)
}

// delete removes k, whose hash is h, if present.
func (s *shard) delete(k Key, h uint64) {
	if p, i := s.find(k, h); i != none {
		s.removeAt(p, i)
	}
}

// insert adds k, which must not be present, at the head of the list.
func (s *shard) insert(k Key, h uint64, server uint64, used, ttl int64) {
	if s.n >= s.limit {
		s.evictTail(used, ttl)
	}
	i := s.alloc()
	s.slab[i] = entry{key: k, server: server, used: used}
	s.pushFront(i)
	s.place(h, i)
	s.n++
}

// evictTail removes the least recently used entry, counting it as an expiry
// if it had outlived the TTL anyway and as an eviction otherwise.
func (s *shard) evictTail(now, ttl int64) {
	if expired(&s.slab[s.tail], now, ttl) {
		s.expiries++
	} else {
		s.evictions++
	}
	s.remove(s.tail)
}

// fit brings the shard in line with a new limit and TTL: it drops the expired
// entries at the cold end, evicts more until the shard is within its limit,
// then, if the slab is larger than the limit needs, copies the entries into
// right-sized storage so that a reload that lowers max-clients gives memory
// back.
func (s *shard) fit(now, ttl int64) {
	for s.tail != none && expired(&s.slab[s.tail], now, ttl) {
		s.remove(s.tail)
		s.expiries++
	}
	for s.n > s.limit {
		s.evictTail(now, ttl)
	}
	if cap(s.slab) <= s.limit {
		return
	}
	live := s.entries(make([]entry, 0, s.n))
	s.reset(s.seed, s.limit)
	if len(live) > 0 {
		s.slab = make([]entry, 0, len(live))
		s.slots = make([]int32, slotsFor(len(live)))
	}
	for _, e := range live {
		s.insert(e.key, s.hash(e.key), e.server, e.used, 0)
	}
}

// remove removes entry i.
func (s *shard) remove(i int32) {
	p, _ := s.find(s.slab[i].key, s.hash(s.slab[i].key))
	s.removeAt(p, i)
}

// removeAt removes entry i, found at index slot p, and puts its slab slot on
// the free list.
func (s *shard) removeAt(p int, i int32) {
	s.unlink(i)
	s.unplace(p)
	s.slab[i] = entry{next: s.free}
	s.free = i
	s.n--
}

// alloc returns a free slab slot. The slab grows as append grows slices,
// doubling while small and by a quarter once large, which bounds the spare
// capacity of a big table to a quarter; it never grows past the shard's
// limit, so a full table holds no spare capacity at all.
func (s *shard) alloc() int32 {
	if s.free != none {
		i := s.free
		s.free = s.slab[i].next
		return i
	}
	n := len(s.slab)
	if n == cap(s.slab) {
		c := n + n/4
		if n < 256 {
			c = max(2*n, 16)
		}
		grown := make([]entry, n, min(c, s.limit))
		copy(grown, s.slab)
		s.slab = grown
	}
	s.slab = s.slab[:n+1]
	return int32(n)
}

// entries appends the shard's entries to dst, least recently used first.
func (s *shard) entries(dst []entry) []entry {
	for i := s.tail; i != none; i = s.slab[i].prev {
		dst = append(dst, s.slab[i])
	}
	return dst
}

func expired(e *entry, now, ttl int64) bool {
	return ttl > 0 && now-e.used > ttl
}
