package proxy

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// checkState is the active health check's memory of a server: how many
// checks in a row went the same way.
type checkState struct {
	good, bad atomic.Int32
	last      atomic.Int64 // unix nanoseconds of the last check
}

// startChecks runs the active health checks of g's pools, replacing those
// of the previous generation. Servers keep their state across the swap.
func (p *Proxy) startChecks(g *generation) {
	if p.checks != nil {
		p.checks()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.checks = cancel
	for _, name := range sortedNames(g.pools) {
		pl := g.pools[name]
		if pl.cfg.Health == nil {
			for _, s := range pl.servers {
				s.checkDown.Store(false)
			}
			continue
		}
		client := &http.Client{
			Transport: newTransport(pl.cfg.ConnectTimeout.Duration, pl.cfg.Health.Timeout.Duration),
			Timeout:   pl.cfg.Health.Timeout.Duration,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
		for _, s := range pl.servers {
			go p.checkLoop(ctx, pl, s, client)
		}
	}
}

// checkLoop checks one server every interval: fall failures in a row take
// it down, rise successes bring it back.
func (p *Proxy) checkLoop(ctx context.Context, pl *pool, s *server, client *http.Client) {
	h := pl.cfg.Health
	t := time.NewTicker(h.Interval.Duration)
	defer t.Stop()
	for {
		ok, why := check(ctx, client, s.addr, h.Path, h.ExpectStatus)
		if ctx.Err() != nil {
			return
		}
		s.check.last.Store(time.Now().UnixNano())
		if ok {
			s.check.bad.Store(0)
			if n := s.check.good.Add(1); s.checkDown.Load() && int(n) >= h.Rise {
				s.checkDown.Store(false)
				p.log.Info("server up", zap.String("pool", pl.name), zap.String("server", s.addr), zap.Int("checks", int(n)))
			}
		} else {
			s.check.good.Store(0)
			if n := s.check.bad.Add(1); !s.checkDown.Load() && int(n) >= h.Fall {
				s.checkDown.Store(true)
				s.failures.Add(1)
				p.log.Warn("server down: health check failed", zap.String("pool", pl.name), zap.String("server", s.addr),
					zap.Int("checks", int(n)), zap.String("reason", why))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func check(ctx context.Context, client *http.Client, addr, path string, expect int) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "quill-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != expect {
		return false, "status " + resp.Status
	}
	return true, ""
}
