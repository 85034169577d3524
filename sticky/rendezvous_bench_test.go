package sticky

import (
	"fmt"
	"testing"
)

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{4, 16} {
		ids := serverIDs(n)
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
	}
}
