package proxy

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"quill/config"
)

func TestLatencyBuckets(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{"zero", 0, 0},
		{"below 1024ns", 1023, 0},
		{"1024ns", 1024, 1},
		{"1535ns", 1535, 1},
		{"1536ns", 1536, 2},
		{"2047ns", 2047, 2},
		{"2048ns", 2048, 3},
		{"1ms", time.Millisecond, 20},
		{"an hour, in the last bucket", time.Hour, latencyBuckets - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := latencyBucket(tt.d)
			if b != tt.want {
				t.Fatalf("latencyBucket(%d) = %d, want %d", tt.d, b, tt.want)
			}
			if b < latencyBuckets-1 && tt.d >= latencyBound(b) {
				t.Errorf("%d is not below its bucket's bound %d", tt.d, latencyBound(b))
			}
			if b > 0 && tt.d < latencyBound(b-1) {
				t.Errorf("%d is below the previous bucket's bound %d", tt.d, latencyBound(b-1))
			}
		})
	}
	for b := 1; b < latencyBuckets; b++ {
		if latencyBound(b) <= latencyBound(b-1) {
			t.Fatalf("bound %d (%d) is not above bound %d (%d)", b, latencyBound(b), b-1, latencyBound(b-1))
		}
	}
}

func TestPercentiles(t *testing.T) {
	hist := func(durations ...time.Duration) []uint64 {
		c := make([]uint64, latencyBuckets)
		for _, d := range durations {
			c[latencyBucket(d)]++
		}
		return c
	}
	many := func(n int, d time.Duration) []time.Duration { return slices.Repeat([]time.Duration{d}, n) }
	tests := []struct {
		name           string
		counts         []uint64
		q              float64
		lowMS, highMS  float64 // the answer lies within
		wantNoRequests bool
	}{
		{name: "empty", counts: hist(), q: 0.5, wantNoRequests: true},
		{name: "one request of 3ms", counts: hist(3 * time.Millisecond), q: 0.5, lowMS: 2, highMS: 3.2},
		{name: "p50 of 99 fast and 1 slow", counts: hist(append(many(99, time.Millisecond), time.Second)...), q: 0.5, lowMS: 0.7, highMS: 1.1},
		{name: "p99 of 98 fast and 2 slow", counts: hist(append(many(98, time.Millisecond), time.Second, time.Second)...), q: 0.99, lowMS: 700, highMS: 1100},
		{name: "p99 of 100 fast", counts: hist(many(100, 10*time.Millisecond)...), q: 0.99, lowMS: 8, highMS: 12.6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := percentileMS(tt.counts, tt.q)
			if tt.wantNoRequests {
				if got != -1 {
					t.Fatalf("got %v, want -1", got)
				}
				return
			}
			if got < tt.lowMS || got > tt.highMS {
				t.Errorf("got %v ms, want within [%v, %v]", got, tt.lowMS, tt.highMS)
			}
		})
	}
}

// TestHistoryRing: the ring keeps the last 15 minutes of samples, the
// charts are the differences between them, the rate is taken from the
// newest sample a second old or more, and the percentiles cover the last
// minute only.
func TestHistoryRing(t *testing.T) {
	step := int64(sampleEvery)
	tests := []struct {
		name      string
		samples   int // taken every sampleEvery, one request more each time
		wantChart int
	}{
		{"only the first sample", 1, 0},
		{"two samples", 2, 1},
		{"a full ring", historySamples + 1, historySamples},
		{"past a full ring", historySamples + 40, historySamples},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ts trafficStats
			for i := 0; i < tt.samples; i++ {
				ts.take(int64(i)*step, uint64(i/2))
				ts.record(200, time.Millisecond, 10, 100)
			}
			last := int64(tt.samples-1) * step
			v := ts.view(last+step/2, uint64(tt.samples/2))
			if len(v.Chart.Requests) != tt.wantChart || len(v.Chart.Errors) != tt.wantChart {
				t.Fatalf("chart of %d and %d points, want %d", len(v.Chart.Requests), len(v.Chart.Errors), tt.wantChart)
			}
			for i, n := range v.Chart.Requests {
				if n != 1 {
					t.Fatalf("interval %d holds %d requests, want 1", i, n)
				}
			}
			// The last request came after the last sample, half a step ago.
			if want := 1 / (sampleEvery / 2).Seconds(); v.Rate != want {
				t.Errorf("rate %v, want %v", v.Rate, want)
			}
			if v.Requests != uint64(tt.samples) || v.Class2xx != v.Requests || v.BytesIn != 10*v.Requests || v.BytesOut != 100*v.Requests {
				t.Errorf("counters %+v", v)
			}
			if v.P50 < 0.7 || v.P50 > 1.1 {
				t.Errorf("p50 %v ms, want about 1", v.P50)
			}
		})
	}
	t.Run("a minute without requests has no percentiles", func(t *testing.T) {
		var ts trafficStats
		ts.record(200, time.Millisecond, 0, 0)
		for i := 0; i <= latencySamples+1; i++ {
			ts.take(int64(i)*step, 0)
		}
		if v := ts.view(int64(latencySamples+2)*step, 0); v.P50 != -1 || v.P99 != -1 || v.Requests != 1 {
			t.Errorf("p50 %v, p99 %v, requests %d; want -1, -1, 1", v.P50, v.P99, v.Requests)
		}
	})
}

