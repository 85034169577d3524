package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestResultLineRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		vals []string
	}{
		{"plain words", []string{"200", "short"}},
		{"spaces and quotes", []string{`127.0.0.1 - - "GET /die HTTP/1.1" 200 1000`, "x"}},
		{"empty value", []string{"", "after"}},
		{"equals sign and backslash", []string{`a=b\c`, "/static/x#frag"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResult("p", &config{name: "quill"})
			for i, v := range tc.vals {
				r.set("k"+strconv.Itoa(i), v)
			}
			got := parseKV(r.String())
			if got["probe"] != "p" || got["target"] != "quill" {
				t.Fatalf("%q: probe and target read as %q, %q", r.String(), got["probe"], got["target"])
			}
			for i, v := range tc.vals {
				if k := "k" + strconv.Itoa(i); got[k] != v {
					t.Errorf("%q: %s read as %q, want %q", r.String(), k, got[k], v)
				}
			}
		})
	}
}

// The probes against the backend itself, no proxy in between: what a
// proxy that forwards everything at once and never times out would get.
func TestProbesAgainstTheBackendAlone(t *testing.T) {
	addrs, err := startBackend("app=127.0.0.1:0,static=127.0.0.1:0", "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config{
		name:     "bare",
		target:   addrs["app"],
		ctl:      newControl(addrs["control"]),
		pid:      os.Getpid(),
		wait:     time.Second,
		duration: 3 * time.Second,
		conns:    5,
	}
	tests := []struct {
		probe string
		want  []map[string]string // for each result line, keys it must have
	}{
		{"body-timeout", []map[string]string{{"status": "none", "end": "timeout", "backend_requests": "1", "backend_done": "false"}}},
		{"send-timeout", []map[string]string{{"closed": "no"}}},
		{"bad-chunk", []map[string]string{
			{"case": "17-hex-digits", "status": "400", "backend_requests": "1"},
			{"case": "bare-lf", "status": "400", "backend_requests": "1"},
		}},
		{"many-fields", []map[string]string{{"status": "200", "backend_requests": "1", "fields_seen": "10001"}}},
		{"backend-dies", []map[string]string{{"status": "200", "body": "1000", "end": "short"}}},
		{"oversized-head", []map[string]string{{"status": "431"}}},
		{"slow-post", []map[string]string{{"backend_peak_inflight": "5", "backend_requests": "5", "clients": "timeout:5"}}},
		{"slow-readers", []map[string]string{{"backend_requests": "5", "held_at_end": "5", "errors": "0"}}},
	}
	for _, tc := range tests {
		t.Run(tc.probe, func(t *testing.T) {
			ps, err := pick(tc.probe)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := ps[0].run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(tc.want) {
				t.Fatalf("%d result lines, want %d: %v", len(rs), len(tc.want), rs)
			}
			for i, want := range tc.want {
				got := parseKV(rs[i].String())
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s: %s=%q, want %q", rs[i], k, got[k], v)
					}
				}
			}
		})
	}
	t.Run("paths", func(t *testing.T) {
		rs, err := paths(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			got := parseKV(r.String())
			if got["backend"] != "app" || got["seen"] != pathTargets[i] {
				t.Errorf("%s: want backend=app seen=%s", r, pathTargets[i])
			}
		}
	})
}

func TestReport(t *testing.T) {
	lines := []string{
		`probe=body-timeout target=quill status=none end=timeout after=130.1 backend_requests=1 backend_held=130.2 backend_done=false`,
		`probe=body-timeout target=haproxy status=504 end=complete after=60.0 backend_requests=1 backend_held=60.0 backend_done=true`,
		`probe=h2-rapid-reset target=nginx streams_sent=1200 goaway=yes goaway_last_stream=1999 backend_requests=1`,
		`probe=backend-dies target=quill status=200 end=short body=1000 log="127.0.0.1 - - [x] \"GET /die HTTP/1.1\" 200 1000"`,
		`probe=paths target=nginx case=/a%00b status=400 end=complete backend_requests=0`,
	}
	file := filepath.Join(t.TempDir(), "raw.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := printReport(&sb, file); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"| attack | quill | HAProxy | nginx |",
		"| nothing in 130.1 s; backend request still held (130.2 s) | 504 at 60.0 s; backend request released after 60.0 s | not run |",
		"| not run | not run | GOAWAY after 1000 streams; the backend got 1 |",
		"| 200 + 1000 bytes, then short; log `200 1000` |",
		"| `GET /a%00b` (`/static/` route and a catch-all) | not run | not run | 400 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report has no %q:\n%s", want, out)
		}
	}
}
