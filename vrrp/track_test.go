package vrrp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestTrackerHealth(t *testing.T) {
	tests := []struct {
		name     string
		ifWeight int
		down     []string
		url      string
		want     Health
	}{
		{"all good", 0, nil, "", Health{}},
		{"own interface down", 0, []string{"eth0"}, "", Health{Fault: "interface eth0 is down"}},
		{"tracked interface down means fault", 0, []string{"eth1"}, "", Health{Fault: "tracked interface eth1 is down"}},
		{"tracked interface down with a weight", 30, []string{"eth1", "eth2"}, "",
			Health{Penalty: 60, Why: "tracked interface eth1 is down (-30); tracked interface eth2 is down (-30)"}},
		{"url failing", 0, nil, "track_url x failing: 503", Health{Penalty: 100, Why: "track_url x failing: 503 (-100)"}},
		{"url failing and link down", 20, []string{"eth1"}, "track_url x failing: 503",
			Health{Penalty: 120, Why: "track_url x failing: 503 (-100); tracked interface eth1 is down (-20)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker("eth0", []string{"eth1", "eth2"}, tt.ifWeight, 100)
			for _, n := range []string{"eth0", "eth1", "eth2"} {
				tr.setLink(n, true)
			}
			for _, n := range tt.down {
				tr.setLink(n, false)
			}
			tr.setURL(tt.url)
			if got := tr.health(); got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	t.Run("changes signal once", func(t *testing.T) {
		tr := newTracker("eth0", nil, 0, 100)
		tr.setLink("eth0", false)
		select {
		case <-tr.changed:
		default:
			t.Fatal("no signal for a change")
		}
		tr.setLink("eth0", false)
		select {
		case <-tr.changed:
			t.Fatal("signalled without a change")
		default:
		}
	})
}

// One failed poll is forgiven; two in a row fail the check; one success
// clears it (the debounce period then applies in the machine).
func TestURLCheckFall(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	var reports []string
	c := newURLCheck(srv.URL, 0, func(why string) { reports = append(reports, why) }, nil)
	ctx := context.Background()
	steps := []struct {
		status  int32
		failing bool
	}{{200, false}, {503, false}, {200, false}, {503, false}, {500, true}, {503, true}, {200, false}}
	for i, s := range steps {
		status.Store(s.status)
		c.poll(ctx)
		last := reports[len(reports)-1:]
		failing := len(last) == 1 && last[0] != ""
		if failing != s.failing {
			t.Fatalf("poll %d (status %d): failing %v, reports %q", i, s.status, failing, reports)
		}
	}
	if !strings.Contains(reports[len(reports)-2], "track_url "+srv.URL+" failing: 503 Service Unavailable") {
		t.Fatalf("reason %q", reports[len(reports)-2])
	}
	srv.Close()
	c.poll(ctx)
	c.poll(ctx)
	if r := reports[len(reports)-1]; !strings.Contains(r, "connection refused") {
		t.Fatalf("a refused connection reports %q", r)
	}
}
