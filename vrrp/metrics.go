package vrrp

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"quill/internal/metricnames"
)

// metrics are the sidecar's Prometheus series, registered once per process.
type metrics struct {
	reg         *prometheus.Registry
	collectors  []prometheus.Collector
	state       *prometheus.GaugeVec
	priority    *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	received    *prometheus.CounterVec
	sent        *prometheus.CounterVec
	sendErrors  *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	conflicts   *prometheus.CounterVec
	trackUp     *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quill_vrrp_state", Help: "1 for the state the instance is in (INIT, BACKUP, MASTER, FAULT), 0 for the others.",
		}, []string{"instance", "state"}),
		priority: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quill_vrrp_priority", Help: "The priority the instance advertises, after health tracking.",
		}, []string{"instance"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_vrrp_transitions_total", Help: "Changes of state.",
		}, []string{"instance", "from", "to"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_vrrp_adverts_received_total", Help: "Valid adverts received for the instance's VRID.",
		}, []string{"instance"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_vrrp_adverts_sent_total", Help: "Adverts sent.",
		}, []string{"instance"}),
		sendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_vrrp_send_errors_total", Help: "Adverts and announcements that could not be sent.",
		}, []string{"instance"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_vrrp_packets_dropped_total", Help: "Received packets dropped, by reason (ttl, checksum, short, auth, interval, ...).",
		}, []string{"instance", "reason"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quill_vrrp_conflicts_total", Help: "Adverts for the instance's VRID that another protocol, version or address list sent.",
		}, []string{"instance", "kind"}),
		trackUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quill_vrrp_track_up", Help: "1 while a tracked URL or interface is good, 0 while it fails.",
		}, []string{"instance", "target"}),
	}
	m.collectors = []prometheus.Collector{m.state, m.priority, m.transitions, m.received, m.sent, m.sendErrors, m.dropped, m.conflicts, m.trackUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	m.reg.MustRegister(m.collectors...)
	return m
}

// Metrics are the series the sidecar's /metrics serves, by name, with
// their labels: what a dashboard may query.
func Metrics() map[string][]string {
	return metricnames.Described(newMetrics().collectors...)
}

// setState marks the instance's current state.
func (m *metrics) setState(instance string, s State) {
	for _, st := range []State{Initialize, Backup, Master, Fault} {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(instance, st.String()).Set(v)
	}
}

// forget deletes the series of an instance a reload removed.
func (m *metrics) forget(instance string) {
	l := prometheus.Labels{"instance": instance}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{
		m.state, m.priority, m.transitions, m.received, m.sent, m.sendErrors, m.dropped, m.conflicts, m.trackUp,
	} {
		v.DeletePartialMatch(l)
	}
}
