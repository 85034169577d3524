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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"quill/config"
)

// Run runs the virtual routers until ctx ends (SIGTERM), then each master
// resigns with priority 0 and every address quill added is removed.
func Run(ctx context.Context, instances []config.VRRPInstance, log *zap.Logger) error {
	if len(instances) == 0 {
		return errors.New("no [[vrrp.instances]] in the config")
	}
	if err := checkCapabilities(); err != nil {
		return err
	}
	met := newMetrics()
	var ins []*instance
	fail := func(err error) error {
		for _, in := range ins {
			in.close()
		}
		return err
	}
	for _, c := range instances {
		in, err := setup(c, log, met)
		if err != nil {
			return fail(fmt.Errorf("vrrp instance %q: %w", c.Name, err))
		}
		ins = append(ins, in)
	}
	var servers []*http.Server
	seen := map[string]bool{}
	for _, c := range instances {
		if c.Listen == "" || seen[c.Listen] {
			continue
		}
		seen[c.Listen] = true
		ln, err := net.Listen("tcp", c.Listen)
		if err != nil {
			for _, s := range servers {
				s.Close()
			}
			return fail(fmt.Errorf("vrrp instance %q: listen: %w", c.Name, err))
		}
		s := &http.Server{Handler: handler(met, ins), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, s)
		go s.Serve(ln)
		log.Info("serving /metrics and /status", zap.String("listen", c.Listen))
	}
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.run(ctx)
		}()
	}
	wg.Wait()
	for _, s := range servers {
		s.Close()
	}
	log.Info("stopped: virtual addresses removed")
	return nil
}

func handler(met *metrics, ins []*instance) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(met.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		var out []Status
		for _, in := range ins {
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
