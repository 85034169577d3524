package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// haConfig is the one quill.toml of the HA pair, for `quill run` and
// `quill vrrp` alike; only the priority differs between the hosts.
func haConfig(prio int) string {
	return fmt.Sprintf(`[global]
secret = "the same on both hosts"
shutdown_timeout = "2s"

[admin]
listen = "127.0.0.1:9090"

[vips.www]
listen = ["%s:80"]
  [[vips.www.routes]]
  pool = "app"

[pools.app]
  [pools.app.sticky]
  mode = "cookie"
  [[pools.app.servers]]
  address = "10.77.0.1:8180"
  [[pools.app.servers]]
  address = "10.77.0.2:8180"
`, vip) + vrrpConfig(prio, "100ms", `track_url = "http://127.0.0.1:9090/healthz"
listen = "127.0.0.1:9091"`)
}

// probe is one request of the client loop.
type probe struct {
	at      time.Time
	ok      bool
	backend string
}

// loadSource is a CPU- and garbage-heavy program: every core allocates and
// drops memory as fast as it can, so its garbage collector never rests.
const loadSource = `package main

import "runtime"

var sink [][]byte

func main() {
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go func() {
			keep := make([][]byte, 256)
			for n := 0; ; n++ {
				keep[n%len(keep)] = make([]byte, 4096+n%8192)
			}
		}()
	}
	select {}
}
`

// metric reads one Prometheus sample from the sidecar's /metrics on host.
func metric(t *testing.T, h *host, name string) float64 {
	t.Helper()
	_, body, err := get(h.httpClient(5*time.Second), "http://127.0.0.1:9091/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	t.Fatalf("no %s in /metrics:\n%s", name, body)
	return 0
}

func gcCycles(t *testing.T, h *host) float64 { return metric(t, h, "go_gc_duration_seconds_count") }

func advertsReceived(t *testing.T, h *host) float64 {
	return metric(t, h, `quill_vrrp_adverts_received_total{instance="www"}`)
}

// notifyScript writes a notify command that records its arguments; calls
// returns what it recorded.
func notifyScript(t *testing.T) (path string, calls func() string) {
	t.Helper()
	dir := t.TempDir()
	path, out := filepath.Join(dir, "notify.sh"), filepath.Join(dir, "calls")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, func() string {
		b, _ := os.ReadFile(out)
		return string(b)
	}
}
