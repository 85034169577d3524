// Package metricnames lists the names of the series Prometheus collectors
// describe, for the test that holds a dashboard to what quill exports.
package metricnames

import (
	"regexp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// fqName reads a Desc's name from its String form, the only place
// client_golang shows it: Desc{fqName: "quill_x", help: ...}.
var fqName = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)

// Described returns the sorted names of the series the collectors
// describe, a histogram's base name only (without _bucket, _sum, _count).
func Described(cs ...prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
