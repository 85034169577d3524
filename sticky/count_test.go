package sticky

import (
	"maps"
	"testing"
	"time"
)

func TestClientsPerServer(t *testing.T) {
	tests := []struct {
		name string
		run  func(*Table, *fakeClock)
		want map[uint64]int
	}{
		{"empty", func(*Table, *fakeClock) {}, map[uint64]int{}},
		{"two servers", func(tab *Table, _ *fakeClock) {
			tab.Put(key(1), 7)
			tab.Put(key(2), 7)
			tab.Put(key(3), 9)
		}, map[uint64]int{7: 2, 9: 1}},
		{"a client moved", func(tab *Table, _ *fakeClock) {
			tab.Put(key(1), 7)
			tab.Put(key(1), 9)
		}, map[uint64]int{9: 1}},
		{"idle past the TTL is not counted", func(tab *Table, c *fakeClock) {
			tab.Put(key(1), 7)
			c.advance(2 * time.Minute)
			tab.Put(key(2), 9)
		}, map[uint64]int{9: 1}},
		{"across shards", func(tab *Table, _ *fakeClock) {
			for i := range 3000 {
				tab.Put(key(i), uint64(i%3))
			}
		}, map[uint64]int{0: 1000, 1: 1000, 2: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tab := NewTable(0, time.Minute, clock.now)
			tt.run(tab, clock)
			if got := tab.ClientsPerServer(); !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
