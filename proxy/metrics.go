package proxy

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"quill/internal/metricnames"
)

// metrics are the proxy's Prometheus series. They are registered once, when
// the Proxy is made, and live across reloads: a reload changes the servers
// they describe, not the collectors.
type metrics struct {
	reg      *prometheus.Registry
	all      []prometheus.Collector   // what reg serves
	requests *prometheus.CounterVec   // vip, pool, server, code class
	latency  *prometheus.HistogramVec // vip, pool, server
	retries  *prometheus.CounterVec   // pool
	reloads  *prometheus.CounterVec   // result
	h2Cuts   *prometheus.CounterVec   // vip: HTTP/2 connections cut off for rapid reset
	// proxyRefused counts connections refused for their PROXY protocol
	// header, by vip and reason.
	proxyRefused *prometheus.CounterVec
}

func newMetrics(p *Proxy) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_requests_total", Help: "Requests answered, by VIP, pool, server and status class.",
		}, []string{"vip", "pool", "server", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quill_request_duration_seconds", Help: "Time from request arrival to the end of the response.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"vip", "pool", "server"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_retries_total", Help: "Requests moved to another server after a failed attempt.",
		}, []string{"pool"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_reloads_total", Help: "Configuration reloads, by result.",
		}, []string{"result"}),
		h2Cuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_h2_reset_flood_closes_total", Help: "HTTP/2 connections closed with GOAWAY for sending more RST_STREAM frames per second than global.h2_max_resets.",
		}, []string{"vip"}),
		proxyRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_proxy_protocol_refused_total", Help: "Connections to a VIP with proxy_protocol closed unanswered, by reason: source (not in proxy_protocol_from), invalid (not a PROXY header), timeout (no whole header within read_header_timeout), closed (the peer closed first).",
		}, []string{"vip", "reason"}),
	}
	m.all = []prometheus.Collector{m.requests, m.latency, m.retries, m.reloads, m.h2Cuts, m.proxyRefused,
		stateCollector{p}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	m.reg.MustRegister(m.all...)
	return m
}

// Metrics are the series the proxy's /metrics serves, by name (a
// histogram's without _bucket, _sum and _count), with their labels: what a
// dashboard may query.
func Metrics() map[string][]string {
	return metricnames.Described(newMetrics(&Proxy{}).all...)
}

// observe counts a finished request.
func (m *metrics) observe(x *exchange, status int) {
	var s series
	m.observeIn(&s, x, status)
}

// series remembers the Prometheus series of the last request of a client
// connection, which the next one mostly shares (same VIP, pool, server
// and status class), so that it is not looked up by its labels again.
type series struct {
	vip      *vip
	pool     *pool
	server   *server
	class    string
	requests prometheus.Counter
	latency  prometheus.Observer
}

// observeIn is observe with the series kept in s.
func (m *metrics) observeIn(s *series, x *exchange, status int) {
	class := codeClass(status)
	if s.requests == nil || s.vip != x.vip || s.pool != x.pool || s.server != x.server || s.class != class {
		pool, server := "", ""
		if x.pool != nil {
			pool = x.pool.name
		}
		if x.server != nil {
			server = x.server.addr
		}
		if s.latency == nil || s.vip != x.vip || s.pool != x.pool || s.server != x.server {
			s.latency = m.latency.WithLabelValues(x.vip.name, pool, server)
		}
		*s = series{vip: x.vip, pool: x.pool, server: x.server, class: class, latency: s.latency,
			requests: m.requests.WithLabelValues(x.vip.name, pool, server, class)}
	}
	took := time.Since(x.start)
	s.requests.Inc()
	s.latency.Observe(took.Seconds())
	recordTraffic(x, status, took)
}

var codeClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func codeClass(status int) string {
	if c := status/100 - 1; c >= 0 && c < len(codeClasses) {
		return codeClasses[c]
	}
	return strconv.Itoa(status)
}

// stateCollector reports, at scrape time, the state of the generation in
// force: servers, stickiness, connections, access logs, TLS, config.
type stateCollector struct{ p *Proxy }

