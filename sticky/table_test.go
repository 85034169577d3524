package sticky

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when a test says so.
type fakeClock struct{ t time.Time }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// key returns the key of the i-th client of a synthetic IPv4 population.
func key(i int) Key {
	return ClientKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 0)
}

// checkInvariants verifies every shard's internal structure: every entry is
// in the right shard, the list runs both ways through exactly the indexed
// entries, the index is at most half full, free slots and live entries
// account for the whole slab, and no shard is over its limit.
func checkInvariants(t *testing.T, tab *Table) {
	t.Helper()
	for n := range tab.shards {
		s := &tab.shards[n]
		s.mu.Lock()
		seen := 0
		prev := none
		for i := s.head; i != none; i = s.slab[i].next {
			e := &s.slab[i]
			if e.prev != prev {
				t.Fatalf("shard %d: entry %d has prev %d, want %d", n, i, e.prev, prev)
			}
			if h := hashKey(tab.seed, e.key); h>>tab.shift.Load() != uint64(n) {
				t.Fatalf("shard %d: entry %d belongs in shard %d", n, i, h>>tab.shift.Load())
			}
			if _, j := s.find(e.key, s.hash(e.key)); j != i {
				t.Fatalf("shard %d: entry %d key %v found at %d", n, i, e.key, j)
			}
			prev = i
			if seen++; seen > len(s.slab) {
				t.Fatalf("shard %d: list has a cycle", n)
			}
		}
		if s.tail != prev {
			t.Fatalf("shard %d: tail %d, want %d", n, s.tail, prev)
		}
		indexed := 0
		for _, v := range s.slots {
			if v != 0 {
				indexed++
			}
		}
		if seen != s.n || indexed != s.n {
			t.Fatalf("shard %d: list holds %d entries, index %d, count %d", n, seen, indexed, s.n)
		}
		if 2*s.n > len(s.slots) && s.n > 0 {
			t.Fatalf("shard %d: %d entries in an index of %d slots", n, s.n, len(s.slots))
		}
		free := 0
		for i := s.free; i != none; i = s.slab[i].next {
			if free++; free > len(s.slab) {
				t.Fatalf("shard %d: free list has a cycle", n)
			}
		}
		if free+seen != len(s.slab) {
			t.Fatalf("shard %d: %d free + %d live slots, slab has %d", n, free, seen, len(s.slab))
		}
		if s.n > s.limit || cap(s.slab) > s.limit {
			t.Fatalf("shard %d: %d entries in a slab of capacity %d, limit %d", n, s.n, cap(s.slab), s.limit)
		}
		s.mu.Unlock()
	}
}

func TestLayout(t *testing.T) {
	tests := []struct {
		name       string
		maxClients int
		shards     int
		limit      int
	}{
		{"default", 0, 64, 313},
		{"negative means default", -1, 64, 313},
		{"one client", 1, 1, 1},
		{"largest single shard", 511, 1, 511},
		{"two shards", 512, 2, 256},
		{"rounded up", 1001, 2, 501},
		{"largest below 64 shards", 16383, 32, 512},
		{"pen default", 20000, 64, 313},
		{"a million", 1_000_000, 64, 15625},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shards, limit := layout(tt.maxClients)
			if shards != tt.shards || limit != tt.limit {
				t.Errorf("layout(%d) = %d shards of %d, want %d of %d", tt.maxClients, shards, limit, tt.shards, tt.limit)
			}
		})
	}
}

func TestTableGetPutDelete(t *testing.T) {
	tests := []struct {
		name    string
		run     func(*Table)
		lookup  Key
		want    uint64
		wantOK  bool
		wantLen int
	}{
		{"empty", func(*Table) {}, key(1), 0, false, 0},
		{"put then get", func(t *Table) { t.Put(key(1), 7) }, key(1), 7, true, 1},
		{"other key", func(t *Table) { t.Put(key(1), 7) }, key(2), 0, false, 1},
		{"put replaces", func(t *Table) { t.Put(key(1), 7); t.Put(key(1), 8) }, key(1), 8, true, 1},
		{"delete", func(t *Table) { t.Put(key(1), 7); t.Put(key(2), 9); t.Delete(key(1)) }, key(1), 0, false, 1},
		{"delete absent", func(t *Table) { t.Put(key(1), 7); t.Delete(key(2)) }, key(1), 7, true, 1},
		{"put after delete", func(t *Table) { t.Put(key(1), 7); t.Delete(key(1)); t.Put(key(1), 3) }, key(1), 3, true, 1},
		{"many clients", func(t *Table) {
			for i := range 5000 {
				t.Put(key(i), uint64(i))
			}
		}, key(4321), 4321, true, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := NewTable(0, time.Minute, newFakeClock().now)
			tt.run(tab)
			got, ok := tab.Get(tt.lookup)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Get = %d, %v, want %d, %v", got, ok, tt.want, tt.wantOK)
			}
			if n := tab.Len(); n != tt.wantLen {
				t.Errorf("Len = %d, want %d", n, tt.wantLen)
			}
			if n := tab.Evictions() + tab.Expiries(); n != 0 {
				t.Errorf("%d evictions and expiries, want none", n)
			}
			checkInvariants(t, tab)
		})
	}
}

