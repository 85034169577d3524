// Package metricnames lists the series Prometheus collectors describe, with
// their labels, for the test that holds a dashboard to what quill exports.
package metricnames

import (
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// desc reads a Desc's name and variable labels from its String form, the
// only place client_golang shows them:
// Desc{fqName: "quill_x", help: "...", unit: "", constLabels: {}, variableLabels: {a,b}}.
var desc = regexp.MustCompile(`^Desc\{fqName: "([^"]+)".*variableLabels: \{([^}]*)\}\}$`)

// Described returns the series the collectors describe, by name, with
// their variable labels. A histogram is there by its base name (without
// _bucket, _sum and _count).
func Described(cs ...prometheus.Collector) map[string][]string {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	series := map[string][]string{}
	for d := range ch {
		m := desc.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		var labels []string
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		series[m[1]] = labels
	}
	return series
}
