package proxy

import (
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// statusReport is everything the status page shows; /status.json is this
// encoded, /status.csv its rows.
type statusReport struct {
	Generated string         `json:"generated"` // RFC 3339
	Process   processView    `json:"process"`
	VIPs      []vipStatus    `json:"vips"`
	Servers   []serverStatus `json:"servers"`
}

type processView struct {
	Version       string      `json:"version"`
	Started       string      `json:"started"`
	UptimeSeconds float64     `json:"uptime_seconds"`
	Uptime        string      `json:"uptime"`
	ConfigFile    string      `json:"config_file"`
	ConfigHash    string      `json:"config_hash"`
	LastReload    *reloadView `json:"last_reload"` // null before the first reload
	Connections   int         `json:"client_connections"`
	Stopping      bool        `json:"stopping"`
}

type vipStatus struct {
	Name   string `json:"name"`
	Listen string `json:"listen"`
	Scheme string `json:"scheme"`
	State  string `json:"state"` // "open", or "stopping" during a graceful stop
	// Since is when the VIP was first opened (RFC 3339), Text the state
	// and how long it has held: "open 5m3s".
	Since string `json:"since"`
	Text  string `json:"text"`
	// ConnsActive are the client connections open now, ConnsTotal those
	// accepted since the start.
	ConnsActive   int64             `json:"connections_active"`
	ConnsTotal    uint64            `json:"connections_total"`
	TLSHandshakes map[string]uint64 `json:"tls_handshakes,omitempty"` // "version/result" or "result"
	Certificates  []certView        `json:"certificates,omitempty"`
	trafficView
}

type certView struct {
	Names    []string `json:"names"`
	NotAfter string   `json:"not_after"` // RFC 3339
	DaysLeft int      `json:"days_left"`
	Source   string   `json:"source"`
}

type serverStatus struct {
	Pool    string `json:"pool"`
	Name    string `json:"name"`
	Address string `json:"address"`
	stateView
	Weight int32 `json:"weight"`
	Backup bool  `json:"backup"`
	// Active are the requests in flight to the server, Total those sent
	// to it (retries included).
	Active int64  `json:"active"`
	Total  uint64 `json:"total"`
	// LastCheck is the active health check's last result; nil without one.
	LastCheck *checkView `json:"last_check"`
	// StickyClients are the clients the pool's ip table pins to the
	// server; -1 when the pool keeps no table (cookie stickiness keeps its
	// clients in their cookies: see sticky_requests).
	StickyClients int `json:"sticky_clients"`
	// StickyMode is the pool's stickiness: "cookie", "ip" or "none".
	StickyMode string `json:"sticky_mode"`
	trafficView
}

type checkView struct {
	At        string  `json:"at"` // RFC 3339
	Result    string  `json:"result"`
	LatencyMS float64 `json:"latency_ms"`
}

// report gathers the status of the generation in force at now.
func (p *Proxy) report(now time.Time) statusReport {
	g := p.gen.Load()
	n := now.UnixNano()
	up := now.Sub(p.process.started)
	r := statusReport{Generated: now.UTC().Format(time.RFC3339), Process: processView{
		Version: p.version(), Started: p.process.started.UTC().Format(time.RFC3339),
		UptimeSeconds: up.Round(time.Second).Seconds(), Uptime: shortDuration(up),
		ConfigFile: g.cfg.File, ConfigHash: g.cfg.Hash, LastReload: p.process.reload(),
		Connections: p.limiter.held(), Stopping: p.Stopping(),
	}, VIPs: []vipStatus{}, Servers: []serverStatus{}}
	for _, name := range sortedNames(g.vips) {
		v := g.vips[name]
		st := v.stats
		if st == nil {
			st = &trafficStats{}
		}
		vs := vipStatus{Name: name, Listen: joinComma(v.listen), Scheme: v.scheme, State: "open",
			ConnsActive: st.conns.Load(), ConnsTotal: st.accepted.Load(),
			trafficView: st.view(n, st.classes[4].Load())}
		if r.Process.Stopping {
			vs.State = "stopping"
		}
		vs.Since = time.Unix(0, st.born).UTC().Format(time.RFC3339)
		vs.Text = vs.State + " " + shortDuration(time.Duration(n-st.born))
		if v.term != nil {
			vs.TLSHandshakes = v.term.Handshakes()
			for _, c := range v.term.Certificates() {
				vs.Certificates = append(vs.Certificates, certView{Names: c.Names, Source: c.Source,
					NotAfter: c.NotAfter.UTC().Format(time.RFC3339), DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)})
			}
		}
		r.VIPs = append(r.VIPs, vs)
	}
	for _, name := range sortedNames(g.pools) {
		pl := g.pools[name]
		var pins map[uint64]int
		mode := "none"
		if pl.sticky != nil {
			mode = string(pl.sticky.cfg.Mode)
			if pl.sticky.table != nil {
				pins = pl.sticky.table.ClientsPerServer()
			}
		}
		for _, s := range pl.servers {
			ss := serverStatus{Pool: name, Name: s.id, Address: s.addr, stateView: s.stateView(n),
				Weight: s.weight.Load(), Backup: s.backup, Active: s.active.Load(), Total: s.requests.Load(),
				StickyClients: -1, StickyMode: mode, trafficView: s.traffic.view(n, s.errorCount())}
			if pins != nil {
				ss.StickyClients = pins[s.hashID]
			}
			if t := s.check.last.Load(); t > 0 {
				c := &checkView{At: time.Unix(0, t).UTC().Format(time.RFC3339)}
				if res := s.track.checkResult.Load(); res != nil {
					c.Result = *res
				}
				c.LatencyMS = float64(time.Duration(s.track.checkTook.Load()).Microseconds()) / 1000
				ss.LastCheck = c
			}
			r.Servers = append(r.Servers, ss)
		}
	}
	return r
}