func TestTableTTL(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration
		gets    []time.Duration // times after the Put at which the client returns
		puts    []time.Duration // times after the Put at which it is stored again
		at      time.Duration   // time of the final Get
		wantHit bool
	}{
		{"fresh", time.Minute, nil, nil, 59 * time.Second, true},
		{"idle exactly the ttl", time.Minute, nil, nil, time.Minute, true},
		{"idle past the ttl", time.Minute, nil, nil, time.Minute + time.Nanosecond, false},
		{"a hit refreshes", time.Minute, []time.Duration{40 * time.Second}, nil, 100 * time.Second, true},
		{"refreshed then idle", time.Minute, []time.Duration{40 * time.Second}, nil, 101 * time.Second, false},
		{"hits keep it alive", time.Minute, []time.Duration{50 * time.Second, 100 * time.Second, 150 * time.Second}, nil, 200 * time.Second, true},
		{"a put refreshes", time.Minute, nil, []time.Duration{40 * time.Second}, 100 * time.Second, true},
		{"late hit does not revive", time.Minute, []time.Duration{2 * time.Minute}, nil, 2*time.Minute + time.Second, false},
		{"no ttl", 0, nil, nil, 10000 * time.Hour, true},
		{"negative ttl means none", -time.Second, nil, nil, 10000 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.t
			tab := NewTable(10, tt.ttl, clock.now)
			tab.Put(key(1), 5)
			for _, at := range tt.gets {
				clock.t = start.Add(at)
				tab.Get(key(1))
			}
			for _, at := range tt.puts {
				clock.t = start.Add(at)
				tab.Put(key(1), 5)
			}
			clock.t = start.Add(tt.at)
			if _, ok := tab.Get(key(1)); ok != tt.wantHit {
				t.Fatalf("Get hit = %v, want %v", ok, tt.wantHit)
			}
			wantLen, wantExpiries := 1, uint64(0)
			if !tt.wantHit {
				wantLen, wantExpiries = 0, 1
			}
			if n := tab.Len(); n != wantLen {
				t.Errorf("Len = %d, want %d", n, wantLen)
			}
			if n := tab.Expiries(); n != wantExpiries {
				t.Errorf("Expiries = %d, want %d", n, wantExpiries)
			}
			if n := tab.Evictions(); n != 0 {
				t.Errorf("Evictions = %d, want 0", n)
			}
		})
	}
}

func TestTableExpiredLeaveOnPut(t *testing.T) {
	tests := []struct {
		name         string
		idle         int // clients left idle past the TTL
		newClients   int // clients arriving afterwards
		wantLen      int
		wantExpiries uint64
	}{
		{"one new client drops two idle ones", 5, 1, 4, 2},
		{"enough new clients drop them all", 5, 3, 3, 5},
		{"nothing idle", 0, 3, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tab := NewTable(100, time.Minute, clock.now)
			for i := range tt.idle {
				tab.Put(key(i), 1)
			}
			clock.advance(2 * time.Minute)
			for i := range tt.newClients {
				tab.Put(key(1000+i), 2)
			}
			if n := tab.Len(); n != tt.wantLen {
				t.Errorf("Len = %d, want %d", n, tt.wantLen)
			}
			if n := tab.Expiries(); n != tt.wantExpiries {
				t.Errorf("Expiries = %d, want %d", n, tt.wantExpiries)
			}
			checkInvariants(t, tab)
		})
	}
}

