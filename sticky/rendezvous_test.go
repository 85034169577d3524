package sticky

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
)

const clients = 100_000

// sink keeps results of calls made only to count their allocations.
var sink uint64

// clientHashes returns the hashes of n clients from a realistic population:
// consecutive IPv4 addresses, or consecutive IPv6 /64s.
func clientHashes(n int, v6 bool) []uint64 {
	hs := make([]uint64, n)
	for i := range hs {
		var ip netip.Addr
		if v6 {
			ip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, byte(i >> 8), byte(i), 0, 0, 0, 0, 0, 0, 0, 1})
		} else {
			ip = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		hs[i] = ClientKey(ip, 0).Hash()
	}
	return hs
}

// serverIDs returns the ids of n servers whose identities differ only in
// their last characters, as addresses in one pool do.
func serverIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = ServerID(fmt.Sprintf("10.0.0.%d:8080", i+1))
	}
	return ids
}

func percent(n, of int) float64 { return 100 * float64(n) / float64(of) }

// TestPlacementIsStable pins the values every quill host computes. Both hosts
// of an HA pair must agree, including while they run different versions
// during an upgrade, so these must never change. The expected values come from
// sha256sum and an independent implementation of the mixer.
func TestPlacementIsStable(t *testing.T) {
	v4 := ClientKey(netip.MustParseAddr("192.0.2.1"), 0).Hash()
	v6 := ClientKey(netip.MustParseAddr("2001:db8:1:2::99"), 0).Hash()
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"ServerID of an address", ServerID("10.0.0.1:8080"), 0x120e9814c44c7e73},
		{"ServerID of a name", ServerID("web-1"), 0xc4719afa76fa448b},
		{"hash of an IPv4 client", v4, 0xca85bd3c258e7b9e},
		{"hash of an IPv6 client", v6, 0x2d79d65bf6054223},
		{"Score against an address", Score(v4, 0x120e9814c44c7e73), 0x306399cfb2bee9fb},
		{"Score against a name", Score(v4, 0xc4719afa76fa448b), 0xaa135746471a9414},
		{"Score of zeros", Score(0, 0), 0x1418ad486594e4da},
		{"Score of small values", Score(1, 2), 0x52358020f46671fd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %#x, want %#x", tt.got, tt.want)
			}
		})
	}
}

func TestPickDistribution(t *testing.T) {
	tests := []struct {
		name    string
		servers int
		v6      bool
	}{
		{"4 servers, IPv4 clients", 4, false},
		{"4 servers, IPv6 clients", 4, true},
		{"2 servers, IPv4 clients", 2, false},
		{"7 servers, IPv4 clients", 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := serverIDs(tt.servers)
			counts := make([]int, tt.servers)
			for _, c := range clientHashes(clients, tt.v6) {
				counts[Pick(c, ids)]++
			}
			want := 100 / float64(tt.servers)
			for i, n := range counts {
				if got := percent(n, clients); math.Abs(got-want) > 3 {
					t.Errorf("server %d has %.2f%% of clients, want %.2f%% ± 3", i, got, want)
				}
			}
		})
	}
}

func TestPickRemovingServer(t *testing.T) {
	ids := serverIDs(4)
	hs := clientHashes(clients, false)
	before := make([]int, len(hs))
	for i, c := range hs {
		before[i] = Pick(c, ids)
	}
	for removed := range ids {
		t.Run(fmt.Sprintf("remove server %d", removed), func(t *testing.T) {
			rest := slices.Delete(slices.Clone(ids), removed, removed+1)
			moved := make(map[uint64]int)
			total := 0
			for i, c := range hs {
				after := rest[Pick(c, rest)]
				if before[i] != removed {
					if after != ids[before[i]] {
						t.Fatalf("client %d moved from server %d though it stayed", i, before[i])
					}
					continue
				}
				moved[after]++
				total++
			}
			for _, id := range rest {
				if got := percent(moved[id], total); math.Abs(got-100.0/3) > 3 {
					t.Errorf("server %#x took %.2f%% of the moved clients, want 33.33%% ± 3", id, got)
				}
			}
		})
	}
}

