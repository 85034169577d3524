package metricnames

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestDescribed(t *testing.T) {
	got := Described(
		prometheus.NewCounterVec(prometheus.CounterOpts{Name: "a_total", Help: `odd "help" {x}`}, []string{"vip", "pool"}),
		prometheus.NewHistogram(prometheus.HistogramOpts{Name: "b_seconds", Help: "h"}),
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "c", Help: "h", ConstLabels: prometheus.Labels{"k": "v"}}),
	)
	want := map[string][]string{"a_total": {"vip", "pool"}, "b_seconds": nil, "c": nil}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for name, labels := range want {
		if l, ok := got[name]; !ok || !slices.Equal(l, labels) {
			t.Errorf("%s: got %v (%v), want %v", name, l, ok, labels)
		}
	}
}