// csvHeader names the columns of /status.csv: one row per VIP (kind
// "vip": active and total are client connections) and per server (kind
// "server": active and total are requests).
var csvHeader = []string{"kind", "pool", "name", "address", "state", "reason", "for_seconds", "weight",
	"active", "total", "requests", "rate", "1xx", "2xx", "3xx", "4xx", "5xx", "errors", "retries",
	"bytes_in", "bytes_out", "p50_ms", "p99_ms", "sticky_clients", "sticky_requests", "last_check", "check_ms"}

// writeCSV writes the report's rows under csvHeader.
func (r *statusReport) writeCSV(w *csv.Writer) error {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	f := func(x float64) string {
		if x < 0 {
			return ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	traffic := func(t *trafficView) []string {
		return []string{u(t.Requests), f(t.Rate), u(t.Class1xx), u(t.Class2xx), u(t.Class3xx), u(t.Class4xx),
			u(t.Class5xx), u(t.Errors), u(t.Retries), u(t.BytesIn), u(t.BytesOut), f(t.P50), f(t.P99)}
	}
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	for i := range r.VIPs {
		v := &r.VIPs[i]
		row := []string{"vip", "", v.Name, v.Listen, v.State, "", "", "",
			strconv.FormatInt(v.ConnsActive, 10), u(v.ConnsTotal)}
		row = append(row, traffic(&v.trafficView)...)
		row = append(row, "", u(v.Pinned), "", "")
		if err := w.Write(row); err != nil {
			return err
		}
	}
	for i := range r.Servers {
		s := &r.Servers[i]
		row := []string{"server", s.Pool, s.Name, s.Address, s.State, s.Reason, f(s.For),
			strconv.Itoa(int(s.Weight)), strconv.FormatInt(s.Active, 10), u(s.Total)}
		row = append(row, traffic(&s.trafficView)...)
		sticky := ""
		if s.StickyClients >= 0 {
			sticky = strconv.Itoa(s.StickyClients)
		}
		check, checkMS := "", ""
		if s.LastCheck != nil {
			check, checkMS = s.LastCheck.Result, f(s.LastCheck.LatencyMS)
		}
		row = append(row, sticky, u(s.Pinned), check, checkMS)
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func (p *Proxy) statusJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, p.report(time.Now()))
}

func (p *Proxy) statusCSV(w http.ResponseWriter, r *http.Request) {
	rep := p.report(time.Now())
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	rep.writeCSV(csv.NewWriter(w))
}

//go:embed status.html
var statusFiles embed.FS

var statusPage = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"bytes":  humanBytes,
	"ms":     formatMS,
	"points": chartPoints,
	"maxOf":  chartMax,
	"stateClass": func(st string) string {
		return strings.Fields(st + " x")[0]
	},
	"handshakes": func(m map[string]uint64) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if m[k] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
			}
		}
		return strings.Join(parts, ", ")
	},
}).ParseFS(statusFiles, "status.html"))

// status is the page: a table that needs no JavaScript, charts drawn as
// SVG on the server, and a script that refreshes it and drives the
// buttons.
func (p *Proxy) status(w http.ResponseWriter, r *http.Request) {
	rep := p.report(time.Now())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusPage.Execute(w, &rep); err != nil {
		p.log.Named("admin").Warn("status page: " + err.Error())
	}
}

// humanBytes writes n in B, kB, MB, GB (powers of 1000, as HAProxy).
func humanBytes(n uint64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGT"[exp])
}

// formatMS writes a response time; "–" when there was none.
func formatMS(ms float64) string {
	switch {
	case ms < 0:
		return "–"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
}

// Charts are chartWidth × chartHeight SVG boxes; each sample interval is
// one step to the right, the newest at the right edge.
const chartWidth, chartHeight = 135, 28

// chartMax is the scale of a chart: the largest requests count, at least 1.
func chartMax(c chartData) uint64 {
	m := uint64(1)
	for _, v := range c.Requests {
		m = max(m, v)
	}
	return m
}

// chartPoints is the points attribute of a polyline of vals, scaled so
// that top is the chart's full height.
func chartPoints(vals []uint64, top uint64) string {
	if len(vals) == 0 {
		return fmt.Sprintf("0,%d %d,%d", chartHeight, chartWidth, chartHeight)
	}
	step := float64(chartWidth) / float64(historySamples)
	x0 := float64(chartWidth) - step*float64(len(vals)-1)
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(' ')
		}
		y := float64(chartHeight) - float64(v)/float64(max(top, 1))*float64(chartHeight-2)
		fmt.Fprintf(&b, "%.1f,%.1f", x0+step*float64(i), y)
	}
	return b.String()
}
