package proxy

import (
	"runtime/debug"
	"sync"
	"time"
)

// processInfo is what the status page says of the process itself.
type processInfo struct {
	started time.Time
	version string

	mu         sync.Mutex
	lastReload *reloadView
}

// reloadView is the outcome of the last reload.
type reloadView struct {
	At      string `json:"at"` // RFC 3339
	Applied bool   `json:"applied"`
	Error   string `json:"error,omitempty"`
}

func (pi *processInfo) noteReload(err error) {
	r := &reloadView{At: time.Now().UTC().Format(time.RFC3339), Applied: err == nil}
	if err != nil {
		r.Error = err.Error()
	}
	pi.mu.Lock()
	pi.lastReload = r
	pi.mu.Unlock()
}

func (pi *processInfo) reload() *reloadView {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	return pi.lastReload
}

// SetVersion names the version the status page shows; call it before
// Serve. Without it the page shows the module version Go recorded.
func (p *Proxy) SetVersion(v string) { p.process.version = v }

// RefuseReload records a reload refused before it reached the proxy (a
// config file that does not parse or validate), as Reload records the
// ones it refuses itself.
func (p *Proxy) RefuseReload(err error) {
	p.metrics.reloads.WithLabelValues("refused").Inc()
	p.process.noteReload(err)
}

func (p *Proxy) version() string {
	if p.process.version != "" {
		return p.process.version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "unknown"
}
