package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// NewAdmin is the admin listener's handler: /healthz for the VRRP sidecar
// and load balancers in front, /status for people, /api/ for tools.
// reload re-reads the config file and applies it; nil means there is no
// file to re-read, and POST /api/reload says so.
func NewAdmin(p *Proxy, reload func() error) http.Handler {
	if reload == nil {
		reload = func() error { return errors.New("this proxy has no config file to reload") }
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", p.healthz)
	mux.HandleFunc("GET /status", p.status)
	mux.HandleFunc("GET /status.json", p.statusJSON)
	mux.HandleFunc("GET /status.csv", p.statusCSV)
	// HAProxy's stats page answers its CSV at ";csv".
	mux.HandleFunc("GET /status;csv", p.statusCSV)
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status", http.StatusFound)
	})
	api := http.NewServeMux()
	api.HandleFunc("GET /api/servers", p.apiServers)
	api.HandleFunc("POST /api/servers/{pool}/{server}", p.apiSetServer)
	api.HandleFunc("POST /api/reload", func(w http.ResponseWriter, r *http.Request) {
		res := struct {
			Applied bool   `json:"applied"`
			Error   string `json:"error,omitempty"`
		}{Applied: true}
		if err := reload(); err != nil {
			res.Applied, res.Error = false, err.Error()
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.Handle("/api/", p.authorize(api))
	return mux
}

// authorize demands the admin token, when one is set, on the API.
func (p *Proxy) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := p.Config().Admin; a != nil && a.Token != "" {
			got := r.Header.Get("Authorization")
			if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+a.Token)) != 1 {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong admin token"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// healthz answers 200 while quill serves and some pool has a live server,
// 503 while stopping or when no server can take a request.
func (p *Proxy) healthz(w http.ResponseWriter, r *http.Request) {
	if p.Stopping() {
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	now := time.Now().UnixNano()
	for _, pl := range p.gen.Load().pools {
		for _, s := range pl.servers {
			if s.takesSticky(now) {
				w.Write([]byte("ok\n"))
				return
			}
		}
	}
	http.Error(w, "no live server in any pool", http.StatusServiceUnavailable)
}

// serverView is a server as the API and the status page show it.
type serverView struct {
	Pool      string `json:"pool"`
	Address   string `json:"address"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Weight    int32  `json:"weight"`
	Backup    bool   `json:"backup"`
	Active    int64  `json:"active"`
	Requests  uint64 `json:"requests"`
	Failures  uint64 `json:"failures"`
	LastCheck string `json:"last_check,omitempty"`
}

func (p *Proxy) servers() []serverView {
	g := p.gen.Load()
	now := time.Now().UnixNano()
	var out []serverView
	for _, name := range sortedNames(g.pools) {
		for _, s := range g.pools[name].servers {
			v := serverView{Pool: name, Address: s.addr, Name: s.id, State: s.state(now), Weight: s.weight.Load(),
				Backup: s.backup, Active: s.active.Load(), Requests: s.requests.Load(), Failures: s.failures.Load()}
			if t := s.check.last.Load(); t > 0 {
				v.LastCheck = time.Unix(0, t).Format(time.RFC3339)
			}
			out = append(out, v)
		}
	}
	return out
}

func (p *Proxy) apiServers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, p.servers())
}

// apiSetServer changes a server at run time: ?state=ready|drain|maint,
// ?weight=N. The change lasts until the next reload.
func (p *Proxy) apiSetServer(w http.ResponseWriter, r *http.Request) {
	pl := p.gen.Load().pools[r.PathValue("pool")]
	if pl == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such pool"})
		return
	}
	var s *server
	for _, c := range pl.servers {
		if c.id == r.PathValue("server") || c.addr == r.PathValue("server") {
			s = c
		}
	}
	if s == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such server"})
		return
	}
	if st := r.FormValue("state"); st != "" {
		mode := -1
		for i, n := range modeNames {
			if n == st {
				mode = i
			}
		}
		if mode < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "state is ready, drain or maint"})
			return
		}
		if s.mode.Swap(int32(mode)) != int32(mode) {
			s.track.modeAt.Store(time.Now().UnixNano())
		}
	}
	if ws := r.FormValue("weight"); ws != "" {
		n, err := strconv.Atoi(ws)
		if err != nil || n < 1 || n > 1<<20 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "weight is a whole number > 0"})
			return
		}
		s.weight.Store(int32(n))
	}
	writeJSON(w, http.StatusOK, map[string]string{"pool": pl.name, "server": s.id, "state": s.state(time.Now().UnixNano())})
}

// adminFront is the admin listener. It is opened and retired by reloads
// like the fronts of the VIPs.
type adminFront struct {
	addr string
	sock *socket
	srv  *http.Server
	done chan struct{} // closed when serve returns
}

func (p *Proxy) newAdminFront(s *socket) *adminFront {
	return &adminFront{addr: s.addr, sock: s, done: make(chan struct{}), srv: &http.Server{
		Handler:           http.HandlerFunc(p.serveAdmin),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(p.log.Named("admin").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}}
}

func (a *adminFront) serve(log *zap.Logger) {
	defer close(a.done)
	if err := a.srv.Serve(a.sock); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("admin listener stopped", zap.String("listen", a.addr), zap.Error(err))
	}
}

// stop closes a retired admin listener, letting its requests in flight
// (the reload that retired it among them) finish for at most wait.
func (a *adminFront) stop(wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
	a.sock.Close()
}

// close closes the admin listener and its connections at once.
func (a *adminFront) close() {
	a.srv.Close()
	a.sock.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
