package sticky

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchSizes are the table sizes benchmarked: pen's default, which fits in a
// CPU cache, and a million clients, which does not.
var benchSizes = []int{DefaultMaxClients, 1_000_000}

// benchTables holds one full table per size, built once for all benchmarks,
// with the heap bytes it takes per client.
var benchTables = func() map[int]func() (*Table, float64) {
	m := make(map[int]func() (*Table, float64))
	for _, n := range benchSizes {
		m[n] = sync.OnceValues(func() (*Table, float64) { return fill(n) })
	}
	return m
}()

// fill returns a table holding clients 0 to n-1 and the heap bytes it takes
// per client. Its capacity is half as much again, room for the uneven spread
// of clients over shards, so that none is evicted.
func fill(n int) (*Table, float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab := NewTable(n*3/2, time.Hour, nil)
	for i := range n {
		tab.Put(key(i), uint64(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := tab.Len(); got != n {
		panic(fmt.Sprintf("benchmark table holds %d clients, want %d", got, n))
	}
	return tab, float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// parallel runs op on random clients from 2 goroutines per core.
func parallel(b *testing.B, op func(r *rand.Rand)) {
	var seed atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 0))
		for pb.Next() {
			op(r)
		}
	})
}

func BenchmarkTableGet(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			tab, perEntry := benchTables[n]()
			parallel(b, func(r *rand.Rand) {
				i := r.IntN(n)
				if got, ok := tab.Get(key(i)); !ok || got != uint64(i) {
					b.Errorf("client %d: Get = %d, %v", i, got, ok)
				}
			})
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

func BenchmarkTablePut(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("existing/clients=%d", n), func(b *testing.B) {
			tab, perEntry := benchTables[n]()
			parallel(b, func(r *rand.Rand) {
				i := r.IntN(n)
				tab.Put(key(i), uint64(i))
			})
			b.ReportMetric(perEntry, "B/entry")
		})
	}
	// New clients arriving at a full table, each evicting the least recently
	// used client of its shard.
	evicting := sync.OnceValue(func() *Table {
		tab := NewTable(DefaultMaxClients, time.Hour, nil)
		for i := range 2 * DefaultMaxClients {
			tab.Put(key(i), 1)
		}
		return tab
	})
	var next atomic.Int64
	next.Store(2 * DefaultMaxClients)
	b.Run(fmt.Sprintf("new/clients=%d", DefaultMaxClients), func(b *testing.B) {
		tab := evicting()
		parallel(b, func(*rand.Rand) {
			tab.Put(key(int(next.Add(1))), 1)
		})
		if got := tab.Len(); got > DefaultMaxClients+maxShards {
			b.Errorf("Len = %d, above capacity", got)
		}
	})
}