func TestPickAddingServer(t *testing.T) {
	tests := []struct {
		name    string
		servers int
	}{
		{"4 to 5", 4},
		{"1 to 2", 1},
		{"9 to 10", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grown := serverIDs(tt.servers + 1)
			ids := grown[:tt.servers]
			added := grown[tt.servers]
			moved := 0
			for i, c := range clientHashes(clients, false) {
				was, now := ids[Pick(c, ids)], grown[Pick(c, grown)]
				if was == now {
					continue
				}
				if now != added {
					t.Fatalf("client %d moved between old servers %#x and %#x", i, was, now)
				}
				moved++
			}
			want := 100 / float64(tt.servers+1)
			if got := percent(moved, clients); math.Abs(got-want) > 3 {
				t.Errorf("%.2f%% of clients moved, want %.2f%% ± 3", got, want)
			}
		})
	}
}

func TestPickWeightedShares(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		want    []float64
	}{
		{"3:1", []int{3, 1}, []float64{75, 25}},
		{"1:3", []int{1, 3}, []float64{25, 75}},
		{"1:1:2", []int{1, 1, 2}, []float64{25, 25, 50}},
		{"10:0:10", []int{10, 0, 10}, []float64{50, 0, 50}},
		{"negative never picked", []int{-5, 1}, []float64{0, 100}},
	}
	hs := clientHashes(clients, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := serverIDs(len(tt.weights))
			counts := make([]int, len(ids))
			for _, c := range hs {
				counts[PickWeighted(c, ids, tt.weights)]++
			}
			for i, n := range counts {
				if got := percent(n, clients); math.Abs(got-tt.want[i]) > 2 {
					t.Errorf("server %d (weight %d) has %.2f%% of clients, want %.0f%% ± 2", i, tt.weights[i], got, tt.want[i])
				}
			}
		})
	}
}

func TestPickWeightedEqualWeightsMatchPick(t *testing.T) {
	ids := serverIDs(5)
	weights := []int{7, 7, 7, 7, 7}
	for i, c := range clientHashes(10_000, false) {
		if p, w := Pick(c, ids), PickWeighted(c, ids, weights); p != w {
			t.Fatalf("client %d: Pick = %d, PickWeighted = %d", i, p, w)
		}
	}
}

func TestPickIgnoresOrder(t *testing.T) {
	ids := serverIDs(6)
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	weights := []int{1, 2, 3, 4, 5, 6}
	reversedWeights := slices.Clone(weights)
	slices.Reverse(reversedWeights)
	for i, c := range clientHashes(10_000, false) {
		if a, b := ids[Pick(c, ids)], reversed[Pick(c, reversed)]; a != b {
			t.Fatalf("client %d: Pick chose %#x, or %#x with servers reversed", i, a, b)
		}
		if a, b := ids[PickWeighted(c, ids, weights)], reversed[PickWeighted(c, reversed, reversedWeights)]; a != b {
			t.Fatalf("client %d: PickWeighted chose %#x, or %#x with servers reversed", i, a, b)
		}
	}
}

func TestPickNone(t *testing.T) {
	tests := []struct {
		name    string
		ids     []uint64
		weights []int
	}{
		{"no servers", nil, nil},
		{"empty servers", []uint64{}, []int{}},
		{"all weights zero", serverIDs(3), []int{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.ids) == 0 {
				if got := Pick(42, tt.ids); got != -1 {
					t.Errorf("Pick = %d, want -1", got)
				}
			}
			if got := PickWeighted(42, tt.ids, tt.weights); got != -1 {
				t.Errorf("PickWeighted = %d, want -1", got)
			}
		})
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	ids := serverIDs(16)
	weights := make([]int, len(ids))
	for i := range weights {
		weights[i] = i + 1
	}
	ip := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		pick func()
	}{
		{"Pick", func() { sink = uint64(Pick(12345, ids)) }},
		{"PickWeighted", func() { sink = uint64(PickWeighted(12345, ids, weights)) }},
		{"ClientKey and Hash", func() { sink = ClientKey(ip, 0).Hash() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.pick); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}
