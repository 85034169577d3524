// Package configs holds the files an installation uses: example configs,
// systemd units, the logrotate stanza and the Grafana dashboard. Its test
// holds the dashboard to the series quill exports.
package configs

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"quill/proxy"
	"quill/vrrp"
)

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type variable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Query any    `json:"query"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	return d
}

// exported is every series quill's proxy and sidecar serve, with the
// labels a query can use on it in Prometheus: its own, the target's job
// and instance, and, for a histogram's buckets, le. A series' own
// "instance" (the sidecar's) reaches Prometheus as exported_instance, the
// target's instance label taking its name.
func exported() map[string][]string {
	series := map[string][]string{}
	for _, m := range []map[string][]string{proxy.Metrics(), vrrp.Metrics()} {
		for name, labels := range m {
			labels = slices.Clone(labels)
			if i := slices.Index(labels, "instance"); i >= 0 {
				labels[i] = "exported_instance"
			}
			labels = append(labels, "job", "instance")
			series[name] = labels
			// A histogram's series; the test cannot tell a histogram from
			// a counter by its Desc, so any name may take the suffixes.
			series[name+"_sum"] = labels
			series[name+"_count"] = labels
			series[name+"_bucket"] = append(slices.Clone(labels), "le")
		}
	}
	return series
}

var (
	metricName = regexp.MustCompile(`\bquill_[a-z0-9_]+`)
	selector   = regexp.MustCompile(`\b(quill_[a-z0-9_]+)\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
	labelValue = regexp.MustCompile(`^label_values\((quill_[a-z0-9_]+)(?:\{[^}]*\})?,\s*([a-zA-Z_]+)\)$`)
)

// TestDashboardMetrics checks every query of the dashboard against the
// series quill exports: each quill_ name it uses is one quill serves, and
// each label it selects or groups by is one that series has.
func TestDashboardMetrics(t *testing.T) {
	d := readDashboard(t)
	series := exported()
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	used := map[string]bool{}
	for _, e := range exprs {
		var labels []string
		for _, name := range metricName.FindAllString(e, -1) {
			used[name] = true
			if l, ok := series[name]; !ok {
				t.Errorf("%s is not a series quill exports (in %s)", name, e)
			} else {
				labels = append(labels, l...)
			}
		}
		for _, s := range selector.FindAllStringSubmatch(e, -1) {
			for _, m := range matcher.FindAllStringSubmatch(s[2], -1) {
				if !slices.Contains(series[s[1]], m[1]) {
					t.Errorf("%s has no label %s (in %s)", s[1], m[1], e)
				}
			}
		}
		for _, g := range grouping.FindAllStringSubmatch(e, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
					t.Errorf("no series of %s has the label %s", e, l)
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)["query"].(string)
		m := labelValue.FindStringSubmatch(q)
		switch {
		case m == nil:
			t.Errorf("variable %s: query %q is not label_values(quill_..., label)", v.Name, q)
		case !slices.Contains(series[m[1]], m[2]):
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
		}
	}
	// What the dashboard is for: request rate, errors and latency per pool
	// and server, server states, TLS handshakes, access log drops, VRRP
	// state and transitions.
	for _, name := range []string{"quill_requests_total", "quill_request_duration_seconds_bucket", "quill_server_failures_total",
		"quill_server_state", "quill_server_up", "quill_tls_handshakes_total", "quill_access_log_dropped_total",
		"quill_vrrp_state", "quill_vrrp_transitions_total"} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
	if !slices.ContainsFunc(exprs, func(e string) bool {
		return strings.Contains(e, "quill_request_duration_seconds_bucket") && strings.Contains(e, "by (pool, server, le)")
	}) {
		t.Error("no panel shows the latency per server")
	}
	t.Logf("%d queries over %d series: %v", len(exprs), len(used), slices.Sorted(maps.Keys(used)))
}

// TestDashboardLayout checks what Grafana needs to import the dashboard as
// it is meant: a uid, the schema, unique panel ids, every query on the
// data source variable, panels inside the 24 columns and not on top of
// each other.
func TestDashboardLayout(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and schema 36 or later", d.UID, d.Title, d.SchemaVersion)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v variable) bool {
		return v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus"
	}) {
		t.Error("no Prometheus data source variable named datasource")
	}
	ids := map[int]bool{}
	for i, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
		}
		for _, q := range d.Panels[:i] {
			h := q.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", q.Title, p.Title)
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: want queries on ${datasource}", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" || tg.Expr == "" {
				t.Errorf("panel %q: a query without expr or not on ${datasource}", p.Title)
			}
		}
	}
}