var (
	descUp        = prometheus.NewDesc("quill_server_up", "1 when the server takes new clients.", []string{"pool", "server"}, nil)
	descState     = prometheus.NewDesc("quill_server_state", "The server's state (up, retrying, down, drain, maint) as a label.", []string{"pool", "server", "state"}, nil)
	descActive    = prometheus.NewDesc("quill_server_active_requests", "Requests in flight to the server.", []string{"pool", "server"}, nil)
	descWeight    = prometheus.NewDesc("quill_server_weight", "The server's weight.", []string{"pool", "server"}, nil)
	descFailures  = prometheus.NewDesc("quill_server_failures_total", "Failed connects, broken answers and failed health checks.", []string{"pool", "server"}, nil)
	descSticky    = prometheus.NewDesc("quill_sticky_total", "Sticky lookups: hit, miss, and repin (the pinned server could not serve).", []string{"pool", "result"}, nil)
	descTable     = prometheus.NewDesc("quill_sticky_table_clients", "Clients in the ip stickiness table.", []string{"pool"}, nil)
	descEvictions = prometheus.NewDesc("quill_sticky_table_evictions_total", "Clients evicted from the ip table (full, or idle past ttl).", []string{"pool", "reason"}, nil)
	descConns     = prometheus.NewDesc("quill_client_connections", "Client connections held.", nil, nil)
	descLogLines  = prometheus.NewDesc("quill_access_log_lines_total", "Access log lines written.", []string{"log"}, nil)
	descLogDrops  = prometheus.NewDesc("quill_access_log_dropped_total", "Access log lines dropped because the buffer was full.", []string{"log"}, nil)
	descLogErrs   = prometheus.NewDesc("quill_access_log_write_errors_total", "Failed access log opens, writes and syslog sends.", []string{"log"}, nil)
	descTLS       = prometheus.NewDesc("quill_tls_handshakes_total", "TLS handshakes by version and result.", []string{"vip", "version", "result"}, nil)
	descConfig    = prometheus.NewDesc("quill_config_info", "The configuration in force; hash is the SHA-256 prefix of its file.", []string{"file", "hash"}, nil)
	descStopping  = prometheus.NewDesc("quill_stopping", "1 while a graceful stop is under way.", nil, nil)
)

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descState, descActive, descWeight, descFailures, descSticky, descTable,
		descEvictions, descConns, descLogLines, descLogDrops, descLogErrs, descTLS, descConfig, descStopping} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.p
	g := p.gen.Load()
	if g == nil {
		return
	}
	now := time.Now().UnixNano()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, name := range sortedNames(g.pools) {
		pl := g.pools[name]
		for _, s := range pl.servers {
			up := 0.0
			if s.takesNew(now) {
				up = 1
			}
			gauge(descUp, up, name, s.addr)
			gauge(descState, 1, name, s.addr, s.state(now))
			gauge(descActive, float64(s.active.Load()), name, s.addr)
			gauge(descWeight, float64(s.weight.Load()), name, s.addr)
			counter(descFailures, s.failures.Load(), name, s.addr)
		}
		if st := pl.sticky; st != nil {
			counter(descSticky, st.stats.hits.Load(), name, "hit")
			counter(descSticky, st.stats.misses.Load(), name, "miss")
			counter(descSticky, st.stats.repins.Load(), name, "repin")
			if st.table != nil {
				gauge(descTable, float64(st.table.Len()), name)
				counter(descEvictions, st.table.Evictions(), name, "full")
				counter(descEvictions, st.table.Expiries(), name, "idle")
			}
		}
	}
	gauge(descConns, float64(p.limiter.held()))
	for key, l := range g.logs {
		name := strings.SplitN(key, "\x00", 2)[0]
		s := l.Stats()
		counter(descLogLines, s.Lines, name)
		counter(descLogDrops, s.Dropped, name)
		counter(descLogErrs, s.WriteErrors, name)
	}
	for name, v := range g.vips {
		if v.term == nil {
			continue
		}
		for k, n := range v.term.Handshakes() {
			version, result, ok := strings.Cut(k, "/")
			if !ok {
				version, result = "", k
			}
			counter(descTLS, n, name, version, result)
		}
	}
	gauge(descConfig, 1, g.cfg.File, g.cfg.Hash)
	stopping := 0.0
	if p.Stopping() {
		stopping = 1
	}
	gauge(descStopping, stopping)
}