// op is one step of a scripted table test.
type op struct {
	kind byte // 'p' Put, 'g' Get, 'd' Delete
	key  int
}

func TestTableLRU(t *testing.T) {
	puts := func(keys ...int) []op {
		ops := make([]op, len(keys))
		for i, k := range keys {
			ops[i] = op{'p', k}
		}
		return ops
	}
	then := func(a []op, b ...op) []op { return append(append([]op(nil), a...), b...) }
	tests := []struct {
		name          string
		max           int
		ops           []op
		present       []int
		absent        []int
		wantEvictions uint64
	}{
		{"within capacity", 3, puts(1, 2, 3), []int{1, 2, 3}, nil, 0},
		{"oldest goes first", 3, puts(1, 2, 3, 4), []int{2, 3, 4}, []int{1}, 1},
		{"in order of use", 3, puts(1, 2, 3, 4, 5), []int{3, 4, 5}, []int{1, 2}, 2},
		{"a hit protects", 3, then(puts(1, 2, 3), op{'g', 1}, op{'p', 4}), []int{1, 3, 4}, []int{2}, 1},
		{"a hit on the newest changes nothing", 3, then(puts(1, 2, 3), op{'g', 3}, op{'p', 4}), []int{2, 3, 4}, []int{1}, 1},
		{"an update protects", 3, puts(1, 2, 3, 1, 4), []int{1, 3, 4}, []int{2}, 1},
		{"a miss protects nothing", 3, then(puts(1, 2, 3), op{'g', 9}, op{'p', 4}), []int{2, 3, 4}, []int{1}, 1},
		{"a delete makes room", 3, then(puts(1, 2, 3), op{'d', 2}, op{'p', 4}), []int{1, 3, 4}, []int{2}, 0},
		{"one client", 1, puts(1, 2, 3), []int{3}, []int{1, 2}, 2},
		{"churn", 4, puts(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), []int{7, 8, 9, 10}, []int{1, 2, 3, 4, 5, 6}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := NewTable(tt.max, 0, newFakeClock().now)
			for _, o := range tt.ops {
				switch o.kind {
				case 'p':
					tab.Put(key(o.key), uint64(o.key))
				case 'g':
					tab.Get(key(o.key))
				case 'd':
					tab.Delete(key(o.key))
				}
			}
			checkInvariants(t, tab)
			if n := tab.Evictions(); n != tt.wantEvictions {
				t.Errorf("Evictions = %d, want %d", n, tt.wantEvictions)
			}
			if n := tab.Len(); n != len(tt.present) {
				t.Errorf("Len = %d, want %d", n, len(tt.present))
			}
			for _, k := range tt.present {
				if got, ok := tab.Get(key(k)); !ok || got != uint64(k) {
					t.Errorf("client %d: Get = %d, %v, want %d, true", k, got, ok, k)
				}
			}
			for _, k := range tt.absent {
				if _, ok := tab.Get(key(k)); ok {
					t.Errorf("client %d is still present", k)
				}
			}
		})
	}
}

