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
	pl, err := newPool("app", cfg.Pools["app"], nil, &cfg.Global, p.log, p.metrics)
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

func TestReloadKeepsServerState(t *testing.T) {
	old := testPool(t, "[pools.app]\nservers = [{ address = \"10.0.0.1:80\" }, { address = \"10.0.0.2:80\" }]\n")
	old.servers[0].requests.Add(7)
	cfg, _ := config.Parse("quill.toml", "[vips.web]\nlisten = [\"127.0.0.1:1\"]\n  [[vips.web.routes]]\n  pool = \"app\"\n"+
		"[pools.app]\nservers = [{ address = \"10.0.0.1:80\", weight = 5 }, { address = \"10.0.0.3:80\" }]\n")
	p := &Proxy{log: zap.NewNop()}
	p.metrics = newMetrics(p)
	pl, err := newPool("app", cfg.Pools["app"], old, &cfg.Global, p.log, p.metrics)
	if err != nil {
		t.Fatal(err)
	}
	if pl.servers[0] != old.servers[0] || pl.servers[0].requests.Load() != 7 || pl.servers[0].weight.Load() != 5 {
		t.Error("a server that stays lost its state or missed its new weight")
	}
	if pl.servers[1] == old.servers[1] {
		t.Error("a new server reused a removed one")
	}
	if pl.transport != old.transport {
		t.Error("backend connections were not kept across the reload")
	}
}
