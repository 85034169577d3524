package sticky

import (
	"cmp"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxClients is the capacity of a [Table] created or resized with a
// maximum of 0 or less, as in pen.
const DefaultMaxClients = 20000

const (
	// maxShards bounds lock contention on large tables.
	maxShards = 64
	// minShardClients keeps small tables in a single shard, where the LRU
	// order is exact, and large ones in shards big enough that their
	// per-shard LRU order is a good approximation of the global one.
	minShardClients = 256
)

// Table remembers which server each client was sent to, as pen's client table
// (pen -h -T -c) and HAProxy's stick tables do: entries idle for longer than
// the TTL are forgotten, and when the table is full the least recently used
// client makes room.
//
// The table is split into up to 64 shards by a hash of the key seeded per
// table, each with its own lock, LRU list and a capacity of ceil(max/shards).
// The LRU order is therefore exact only within a shard, as in other sharded
// caches. The number of shards is the largest power of two, up to 64, that
// leaves every shard room for at least 256 clients, so a table of fewer than
// 512 clients has one shard and an exact LRU order. A larger table may evict a
// client while another shard still holds an older one; since clients never
// spread perfectly evenly it starts evicting a little before it holds max
// clients (given max distinct clients it keeps about 98% of them at 20000 and
// 99.7% at a million), and it never holds more than max+shards-1.
//
// Two counters report departures: [Table.Evictions] counts clients that made
// room for others, [Table.Expiries] clients dropped for idleness. A Table is
// safe for concurrent use; a hit or an update of an existing client
// allocates nothing. Tables are made by [NewTable]; the zero Table is not
// usable.
type Table struct {
	now   func() time.Time
	epoch time.Time
	seed  maphash.Seed
	ttl   atomic.Int64
	// shift turns a key hash into a shard index (hash >> shift): 64 minus the
	// base-2 logarithm of the number of shards in use. It changes only while
	// every shard's lock is held.
	shift atomic.Uint32
	// resizing serialises calls to Resize.
	resizing sync.Mutex
	shards   [maxShards]shard
}

// NewTable returns an empty table for up to maxClients clients (0 or less
// means [DefaultMaxClients]) that forgets a client after ttl without a Get or
// Put (0 or less means never). now is the clock; nil means time.Now.
func NewTable(maxClients int, ttl time.Duration, now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	t := &Table{now: now, epoch: now(), seed: maphash.MakeSeed()}
	t.ttl.Store(int64(max(ttl, 0)))
	n, limit := layout(maxClients)
	t.shift.Store(uint32(64 - bits.TrailingZeros(uint(n))))
	for i := range t.shards {
		t.shards[i].reset(t.seed, limit)
	}
	return t
}

// Get returns the server remembered for k. A hit refreshes the client's
// last-use time and makes it the most recently used; a client idle for longer
// than the TTL is removed and reported as absent.
func (t *Table) Get(k Key) (server uint64, ok bool) {
	now, ttl := t.clock(), t.ttl.Load()
	s, h := t.lock(k)
	defer s.mu.Unlock()
	return s.get(k, h, now, ttl)
}

// Put remembers server for k, as the most recently used client. When k is
// new, up to two clients of its shard that have been idle past the TTL are
// dropped first, so that clients who never return leave even if the table
// never fills; then, if the shard is full, its least recently used client is
// evicted.
func (t *Table) Put(k Key, server uint64) {
	now, ttl := t.clock(), t.ttl.Load()
	s, h := t.lock(k)
	defer s.mu.Unlock()
	s.put(k, h, server, now, ttl)
}

// Delete forgets k, if present. It is not counted as an eviction.
func (t *Table) Delete(k Key) {
	s, h := t.lock(k)
	defer s.mu.Unlock()
	s.delete(k, h)
}

// Len returns the number of clients held, including any that have expired
// but have not been looked up or pushed out since.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Evictions returns how many clients have been removed to make room for
// others, by Put on a full table or by Resize shrinking it.
func (t *Table) Evictions() uint64 {
	return t.sum(func(s *shard) uint64 { return s.evictions })
}

// Expiries returns how many clients have been removed for being idle longer
// than the TTL.
func (t *Table) Expiries() uint64 {
	return t.sum(func(s *shard) uint64 { return s.expiries })
}

// Resize changes the capacity and TTL on a configuration reload, keeping the
// clients already remembered: a reload must not send everyone to a new
// server. The values mean what they mean for [NewTable]. Clients already idle
// for longer than the new TTL are dropped; then, if the table shrinks, the
// least recently used clients of each shard are evicted and the memory they
// held is released.
func (t *Table) Resize(maxClients int, ttl time.Duration) {
	t.resizing.Lock()
	defer t.resizing.Unlock()
	ttlNanos := int64(max(ttl, 0))
	t.ttl.Store(ttlNanos)
	n, limit := layout(maxClients)
	shift := uint32(64 - bits.TrailingZeros(uint(n)))
	if shift != t.shift.Load() {
		t.reshard(shift, limit, ttlNanos)
		return
	}
	now := t.clock()
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.limit = limit
		s.fit(now, ttlNanos)
		s.mu.Unlock()
	}
}

// reshard moves every client to a table with a different number of shards.
// Clients are reinserted from the least to the most recently used, so when
// the new capacity is smaller it is the idlest that are evicted. All shards
// stay locked meanwhile: resharding is rare, as it needs max-clients to cross
// a power of two times 256 below 16384.
func (t *Table) reshard(shift uint32, limit int, ttl int64) {
	for i := range t.shards {
		t.shards[i].mu.Lock()
	}
	defer func() {
		for i := range t.shards {
			t.shards[i].mu.Unlock()
		}
	}()
	now := t.clock()
	var all []entry
	for i := range t.shards {
		all = t.shards[i].entries(all)
		t.shards[i].reset(t.seed, limit)
	}
	slices.SortStableFunc(all, func(a, b entry) int { return cmp.Compare(a.used, b.used) })
	t.shift.Store(shift)
	for _, e := range all {
		h := hashKey(t.seed, e.key)
		s := &t.shards[h>>shift]
		if expired(&e, now, ttl) {
			s.expiries++
			continue
		}
		s.insert(e.key, h, e.server, e.used, ttl)
	}
}

// lock locks and returns the shard that holds k, with the hash of k. The
// shard is chosen from the high bits of the hash and the slot within it from
// the low bits.
func (t *Table) lock(k Key) (*shard, uint64) {
	h := hashKey(t.seed, k)
	for {
		shift := t.shift.Load()
		s := &t.shards[h>>shift]
		s.mu.Lock()
		if t.shift.Load() == shift {
			return s, h
		}
		// A reshard ran between choosing the shard and locking it.
		s.mu.Unlock()
	}
}

func (t *Table) sum(counter func(*shard) uint64) uint64 {
	var n uint64
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += counter(s)
		s.mu.Unlock()
	}
	return n
}

// clock returns the time in nanoseconds since the table was created. With
// time.Now this uses the monotonic clock, so stepping the wall clock neither
// expires every client nor keeps them forever.
func (t *Table) clock() int64 {
	return int64(t.now().Sub(t.epoch))
}

// layout returns the number of shards (a power of two) and the capacity of
// each for a table of maxClients.
func layout(maxClients int) (shards, limit int) {
	if maxClients <= 0 {
		maxClients = DefaultMaxClients
	}
	shards = 1
	if n := maxClients / minShardClients; n > 1 {
		shards = min(1<<(bits.Len(uint(n))-1), maxShards)
	}
	return shards, (maxClients + shards - 1) / shards
}