func TestTableResize(t *testing.T) {
	tests := []struct {
		name          string
		max           int
		ttl           time.Duration
		fill          int // clients put one second apart
		idle          time.Duration
		newMax        int
		newTTL        time.Duration
		wantLen       int // the wantLen most recent clients remain
		wantEvictions uint64
		wantExpiries  uint64
	}{
		{"grow keeps everyone", 100, 0, 100, 0, 200, 0, 100, 0, 0},
		{"shrink evicts the idlest", 100, 0, 100, 0, 40, 0, 40, 60, 0},
		{"shrink to one", 100, 0, 100, 0, 1, 0, 1, 99, 0},
		{"same size", 100, 0, 100, 0, 100, 0, 100, 0, 0},
		{"grow to more shards", 300, 0, 300, 0, 100_000, 0, 300, 0, 0},
		{"shrink to one shard", 4096, 0, 4096, 0, 300, 0, 300, 3796, 0},
		{"shrink within 64 shards", 40_000, 0, 40_000, 0, 20_000, 0, 20_032, 19_968, 0},
		{"new ttl applies at once", 100, 0, 50, 30 * time.Second, 100, time.Minute, 31, 0, 19},
		{"resharding drops the expired", 4096, time.Hour, 1000, 2 * time.Hour, 300, time.Hour, 0, 0, 1000},
		{"zero means the default", 50_000, 0, 30_000, 0, 0, 0, 20_032, 9_968, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tab := NewTable(tt.max, tt.ttl, clock.now)
			for i := range tt.fill {
				clock.advance(time.Second)
				tab.Put(key(i), uint64(i))
			}
			clock.advance(tt.idle)
			tab.Resize(tt.newMax, tt.newTTL)
			checkInvariants(t, tab)
			if n := tab.Evictions(); n != tt.wantEvictions {
				t.Errorf("Evictions = %d, want %d", n, tt.wantEvictions)
			}
			if n := tab.Expiries(); n != tt.wantExpiries {
				t.Errorf("Expiries = %d, want %d", n, tt.wantExpiries)
			}
			// Sharded tables keep approximately the most recent clients; a
			// single shard keeps exactly them.
			if n := tab.Len(); n != tt.wantLen {
				t.Errorf("Len = %d, want %d", n, tt.wantLen)
			}
			if shards, _ := layout(tt.newMax); shards == 1 {
				for i := range tt.fill {
					got, ok := tab.Get(key(i))
					if want := i >= tt.fill-tt.wantLen; ok != want || ok && got != uint64(i) {
						t.Errorf("client %d: Get = %d, %v, want present = %v", i, got, ok, want)
					}
				}
			}
			if tt.newMax > tt.max {
				// Shards fill unevenly, so only a single one can be filled
				// to the brim without evicting.
				more := tt.newMax - tt.fill
				if shards, _ := layout(tt.newMax); shards > 1 {
					more = tt.newMax/2 - tt.fill
				}
				before := tab.Evictions()
				for i := range more {
					tab.Put(key(tt.fill+i), 1)
				}
				if n := tab.Evictions() - before; n != 0 {
					t.Errorf("filling the grown table evicted %d clients", n)
				}
			}
		})
	}
}

func TestTableConcurrent(t *testing.T) {
	const (
		workers = 8
		ops     = 10000
		keys    = 3000
	)
	// A clock that moves a microsecond per reading, so that clients expire
	// while the table is in use.
	var ticks atomic.Int64
	base := time.Now()
	now := func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * time.Microsecond) }
	tab := NewTable(1000, 5*time.Millisecond, now)

	var wg, resizer sync.WaitGroup
	var done atomic.Bool
	// Reloads that move the table between one shard and several, for as
	// long as the workers run.
	resizer.Go(func() {
		for i := 0; i < 10_000 && !done.Load(); i++ {
			if i%2 == 0 {
				tab.Resize(300, time.Millisecond)
			} else {
				tab.Resize(5000, 5*time.Millisecond)
			}
			tab.Len()
			tab.Evictions()
		}
	})
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range ops {
				i := r.IntN(keys)
				switch n := r.IntN(10); {
				case n < 6:
					if got, ok := tab.Get(key(i)); ok && got != uint64(i) {
						t.Errorf("client %d: Get = %d", i, got)
						return
					}
				case n < 9:
					tab.Put(key(i), uint64(i))
				default:
					tab.Delete(key(i))
				}
			}
		})
	}
	wg.Wait()
	done.Store(true)
	resizer.Wait()
	checkInvariants(t, tab)
	if n := tab.Len(); n > 5000+64 {
		t.Errorf("Len = %d, above capacity", n)
	}
}

func TestTableDoesNotAllocate(t *testing.T) {
	tab := NewTable(1000, time.Minute, nil)
	for i := range 1000 {
		tab.Put(key(i), uint64(i))
	}
	tests := []struct {
		name string
		op   func()
	}{
		{"Get hit", func() { tab.Get(key(500)) }},
		{"Get miss", func() { tab.Get(key(5000)) }},
		{"Put existing", func() { tab.Put(key(500), 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.op); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

func ExampleTable() {
	servers := []uint64{ServerID("web-1"), ServerID("web-2"), ServerID("web-3")}
	tab := NewTable(0, 10*time.Minute, nil)
	client := ClientKey(netip.MustParseAddr("2001:db8:1:2::99"), 0)
	id, ok := tab.Get(client)
	if !ok {
		id = servers[Pick(client.Hash(), servers)]
		tab.Put(client, id)
	}
	again, _ := tab.Get(ClientKey(netip.MustParseAddr("2001:db8:1:2::100"), 0))
	fmt.Println(again == id)
	// Output: true
}
