package proxy

import (
	"testing"

	"go.uber.org/zap"

	"quill/config"
)

func testPool(t *testing.T, src string) *pool {
	t.Helper()
	cfg, err := config.Parse("quill.toml", `[vips.web]
listen = ["127.0.0.1:1"]
  [[vips.web.routes]]
  pool = "app"
`+src)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{log: zap.NewNop()}
	p.metrics = newMetrics(p)
	pl, err := newPool("app", cfg.Pools["app"], nil, &cfg.Global, p.log, p.metrics, &onCommit{})
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestChooseBackupAndStubborn(t *testing.T) {
	const servers = `  [[pools.app.servers]]
  address = "10.0.0.1:80"
  [[pools.app.servers]]
  address = "10.0.0.2:80"
  [[pools.app.servers]]
  address = "10.0.0.9:80"
  backup = true
`
	tests := []struct {
		name     string
		stubborn bool
		down     []int // servers marked down
		pinned   int   // -1: none
		tried    []int
		want     int // -1: nil
	}{
		{"primaries first", false, nil, -1, nil, 0},
		{"backup unused while a primary is up", false, []int{0}, -1, nil, 1},
		{"backup when every primary is down", false, []int{0, 1}, -1, nil, 2},
		{"nothing when all are down", false, []int{0, 1, 2}, -1, nil, -1},
		{"pinned server is kept", false, nil, 1, nil, 1},
		{"pinned server down: another", false, []int{1}, 1, nil, 0},
		{"retry skips the tried server", false, nil, -1, []int{0}, 1},
		{"stubborn: pinned server down is 503", true, []int{1}, 1, nil, -1},
		{"stubborn: no retry", true, nil, -1, []int{0}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "[pools.app]\n"
			if tt.stubborn {
				src += "stubborn = true\n"
			}
			pl := testPool(t, src+servers)
			for _, i := range tt.down {
				pl.servers[i].checkDown.Store(true)
			}
			x := &exchange{}
			if tt.pinned >= 0 {
				x.pinned = pl.servers[tt.pinned]
			}
			for _, i := range tt.tried {
				x.tried[x.ntried] = pl.servers[i]
				x.ntried++
			}
			got := pl.choose(x)
			var want *server
			if tt.want >= 0 {
				want = pl.servers[tt.want]
			}
			if got != want {
				t.Errorf("chose %v, want %v", got, want)
			}
		})
	}
}

// A pool built for a reload shares the state of the servers that stay and
// writes nothing to the running pool: a changed weight waits for the
// commit, and one set through the API stays unless the file changed it.
func TestReloadKeepsServerState(t *testing.T) {
	const head = "[vips.web]\nlisten = [\"127.0.0.1:1\"]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\n"
	tests := []struct {
		name      string
		apiWeight int32 // set through the API before the reload; 0: none
		servers   string
		// weight of 10.0.0.1 before and after the commit
		wantBefore, wantAfter int32
	}{
		{"file weight changed", 0, `{ address = "10.0.0.1:80", weight = 5 }, { address = "10.0.0.3:80" }`, 2, 5},
		{"file weight unchanged", 0, `{ address = "10.0.0.1:80", weight = 2 }, { address = "10.0.0.3:80" }`, 2, 2},
		{"API weight, file unchanged: kept", 7, `{ address = "10.0.0.1:80", weight = 2 }, { address = "10.0.0.3:80" }`, 7, 7},
		{"API weight, file changed: the file wins", 7, `{ address = "10.0.0.1:80", weight = 5 }, { address = "10.0.0.3:80" }`, 7, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := testPool(t, "[pools.app]\nservers = [{ address = \"10.0.0.1:80\", weight = 2 }, { address = \"10.0.0.2:80\" }]\n")
			old.servers[0].requests.Add(7)
			if tt.apiWeight != 0 {
				old.servers[0].weight.Store(tt.apiWeight)
			}
			cfg, err := config.Parse("quill.toml", head+"servers = ["+tt.servers+"]\n")
			if err != nil {
				t.Fatal(err)
			}
			p := &Proxy{log: zap.NewNop()}
			p.metrics = newMetrics(p)
			var later onCommit
			pl, err := newPool("app", cfg.Pools["app"], old, &cfg.Global, p.log, p.metrics, &later)
			if err != nil {
				t.Fatal(err)
			}
			kept := pl.servers[0]
			if kept == old.servers[0] || kept.serverState != old.servers[0].serverState || kept.requests.Load() != 7 {
				t.Error("a server that stays must be a new object sharing the old one's state")
			}
			if got := old.servers[0].weight.Load(); got != tt.wantBefore {
				t.Errorf("weight before the commit %d, want %d", got, tt.wantBefore)
			}
			later.run()
			if got := kept.weight.Load(); got != tt.wantAfter {
				t.Errorf("weight after the commit %d, want %d", got, tt.wantAfter)
			}
			if pl.servers[1].serverState == old.servers[1].serverState {
				t.Error("a new server reused a removed one's state")
			}
			if pl.transport != old.transport {
				t.Error("backend connections were not kept across the reload")
			}
		})
	}
}
