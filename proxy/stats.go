package proxy

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// The status page's numbers come from traffic counters that a request
// bumps with a few atomic adds (no lock, no allocation), and from a
// history that a sampler fills every sampleEvery with copies of those
// counters. Rates, the charts and the percentiles are differences between
// copies, so the request path never touches the history.
const (
	sampleEvery = 10 * time.Second
	// historySamples cover the charts' 15 minutes.
	historySamples = int(15 * time.Minute / sampleEvery)
	// latencySamples cover the minute the percentiles are taken over.
	latencySamples = int(time.Minute / sampleEvery)
	// latencyBuckets are half powers of two of nanoseconds, from below
	// 1µs (bucket 0) to above 2^39ns, about 9 minutes (the last one).
	latencyBuckets = 60
)

// trafficStats counts the requests of a VIP or a server.
type trafficStats struct {
	requests atomic.Uint64    // answered
	classes  [5]atomic.Uint64 // by status class, 1xx to 5xx
	retries  atomic.Uint64    // requests moved on to another server after this one failed
	pinned   atomic.Uint64    // requests a sticky cookie or the ip table sent here
	bytesIn  atomic.Uint64    // request body bytes from clients
	bytesOut atomic.Uint64    // response body bytes to clients
	conns    atomic.Int64     // client connections open (VIPs)
	accepted atomic.Uint64    // client connections accepted (VIPs)
	born     int64            // unix nanoseconds the VIP first appeared (VIPs)
	latency  [latencyBuckets]atomic.Uint64

	hist history
}

// record counts one answered request. It allocates nothing.
func (t *trafficStats) record(status int, took time.Duration, in, out int64) {
	t.requests.Add(1)
	if c := status/100 - 1; c >= 0 && c < len(t.classes) {
		t.classes[c].Add(1)
	}
	if in > 0 {
		t.bytesIn.Add(uint64(in))
	}
	if out > 0 {
		t.bytesOut.Add(uint64(out))
	}
	t.latency[latencyBucket(took)].Add(1)
}

// latencyBucket is the histogram bucket of d: two buckets per power of
// two, split by the bit below the highest.
func latencyBucket(d time.Duration) int {
	if d < 1024 {
		return 0
	}
	n := uint64(d)
	l := bits.Len64(n) // 11 and up
	half := int(n>>(l-2)) & 1
	b := 2*(l-10) - 1 + half
	return min(b, latencyBuckets-1)
}

// latencyBound is the upper end of bucket b.
func latencyBound(b int) time.Duration {
	if b == 0 {
		return 1024
	}
	l := (b+1)/2 + 10 // bits of the values in b
	lo := uint64(1) << (l - 1)
	if b%2 == 1 {
		return time.Duration(lo + lo/2)
	}
	return time.Duration(lo << 1)
}

// sample is a copy of the counters of a trafficStats taken at a time.
type sample struct {
	at       int64 // unix nanoseconds
	requests uint64
	errors   uint64
}

// history keeps the last samples of a trafficStats in fixed rings: the
// counters for the charts and rates, the latency histogram for the
// percentiles.
type history struct {
	mu      sync.Mutex
	samples [historySamples + 1]sample
	n, next int // samples held; where the next goes
	hists   [latencySamples + 1][latencyBuckets]uint64
	hnext   int
	hn      int
}

// take adds a sample of t at now; errors is the error counter of the
// owner (5xx answers, and a server's failures).
func (t *trafficStats) take(now int64, errors uint64) {
	h := &t.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	h.samples[h.next] = sample{at: now, requests: t.requests.Load(), errors: errors}
	h.next = (h.next + 1) % len(h.samples)
	h.n = min(h.n+1, len(h.samples))
	for i := range t.latency {
		h.hists[h.hnext][i] = t.latency[i].Load()
	}
	h.hnext = (h.hnext + 1) % len(h.hists)
	h.hn = min(h.hn+1, len(h.hists))
}

// series are the samples from the oldest to the newest.
func (h *history) series() []sample {
	out := make([]sample, 0, h.n)
	for i := h.n; i > 0; i-- {
		out = append(out, h.samples[(h.next-i+len(h.samples))%len(h.samples)])
	}
	return out
}

// trafficView is what the page, the JSON and the CSV show of a
// trafficStats at one time.
type trafficView struct {
	Requests uint64  `json:"requests"`
	Rate     float64 `json:"rate"` // requests per second over the last sample interval
	Class1xx uint64  `json:"1xx"`
	Class2xx uint64  `json:"2xx"`
	Class3xx uint64  `json:"3xx"`
	Class4xx uint64  `json:"4xx"`
	Class5xx uint64  `json:"5xx"`
	Errors   uint64  `json:"errors"`
	Retries  uint64  `json:"retries"`
	BytesIn  uint64  `json:"bytes_in"`
	BytesOut uint64  `json:"bytes_out"`
	Pinned   uint64  `json:"sticky_requests"`
	// P50 and P99 are the response times, in milliseconds, over the last
	// minute; -1 when no request was answered in it.
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	// Chart holds the requests and errors of each sample interval of the
	// last 15 minutes, oldest first.
	Chart chartData `json:"chart"`
}

// chartData are the per-interval counts the charts draw.
type chartData struct {
	IntervalSeconds int      `json:"interval_seconds"`
	Requests        []uint64 `json:"requests"`
	Errors          []uint64 `json:"errors"`
}

