package vrrp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// fall is how many polls in a row must fail before a tracked URL counts
// as failing: one lost poll is forgiven.
const fall = 2

// tracker holds what the checks of one instance see now and turns it into
// Health. Checks run in their own goroutines; the instance reads health()
// when changed fires.
type tracker struct {
	iface    string   // the instance's interface: down = FAULT
	tracked  []string // track_interfaces
	ifWeight int      // 0: a tracked interface down = FAULT
	weight   int      // track_weight
	changed  chan struct{}

	mu      sync.Mutex
	down    map[string]bool // interface name -> down
	urlFail string          // why the URL fails; "" while good
}

func newTracker(iface string, tracked []string, ifWeight, weight int) *tracker {
	return &tracker{iface: iface, tracked: tracked, ifWeight: ifWeight, weight: weight,
		changed: make(chan struct{}, 1), down: map[string]bool{}}
}

func (t *tracker) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// setLink records an interface's state.
func (t *tracker) setLink(name string, up bool) {
	t.mu.Lock()
	changed := t.down[name] == up
	t.down[name] = !up
	t.mu.Unlock()
	if changed {
		t.signal()
	}
}

// setURL records the URL check's verdict; why is "" when it passes.
func (t *tracker) setURL(why string) {
	t.mu.Lock()
	changed := t.urlFail != why
	t.urlFail = why
	t.mu.Unlock()
	if changed {
		t.signal()
	}
}

// health is the undebounced view: which fault applies, what penalty.
func (t *tracker) health() Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	var h Health
	var whys []string
	if t.down[t.iface] {
		h.Fault = fmt.Sprintf("interface %s is down", t.iface)
	}
	for _, name := range t.tracked {
		if !t.down[name] {
			continue
		}
		if t.ifWeight == 0 {
			if h.Fault == "" {
				h.Fault = fmt.Sprintf("tracked interface %s is down", name)
			}
			continue
		}
		h.Penalty += t.ifWeight
		whys = append(whys, fmt.Sprintf("tracked interface %s is down (-%d)", name, t.ifWeight))
	}
	if t.urlFail != "" {
		h.Penalty += t.weight
		whys = append(whys, fmt.Sprintf("%s (-%d)", t.urlFail, t.weight))
	}
	sort.Strings(whys)
	h.Why = strings.Join(whys, "; ")
	return h
}

// urlCheck polls a URL; 2xx passes, anything else (or no answer within
// the timeout) fails.
type urlCheck struct {
	url     string
	every   time.Duration
	client  *http.Client
	report  func(why string) // "" = passing
	onPoll  func(ok bool)    // every poll, for metrics
	fails   int
	lastWhy string
}

func newURLCheck(url string, every time.Duration, report func(string), onPoll func(bool)) *urlCheck {
	timeout := max(every, time.Second)
	return &urlCheck{
		url: url, every: every, report: report, onPoll: onPoll,
		client: &http.Client{Timeout: timeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: 1, IdleConnTimeout: 10 * timeout, DisableCompression: true,
		}},
	}
}

// run polls until ctx ends. A slow answer delays the next poll rather
// than overlapping it.
func (c *urlCheck) run(ctx context.Context) {
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	for {
		c.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *urlCheck) poll(ctx context.Context) {
	why := c.get(ctx)
	if ctx.Err() != nil {
		return
	}
	if c.onPoll != nil {
		c.onPoll(why == "")
	}
	if why == "" {
		c.fails = 0
		c.report("")
		return
	}
	c.fails++
	c.lastWhy = why
	if c.fails >= fall {
		c.report(fmt.Sprintf("track_url %s failing: %s", c.url, why))
	}
}

func (c *urlCheck) get(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("User-Agent", "quill-vrrp")
	resp, err := c.client.Do(req)
	if err != nil {
		return err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Status
	}
	return ""
}
