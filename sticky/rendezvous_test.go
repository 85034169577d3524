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

func TestPickIgnoresOrder(t *testing.T) {
	ids := serverIDs(6)
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	for i, c := range clientHashes(10_000, false) {
		if a, b := ids[Pick(c, ids)], reversed[Pick(c, reversed)]; a != b {
			t.Fatalf("client %d: Pick chose %#x, or %#x with servers reversed", i, a, b)
		}
	}
}

// unmix64 inverts mix64, which proves it a bijection: then so is Score for
// one client, and two servers can never tie.
func unmix64(z uint64) uint64 {
	z ^= z>>31 ^ z>>62
	z *= 0x319642b2d24d8ec3 // inverse of 0x94d049bb133111eb mod 2^64
	z ^= z>>27 ^ z>>54
	z *= 0x96de1b173f119089 // inverse of 0xbf58476d1ce4e5b9 mod 2^64
	z ^= z>>30 ^ z>>60
	return z
}

func TestScoreIsABijectionOfTheServer(t *testing.T) {
	tests := []struct {
		name string
		in   []uint64
	}{
		{"zero and one", []uint64{0, 1}},
		{"high bits", []uint64{1 << 63, ^uint64(0), 0x8000000000000001}},
		{"server ids", serverIDs(1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, x := range tt.in {
				if got := unmix64(mix64(x)); got != x {
					t.Fatalf("unmix64(mix64(%#x)) = %#x", x, got)
				}
				const client = 0xca85bd3c258e7b9e
				if got := unmix64(unmix64(Score(client, x))^client) ^ serverSeed; got != x {
					t.Fatalf("Score(client, %#x) does not give the server back: %#x", x, got)
				}
			}
		})
	}
}

// TestRendezvousSkipsUnoffered checks what the proxy relies on: offering only
// the servers that may take a client chooses as Pick does over those alone.
func TestRendezvousSkipsUnoffered(t *testing.T) {
	ids := serverIDs(5)
	tests := []struct {
		name string
		down []int
	}{
		{"none down", nil},
		{"first down", []int{0}},
		{"two down", []int{1, 3}},
		{"all but one down", []int{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var up []uint64
			for i, id := range ids {
				if !slices.Contains(tt.down, i) {
					up = append(up, id)
				}
			}
			for i, c := range clientHashes(5_000, false) {
				r := NewRendezvous(c)
				var chosen uint64
				for j, id := range ids {
					if !slices.Contains(tt.down, j) && r.Offer(id) {
						chosen = id
					}
				}
				if want := up[Pick(c, up)]; chosen != want {
					t.Fatalf("client %d: offered servers chose %#x, Pick over them %#x", i, chosen, want)
				}
			}
		})
	}
}

// TestPickIsStable pins whole placements: the server both hosts of an HA
// pair give a client must not change between versions.
func TestPickIsStable(t *testing.T) {
	ids := serverIDs(4)
	tests := []struct {
		client string
		want   int
	}{
		{"192.0.2.1", 2},
		{"192.0.2.2", 0},
		{"198.51.100.7", 2},
		{"2001:db8:1:2::99", 3},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			c := ClientKey(netip.MustParseAddr(tt.client), 0).Hash()
			if got := Pick(c, ids); got != tt.want {
				t.Errorf("Pick = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPickNone(t *testing.T) {
	tests := []struct {
		name string
		ids  []uint64
	}{
		{"no servers", nil},
		{"empty servers", []uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Pick(42, tt.ids); got != -1 {
				t.Errorf("Pick = %d, want -1", got)
			}
		})
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	ids := serverIDs(16)
	ip := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		pick func()
	}{
		{"Pick", func() { sink = uint64(Pick(12345, ids)) }},
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