// view reads t at now; errors is as for take.
func (t *trafficStats) view(now int64, errors uint64) trafficView {
	v := trafficView{Requests: t.requests.Load(), Errors: errors, Retries: t.retries.Load(),
		BytesIn: t.bytesIn.Load(), BytesOut: t.bytesOut.Load(), Pinned: t.pinned.Load(),
		Class1xx: t.classes[0].Load(), Class2xx: t.classes[1].Load(), Class3xx: t.classes[2].Load(),
		Class4xx: t.classes[3].Load(), Class5xx: t.classes[4].Load()}
	var cur [latencyBuckets]uint64
	for i := range t.latency {
		cur[i] = t.latency[i].Load()
	}
	h := &t.hist
	h.mu.Lock()
	samples := h.series()
	var base [latencyBuckets]uint64
	if h.hn > 0 {
		// The oldest histogram held: up to a minute ago.
		base = h.hists[(h.hnext-h.hn+len(h.hists))%len(h.hists)]
	}
	h.mu.Unlock()
	v.Rate = rate(samples, v.Requests, now)
	var window [latencyBuckets]uint64
	for i := range cur {
		window[i] = cur[i] - base[i]
	}
	v.P50, v.P99 = percentileMS(window[:], 0.50), percentileMS(window[:], 0.99)
	v.Chart = chart(samples)
	return v
}

// rate is the requests per second from the newest sample at least a
// second old to now.
func rate(samples []sample, requests uint64, now int64) float64 {
	for i := len(samples) - 1; i >= 0; i-- {
		s := samples[i]
		if d := now - s.at; d >= int64(time.Second) {
			return math.Round(float64(requests-s.requests)/time.Duration(d).Seconds()*10) / 10
		}
	}
	return 0
}

// chart turns consecutive samples into counts per interval.
func chart(samples []sample) chartData {
	c := chartData{IntervalSeconds: int(sampleEvery / time.Second), Requests: []uint64{}, Errors: []uint64{}}
	for i := 1; i < len(samples); i++ {
		c.Requests = append(c.Requests, samples[i].requests-samples[i-1].requests)
		c.Errors = append(c.Errors, samples[i].errors-samples[i-1].errors)
	}
	return c
}

// percentileMS is the q-quantile of the histogram counts in milliseconds,
// interpolated within its bucket; -1 for an empty histogram.
func percentileMS(counts []uint64, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return -1
	}
	rank := q * float64(total)
	var seen float64
	for b, c := range counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := time.Duration(0)
			if b > 0 {
				lo = latencyBound(b - 1)
			}
			hi := latencyBound(b)
			frac := (rank - seen) / float64(c)
			d := float64(lo) + frac*float64(hi-lo)
			return math.Round(d/1e4) / 100 // ms, two decimals
		}
		seen += float64(c)
	}
	return math.Round(float64(latencyBound(len(counts)-1))/1e4) / 100
}

// statsSampler takes a sample of every VIP and server every sampleEvery.
type statsSampler struct {
	stop chan struct{}
	done chan struct{}
}

// startSampler runs the sampler until stopSampler.
func (p *Proxy) startSampler() {
	s := &statsSampler{stop: make(chan struct{}), done: make(chan struct{})}
	p.sampler = s
	p.sampleAll(time.Now().UnixNano())
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case now := <-t.C:
				p.sampleAll(now.UnixNano())
			}
		}
	}()
}

func (p *Proxy) stopSampler() {
	if s := p.sampler; s != nil {
		close(s.stop)
		<-s.done
		p.sampler = nil
	}
}

// sampleAll samples the VIPs and servers of the generation in force.
func (p *Proxy) sampleAll(now int64) {
	g := p.gen.Load()
	if g == nil {
		return
	}
	for _, v := range g.vips {
		v.stats.take(now, v.stats.classes[4].Load())
	}
	for _, pl := range g.pools {
		for _, s := range pl.servers {
			s.traffic.take(now, s.errorCount())
		}
	}
}

// vipStatsFor is the traffic counters of the VIP called name, kept
// across reloads.
func (p *Proxy) vipStatsFor(name string) *trafficStats {
	p.vipStatsMu.Lock()
	defer p.vipStatsMu.Unlock()
	if p.vipStats == nil {
		p.vipStats = map[string]*trafficStats{}
	}
	t := p.vipStats[name]
	if t == nil {
		t = &trafficStats{born: time.Now().UnixNano()}
		t.take(t.born, 0)
		p.vipStats[name] = t
	}
	return t
}

// recordTraffic counts a finished request for its VIP and the server that
// answered it. It allocates nothing.
func recordTraffic(x *exchange, status int, took time.Duration) {
	if x.vip != nil && x.vip.stats != nil {
		x.vip.stats.record(status, took, x.bytesIn, x.bytesOut)
	}
	if x.ntried > 1 {
		for _, s := range x.tried[:x.ntried-1] {
			s.traffic.retries.Add(1)
		}
	}
	s := x.server
	if s == nil {
		return
	}
	s.traffic.record(status, took, x.bytesIn, x.bytesOut)
	if x.pinned == s {
		s.traffic.pinned.Add(1)
	}
	if status < 500 {
		s.answered(x.start.UnixNano() + int64(took))
	}
}
