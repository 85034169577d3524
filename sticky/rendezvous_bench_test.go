package sticky

import (
	"fmt"
	"testing"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{4, 16} {
		ids := serverIDs(n)
		weights := make([]int, n)
		for i := range weights {
			weights[i] = 1 + i%3
		}
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var client uint64
			for b.Loop() {
				client += keySeed
				if Pick(client, ids) < 0 {
					b.Fatal("no server picked")
				}
			}
		})
		b.Run(fmt.Sprintf("weighted/servers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var client uint64
			for b.Loop() {
				client += keySeed
				if PickWeighted(client, ids, weights) < 0 {
					b.Fatal("no server picked")
				}
			}
		})
	}
}
