package proxy

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"quill/config"
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
		go func() {
			<-ctx.Done()
			client.CloseIdleConnections()
		}()
	}
}

// checkLoop checks one server every interval: fall failures in a row take
// it down, rise successes bring it back.
func (p *Proxy) checkLoop(ctx context.Context, pl *pool, s *server, client *http.Client) {
	h := pl.cfg.Health
	t := time.NewTicker(h.Interval.Duration)
	defer t.Stop()
	for {
		began := time.Now()
		ok, why := check(ctx, client, s.addr, h)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		s.check.last.Store(now.UnixNano())
		s.noteCheck(now.UnixNano(), ok, why, now.Sub(began))
		if ok {
			s.check.bad.Store(0)
			if n := s.check.good.Add(1); s.checkDown.Load() && int(n) >= h.Rise {
				s.track.checkAt.Store(now.UnixNano())
				s.checkDown.Store(false)
				p.log.Info("server up", zap.String("pool", pl.name), zap.String("server", s.addr), zap.Int("checks", int(n)))
			}
		} else {
			s.check.good.Store(0)
			if n := s.check.bad.Add(1); !s.checkDown.Load() && int(n) >= h.Fall {
				s.track.checkAt.Store(now.UnixNano())
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

// maxCheckBody bounds what a check reads of a body for its digest.
const maxCheckBody = 8 << 20

// check runs one health check of the server at addr.
func check(ctx context.Context, client *http.Client, addr string, h *config.Health) (bool, string) {
	if h.Type == config.HealthTCP {
		d := net.Dialer{Timeout: h.Timeout.Duration}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+h.Path, nil)
	if err != nil {
		return false, err.Error()
	}
	if h.Host != "" {
		req.Host = h.Host
	}
	req.Header.Set("User-Agent", "quill-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	limit := int64(64 << 10)
	if h.ExpectMD5 != "" {
		limit = maxCheckBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return false, "reading the body: " + err.Error()
	}
	switch {
	case !h.ExpectStatus.Contains(resp.StatusCode):
		return false, fmt.Sprintf("status %d, want %s", resp.StatusCode, h.ExpectStatus)
	case h.ExpectBody != "" && !bytes.Contains(body, []byte(h.ExpectBody)):
		return false, fmt.Sprintf("body lacks %q", h.ExpectBody)
	case h.ExpectMD5 != "":
		sum := md5.Sum(body)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, h.ExpectMD5) {
			return false, fmt.Sprintf("body digest %s, want %s", got, h.ExpectMD5)
		}
	}
	return true, ""
}
