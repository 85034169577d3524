package sticky

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// model is a plain, obviously correct LRU table with the same rules as a
// single-shard Table.
type model struct {
	limit               int
	ttl                 time.Duration
	order               []Key // most recently used first
	server              map[Key]uint64
	used                map[Key]time.Time
	evictions, expiries uint64
}

func (m *model) expired(k Key, now time.Time) bool {
	return m.ttl > 0 && now.Sub(m.used[k]) > m.ttl
}

func (m *model) drop(k Key) {
	m.order = slices.DeleteFunc(m.order, func(o Key) bool { return o == k })
	delete(m.server, k)
	delete(m.used, k)
}

func (m *model) front(k Key, now time.Time) {
	m.order = slices.DeleteFunc(m.order, func(o Key) bool { return o == k })
	m.order = slices.Insert(m.order, 0, k)
	m.used[k] = now
}

func (m *model) get(k Key, now time.Time) (uint64, bool) {
	s, ok := m.server[k]
	if !ok {
		return 0, false
	}
	if m.expired(k, now) {
		m.drop(k)
		m.expiries++
		return 0, false
	}
	m.front(k, now)
	return s, true
}

func (m *model) put(k Key, s uint64, now time.Time) {
	if _, ok := m.server[k]; !ok {
		for range 2 {
			if len(m.order) == 0 || !m.expired(m.order[len(m.order)-1], now) {
				break
			}
			m.drop(m.order[len(m.order)-1])
			m.expiries++
		}
		if len(m.order) >= m.limit {
			if m.expired(m.order[len(m.order)-1], now) {
				m.expiries++
			} else {
				m.evictions++
			}
			m.drop(m.order[len(m.order)-1])
		}
	}
	m.server[k] = s
	m.front(k, now)
}

// TestTableMatchesModel drives a single-shard table and the model with the
// same random operations, so that every path through the slab, the list and
// the index (growth, backward-shift removal, slot reuse) is compared with the
// obvious behaviour.
func TestTableMatchesModel(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		keys  int
		ttl   time.Duration
	}{
		{"small and full", 8, 20, 0},
		{"larger than its keys", 300, 200, 0},
		{"churning with ttl", 100, 300, 50 * time.Second},
		{"mostly expiring", 50, 100, 3 * time.Second},
		{"one client", 1, 4, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tab := NewTable(tt.limit, tt.ttl, clock.now)
			m := &model{limit: tt.limit, ttl: tt.ttl, server: map[Key]uint64{}, used: map[Key]time.Time{}}
			r := rand.New(rand.NewPCG(uint64(tt.limit), uint64(tt.keys)))
			for step := range 20_000 {
				clock.advance(time.Duration(r.IntN(2000)) * time.Millisecond)
				k := key(r.IntN(tt.keys))
				switch n := r.IntN(10); {
				case n < 5:
					got, ok := tab.Get(k)
					want, wantOK := m.get(k, clock.t)
					if got != want || ok != wantOK {
						t.Fatalf("step %d: Get(%v) = %d, %v, want %d, %v", step, k, got, ok, want, wantOK)
					}
				case n < 9:
					s := r.Uint64()
					tab.Put(k, s)
					m.put(k, s, clock.t)
				default:
					tab.Delete(k)
					m.drop(k)
				}
				if tab.Len() != len(m.order) {
					t.Fatalf("step %d: Len = %d, want %d", step, tab.Len(), len(m.order))
				}
			}
			checkInvariants(t, tab)
			if tab.Evictions() != m.evictions || tab.Expiries() != m.expiries {
				t.Errorf("Evictions, Expiries = %d, %d, want %d, %d", tab.Evictions(), tab.Expiries(), m.evictions, m.expiries)
			}
			if m.evictions+m.expiries == 0 && tt.keys > tt.limit {
				t.Errorf("the test never filled the table")
			}
		})
	}
}
