package vrrp

import (
	"testing"
	"time"
)

func TestHold(t *testing.T) {
	const d = time.Second
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms      int
		raw     int // -1: only let time pass (settle)
		eff     int
		changed bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"worse at once", []step{{0, 100, 100, true}, {10, 100, 100, false}}},
		{"better after the period", []step{{0, 100, 100, true}, {100, 0, 100, false}, {1099, -1, 100, false}, {1100, -1, 0, true}}},
		{"relapse restarts the period", []step{{0, 1, 1, true}, {100, 0, 1, false}, {900, 1, 1, false}, {1000, 0, 1, false}, {1900, -1, 1, false}, {2000, -1, 0, true}}},
		{"flapping every 300ms never recovers", []step{
			{0, 1, 1, true}, {300, 0, 1, false}, {600, 1, 1, false}, {900, 0, 1, false}, {1200, 1, 1, false},
			{1500, 0, 1, false}, {1800, 1, 1, false}, {2100, 0, 1, false}, {3099, -1, 1, false}, {3100, -1, 0, true}}},
		{"partial recovery waits for the worse of the pending values", []step{
			{0, 200, 200, true}, {100, 0, 200, false}, {500, 100, 200, false}, {1400, 0, 200, false}, {1500, -1, 100, true},
			{2499, -1, 100, false}, {2500, -1, 0, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h hold
			for i, s := range tt.steps {
				var changed bool
				if s.raw >= 0 {
					changed = h.observe(at(s.ms), s.raw, d)
				} else {
					due := h.due(d)
					changed = h.settle(at(s.ms), d)
					if changed == at(s.ms).Before(due) {
						t.Fatalf("step %d: settled %v at %v, due %v", i, changed, at(s.ms).Sub(t0), due.Sub(t0))
					}
				}
				if h.eff != s.eff || changed != s.changed {
					t.Fatalf("step %d (%+v): effective %d changed %v", i, s, h.eff, changed)
				}
			}
		})
	}
}
