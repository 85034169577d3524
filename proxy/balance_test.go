package proxy

import (
	"fmt"
	"math"
	"testing"

	"quill/config"
	"quill/sticky"
)

func servers(weights ...int) []*server {
	var out []*server
	for i, w := range weights {
		out = append(out, newServer(config.Server{Address: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: w}))
	}
	return out
}

func TestBalancerDistribution(t *testing.T) {
	tests := []struct {
		name    string
		balance config.Balance
		weights []int
		want    []float64 // expected share of each server
		tol     float64
	}{
		{"roundrobin even", "roundrobin", []int{1, 1, 1}, []float64{1. / 3, 1. / 3, 1. / 3}, 0.001},
		{"roundrobin ignores weight", "roundrobin", []int{3, 1}, []float64{.5, .5}, 0.001},
		{"weighted 3:1", "weighted", []int{3, 1}, []float64{.75, .25}, 0.01},
		{"weighted 5:1:1", "weighted", []int{5, 1, 1}, []float64{5. / 7, 1. / 7, 1. / 7}, 0.01},
		{"leastconn idle spreads", "leastconn", []int{1, 1}, []float64{.5, .5}, 0.01},
		{"hash spreads clients", "hash", []int{1, 1, 1, 1}, []float64{.25, .25, .25, .25}, 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newBalancer(tt.balance)
			if err != nil {
				t.Fatal(err)
			}
			set := servers(tt.weights...)
			counts := map[*server]int{}
			const n = 70000
			for i := 0; i < n; i++ {
				client := sticky.Score(uint64(i), 12345) // any well-spread client hash
				counts[b.pick(set, candidate{}, client)]++
			}
			for i, s := range set {
				share := float64(counts[s]) / n
				if math.Abs(share-tt.want[i]) > tt.tol {
					t.Errorf("server %d share %.4f, want %.4f±%.3f", i, share, tt.want[i], tt.tol)
				}
			}
		})
	}
}

func TestSmoothWeightedIsSmooth(t *testing.T) {
	set := servers(5, 1, 1)
	b := &smoothWeighted{}
	var got string
	for i := 0; i < 7; i++ {
		got += set[indexOf(set, b.pick(set, candidate{}, 0))].addr[7:8]
	}
	if want := "1121311"; got != want {
		t.Errorf("sequence %s, want nginx's %s", got, want)
	}
}

func indexOf(set []*server, s *server) int {
	for i, t := range set {
		if t == s {
			return i
		}
	}
	return -1
}

func TestLeastConnPrefersIdle(t *testing.T) {
	set := servers(1, 1, 1)
	set[0].active.Store(5)
	set[1].active.Store(1)
	set[2].active.Store(3)
	if got := (&leastConn{}).pick(set, candidate{}, 0); got != set[1] {
		t.Errorf("picked %s, want the least busy", got.addr)
	}
	// Weight 4 with 3 in flight is less loaded than weight 1 with 1.
	set = servers(4, 1)
	set[0].active.Store(3)
	set[1].active.Store(1)
	if got := (&leastConn{}).pick(set, candidate{}, 0); got != set[0] {
		t.Errorf("picked %s, want the one with most room for its weight", got.addr)
	}
}

func TestHashMovesOnlyRemovedServersClients(t *testing.T) {
	set := servers(1, 1, 1, 1)
	b := clientHash{}
	const n = 40000
	before := make([]*server, n)
	for i := range before {
		before[i] = b.pick(set, candidate{}, sticky.Score(uint64(i), 99))
	}
	set[2].checkDown.Store(true)
	moved := 0
	for i := range before {
		after := b.pick(set, candidate{}, sticky.Score(uint64(i), 99))
		if after != before[i] {
			moved++
			if before[i] != set[2] {
				t.Fatalf("client %d moved from a server that stayed", i)
			}
		}
	}
	if share := float64(moved) / n; share < 0.22 || share > 0.28 {
		t.Errorf("%.3f of clients moved, want about 0.25", share)
	}
}

func TestCandidateSkips(t *testing.T) {
	set := servers(1, 1, 1)
	set[0].mode.Store(modeDrain)
	set[1].markDown(0, 1<<62, nil)
	tests := []struct {
		name  string
		c     candidate
		wantS *server
	}{
		{"only the ready, up server", candidate{now: 1}, set[2]},
		{"tried servers are skipped", candidate{now: 1, tried: []*server{set[2]}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []config.Balance{config.RoundRobin, config.Weighted, config.LeastConn, config.Hash} {
				b, _ := newBalancer(name)
				if got := b.pick(set, tt.c, 7); got != tt.wantS {
					t.Errorf("%s picked %v, want %v", name, got, tt.wantS)
				}
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, name := range []config.Balance{config.RoundRobin, config.Weighted, config.LeastConn, config.Hash} {
		b.Run(string(name), func(b *testing.B) {
			bal, _ := newBalancer(name)
			set := servers(1, 2, 3, 4)
			b.ReportAllocs()
			i := uint64(0)
			for b.Loop() {
				i++
				if bal.pick(set, candidate{now: 1}, i) == nil {
					b.Fatal("no server")
				}
			}
		})
	}
}
