package vrrp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"quill/config"
)

// Sidecar runs the virtual routers of one config, and reloads them.
type Sidecar struct {
	log *zap.Logger
	met *metrics

	mu      sync.Mutex
	order   []string // instance names, in the file's order
	running map[string]*running
	servers map[string]*http.Server // by listen address
}

// running is one instance and what stops it.
type running struct {
	cfg    config.VRRPInstance
	in     *instance
	cancel context.CancelFunc
	done   chan struct{}
}

// Start sets the virtual routers up and starts them; Stop ends them.
func Start(instances []config.VRRPInstance, log *zap.Logger) (*Sidecar, error) {
	if len(instances) == 0 {
		return nil, errors.New("no [[vrrp.instances]] in the config")
	}
	if err := checkCapabilities(); err != nil {
		return nil, err
	}
	s := &Sidecar{log: log, met: newMetrics(), running: map[string]*running{}, servers: map[string]*http.Server{}}
	ins, err := s.provision(instances)
	if err != nil {
		return nil, err
	}
	servers, err := s.listen(instances)
	if err != nil {
		closeAll(ins)
		return nil, err
	}
	for _, in := range ins {
		if err := in.prepare(); err != nil {
			closeAll(ins)
			closeServers(servers)
			return nil, fmt.Errorf("vrrp instance %q: %w", in.name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serve(servers)
	for i, c := range instances {
		s.order = append(s.order, c.Name)
		s.start(c, ins[i])
	}
	return s, nil
}

// provision sets up instances without starting them; on an error it
// closes what it opened.
func (s *Sidecar) provision(cfgs []config.VRRPInstance) ([]*instance, error) {
	var ins []*instance
	for _, c := range cfgs {
		in, err := setup(c, s.log, s.met)
		if err != nil {
			closeAll(ins)
			return nil, fmt.Errorf("vrrp instance %q: %w", c.Name, err)
		}
		ins = append(ins, in)
	}
	return ins, nil
}

func closeAll(ins []*instance) {
	for _, in := range ins {
		in.close()
	}
}

// listen opens the /metrics and /status listeners the config names and
// the sidecar does not serve yet.
func (s *Sidecar) listen(cfgs []config.VRRPInstance) (map[string]net.Listener, error) {
	out := map[string]net.Listener{}
	for _, c := range cfgs {
		if c.Listen == "" || out[c.Listen] != nil || s.servers[c.Listen] != nil {
			continue
		}
		ln, err := net.Listen("tcp", c.Listen)
		if err != nil {
			closeServers(out)
			return nil, fmt.Errorf("vrrp instance %q: listen: %w", c.Name, err)
		}
		out[c.Listen] = ln
	}
	return out, nil
}

func closeServers(lns map[string]net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// serve starts serving on new listeners. s.mu is held.
func (s *Sidecar) serve(lns map[string]net.Listener) {
	for addr, ln := range lns {
		srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
		s.servers[addr] = srv
		go srv.Serve(ln)
		s.log.Info("serving /metrics and /status", zap.String("listen", addr))
	}
}

// start runs a prepared instance. s.mu is held.
func (s *Sidecar) start(c config.VRRPInstance, in *instance) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cfg: c, in: in, cancel: cancel, done: make(chan struct{})}
	s.running[c.Name] = r
	go func() {
		defer close(r.done)
		in.run(ctx)
	}()
}

// stop ends instances (a master resigns and removes its addresses) and
// waits for them. s.mu is held.
func (s *Sidecar) stop(names []string) {
	for _, name := range names {
		s.running[name].cancel()
	}
	for _, name := range names {
		<-s.running[name].done
		delete(s.running, name)
	}
}

// Reload applies a new list of instances as one change: the changed and
// added instances are set up first, and if one cannot be (a missing
// interface, a unicast_source not on it, a port taken), the reload is
// refused and nothing changes. Then removed and changed instances stop
// (resigning), changed and added ones start; unchanged ones are not
// touched.
func (s *Sidecar) Reload(instances []config.VRRPInstance) (Changes, error) {
	if len(instances) == 0 {
		return Changes{}, errors.New("no [[vrrp.instances]] in the config: keeping the running ones")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var current []config.VRRPInstance
	for _, name := range s.order {
		current = append(current, s.running[name].cfg)
	}
	ch := planReload(current, instances)
	byName := map[string]config.VRRPInstance{}
	for _, c := range instances {
		byName[c.Name] = c
	}
	var fresh []config.VRRPInstance
	for _, c := range instances {
		if slices.Contains(ch.Changed, c.Name) || slices.Contains(ch.Added, c.Name) {
			fresh = append(fresh, c)
		}
	}
	ins, err := s.provision(fresh)
	if err != nil {
		return Changes{}, err
	}
	lns, err := s.listen(instances)
	if err != nil {
		closeAll(ins)
		return Changes{}, err
	}

	// Commit: nothing below refuses the reload.
	s.stop(append(slices.Clone(ch.Removed), ch.Changed...))
	for _, name := range ch.Removed {
		s.met.forget(name)
	}
	s.order = s.order[:0]
	for _, c := range instances {
		s.order = append(s.order, c.Name)
	}
	for i, c := range fresh {
		if err := ins[i].prepare(); err != nil {
			s.log.Error("could not prepare the interface", zap.String("instance", c.Name), zap.Error(err))
		}
		s.start(c, ins[i])
	}
	for _, name := range ch.Unchanged {
		s.running[name].cfg = byName[name] // listen may have changed
	}
	s.serve(lns)
	for addr, srv := range s.servers {
		if !slices.ContainsFunc(instances, func(c config.VRRPInstance) bool { return c.Listen == addr }) {
			srv.Close()
			delete(s.servers, addr)
			s.log.Info("stopped serving /metrics and /status", zap.String("listen", addr))
		}
	}
	return ch, nil
}

// Stop ends every instance: each master resigns with priority 0 and every
// address quill added is removed.
func (s *Sidecar) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop(slices.Clone(s.order))
	s.order = nil
	for addr, srv := range s.servers {
		srv.Close()
		delete(s.servers, addr)
	}
	s.log.Info("stopped: virtual addresses removed")
}

// instances lists the running instances, in the file's order.
func (s *Sidecar) instances() []*instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*instance
	for _, name := range s.order {
		if r, ok := s.running[name]; ok {
			out = append(out, r.in)
		}
	}
	return out
}

func (s *Sidecar) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		var out []Status
		for _, in := range s.instances() {
			out = append(out, in.Status())
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
	return mux
}

// Capability bits (linux/capability.h).
const (
	capNetAdmin = 12
	capNetRaw   = 13
)

// checkCapabilities fails early, and clearly, without CAP_NET_RAW (raw
// sockets) or CAP_NET_ADMIN (addresses).
func checkCapabilities() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil // cannot tell; the socket calls will say
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		hexCaps, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(hexCaps), 16, 64)
		if err != nil {
			return nil
		}
		var missing []string
		if caps&(1<<capNetRaw) == 0 {
			missing = append(missing, "CAP_NET_RAW")
		}
		if caps&(1<<capNetAdmin) == 0 {
			missing = append(missing, "CAP_NET_ADMIN")
		}
		if len(missing) > 0 {
			return fmt.Errorf("quill vrrp needs CAP_NET_RAW (raw sockets for adverts and ARP) and CAP_NET_ADMIN (virtual addresses); missing %s: "+
				"run it as root, `setcap cap_net_raw,cap_net_admin+ep` the binary, or set AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW in its systemd unit",
				strings.Join(missing, " and "))
		}
		return nil
	}
	return nil
}