func TestRecordAllocatesNothing(t *testing.T) {
	var ts trafficStats
	if n := testing.AllocsPerRun(100, func() { ts.record(503, 3*time.Millisecond, 1, 2) }); n != 0 {
		t.Errorf("record allocates %v times", n)
	}
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{12*time.Second + 400*time.Millisecond, "12s"},
		{5*time.Minute + 3*time.Second, "5m3s"},
		{2*time.Hour + 10*time.Minute, "2h10m"},
		{76 * time.Hour, "3d4h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := shortDuration(tt.d); got != tt.want {
				t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {1_500_000, "1.5 MB"}, {2_000_000_000, "2.0 GB"}, {3e12, "3.0 TB"}, {3e15, "3000.0 TB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := humanBytes(tt.n); got != tt.want {
				t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestStatusCSV(t *testing.T) {
	rep := statusReport{
		VIPs: []vipStatus{{Name: "web", Listen: "127.0.0.1:80", State: "open", ConnsActive: 2, ConnsTotal: 9,
			trafficView: trafficView{Requests: 7, Rate: 0.5, Class2xx: 6, Class4xx: 1, BytesOut: 70, P50: 1.5, P99: -1}}},
		Servers: []serverStatus{
			{Pool: "app", Name: "web1", Address: "10.0.0.1:80", stateView: stateView{State: "down", Reason: "connect refused", For: 12},
				Weight: 1, Total: 3, StickyClients: -1, trafficView: trafficView{Requests: 3, Class2xx: 3, Errors: 1, Retries: 1, P50: -1, P99: -1}},
			{Pool: "app", Name: "web, 2", Address: "10.0.0.2:80", stateView: stateView{State: "maint", Reason: "API"},
				Weight: 2, StickyClients: 4, LastCheck: &checkView{Result: "ok", LatencyMS: 0.8}, trafficView: trafficView{P50: -1, P99: -1}},
		},
	}
	var b bytes.Buffer
	if err := rep.writeCSV(csv.NewWriter(&b)); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		strings.Join(csvHeader, ","),
		"vip,,web,127.0.0.1:80,open,,,,2,9,7,0.5,0,6,0,1,0,0,0,0,70,1.5,,,0,,",
		"server,app,web1,10.0.0.1:80,down,connect refused,12,1,0,3,3,0,0,3,0,0,0,1,1,0,0,,,,0,,",
		`server,app,"web, 2",10.0.0.2:80,maint,API,0,2,0,0,0,0,0,0,0,0,0,0,0,0,0,,,4,0,ok,0.8`,
	}, "\n") + "\n"
	if b.String() != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b.String(), want)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if len(r) != len(csvHeader) {
			t.Errorf("row %d has %d columns, the header %d", i, len(r), len(csvHeader))
		}
	}
}

func TestChartPoints(t *testing.T) {
	tests := []struct {
		name string
		vals []uint64
		top  uint64
		want string
	}{
		{"no data: a flat line", nil, 1, "0,28 135,28"},
		{"newest at the right edge", []uint64{0, 5, 10}, 10, "132.0,28.0 133.5,15.0 135.0,2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chartPoints(tt.vals, tt.top); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkRecordTraffic is what a request adds to its way for the
// status page: a VIP's and a server's counters.
func BenchmarkRecordTraffic(b *testing.B) {
	v := &vip{stats: &trafficStats{}}
	s := newServer(config.Server{Address: "127.0.0.1:1", Weight: 1})
	x := &exchange{start: time.Now(), vip: v, server: s, bytesIn: 10, bytesOut: 1000}
	x.tried[0], x.ntried = s, 1
	b.ReportAllocs()
	for b.Loop() {
		recordTraffic(x, 200, 3*time.Millisecond)
	}
}

// TestStatusJSONKeys: the keys tools read from /status.json.
func TestStatusJSONKeys(t *testing.T) {
	rep := statusReport{
		VIPs: []vipStatus{{Name: "web", State: "open", trafficView: trafficView{Class2xx: 3, P50: 1.5, P99: -1,
			Chart: chartData{IntervalSeconds: 10, Requests: []uint64{1, 2}, Errors: []uint64{0, 1}}}}},
		Servers: []serverStatus{{Pool: "app", Name: "web1", stateView: stateView{State: "retrying", Text: "retrying: failed 3s ago"},
			StickyClients: -1, StickyMode: "none", trafficView: trafficView{Class5xx: 1, Retries: 2}}},
	}
	b, err := json.Marshal(&rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []any
		want any
	}{
		{[]any{"vips", 0, "name"}, "web"},
		{[]any{"vips", 0, "2xx"}, 3.0},
		{[]any{"vips", 0, "p50_ms"}, 1.5},
		{[]any{"vips", 0, "p99_ms"}, -1.0},
		{[]any{"vips", 0, "chart", "interval_seconds"}, 10.0},
		{[]any{"vips", 0, "chart", "errors", 1}, 1.0},
		{[]any{"servers", 0, "state"}, "retrying"},
		{[]any{"servers", 0, "text"}, "retrying: failed 3s ago"},
		{[]any{"servers", 0, "5xx"}, 1.0},
		{[]any{"servers", 0, "retries"}, 2.0},
		{[]any{"servers", 0, "sticky_clients"}, -1.0},
		{[]any{"servers", 0, "last_check"}, nil},
		{[]any{"process", "last_reload"}, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.path...), func(t *testing.T) {
			var cur any = doc
			for _, step := range tt.path {
				switch k := step.(type) {
				case string:
					m, ok := cur.(map[string]any)
					if !ok {
						t.Fatalf("no object at %v", step)
					}
					if cur, ok = m[k]; !ok {
						t.Fatalf("no key %q in %s", k, b)
					}
				case int:
					l, ok := cur.([]any)
					if !ok || k >= len(l) {
						t.Fatalf("no element %d", k)
					}
					cur = l[k]
				}
			}
			if cur != tt.want {
				t.Errorf("%v = %v, want %v", tt.path, cur, tt.want)
			}
		})
	}
}
