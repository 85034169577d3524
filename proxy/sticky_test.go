package proxy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"quill/config"
	"quill/sticky"
)

// A reload keeps the ip table and its clients, and shrinks it only when
// it commits.
func TestIPTableResizedAtCommit(t *testing.T) {
	tests := []struct {
		name       string
		maxClients int
		ttl        time.Duration
		wantAfter  int // clients left after the commit
	}{
		{"same size", 20000, 0, 300},
		{"smaller", 256, 0, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			running, err := newStickiness("app", ipSticky(t, 20000, 0), &config.Global{}, nil, nil, &onCommit{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 300 {
				ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
				running.table.Put(sticky.ClientKey(ip, 0), 1)
			}
			var later onCommit
			next, err := newStickiness("app", ipSticky(t, tt.maxClients, tt.ttl), &config.Global{}, running, nil, &later)
			if err != nil {
				t.Fatal(err)
			}
			if next.table != running.table {
				t.Fatal("the reload made a new table: sticky clients are lost")
			}
			if n := running.table.Len(); n != 300 {
				t.Errorf("%d clients before the commit, want 300", n)
			}
			later.run()
			if n := next.table.Len(); n != tt.wantAfter {
				t.Errorf("%d clients after the commit, want %d", n, tt.wantAfter)
			}
		})
	}
}

// ipSticky is the sticky table of a pool in ip mode, as the config
// package decodes it.
func ipSticky(t *testing.T, maxClients int, ttl time.Duration) *config.Sticky {
	t.Helper()
	src := fmt.Sprintf("[vips.web]\nlisten = [\"127.0.0.1:1\"]\n  [[vips.web.routes]]\n  pool = \"app\"\n"+
		"[pools.app]\nbalance = \"hash\"\nservers = [{ address = \"10.0.0.1:80\" }]\n[pools.app.sticky]\nmode = \"ip\"\nmax_clients = %d\nttl = %q\n",
		maxClients, ttl.String())
	cfg, err := config.Parse("quill.toml", src)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Pools["app"].Sticky
}
