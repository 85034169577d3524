package e2e

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// floodResets opens and at once resets streams on c, up to n of them or
// until a write fails, and returns how many it sent.
func floodResets(c *h2Client, n int) int {
	w := http2.NewFramer(c.conn, nil) // writes only: the test reads on c.fr meanwhile
	c.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for i := range n {
		id := c.next
		c.next += 2
		if w.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.headers("/flood"), EndStream: true, EndHeaders: true}) != nil {
			return i
		}
		if w.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			return i
		}
	}
	return n
}

// readGoAway reads frames until the connection ends or the deadline
// passes, and returns the last GOAWAY seen.
func readGoAway(c *h2Client, deadline time.Time) (*h2GoAway, error) {
	c.conn.SetReadDeadline(deadline)
	var g *h2GoAway
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return g, err
		}
		if f, ok := f.(*http2.GoAwayFrame); ok {
			g = &h2GoAway{code: f.ErrCode, lastStream: f.LastStreamID, debug: string(f.DebugData())}
		}
	}
}

// TestH2RapidResetCutOff is the rapid-reset probe (CVE-2023-44487): one
// connection opens and resets 10,000 streams as fast as it can. quill must
// answer GOAWAY (ENHANCE_YOUR_CALM) once the client passes
// global.h2_max_resets resets in a second, close the connection, count it
// in /metrics and log it, and let only a few dozen of those requests
// reach the backend.
func TestH2RapidResetCutOff(t *testing.T) {
	web := startCountingBackend(t)
	e := startH2Env(t, "", web.addr)
	c := dialH2(t, e.vip, e.ca)

	sent := make(chan int, 1)
	go func() { sent <- floodResets(c, 10000) }()
	g, readErr := readGoAway(c, time.Now().Add(30*time.Second))
	n := <-sent
	var ne net.Error
	if errors.As(readErr, &ne) && ne.Timeout() {
		t.Fatalf("the connection was still open 30s later (%d streams sent, %d requests reached the backend)", n, web.requests.Load())
	}
	t.Logf("%d streams opened and reset before the connection ended; %d requests reached the backend", n, web.requests.Load())
	if g == nil {
		t.Fatalf("no GOAWAY before the connection ended (%v)", readErr)
	}
	if g.code != http2.ErrCodeEnhanceYourCalm || !strings.Contains(g.debug, "RST_STREAM") {
		t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM from the reset limit", g.code, g.debug)
	}
	// A few dozen at most: the streams of the first second that started a
	// handler before their reset was read.
	if got := web.requests.Load(); got > 48 {
		t.Fatalf("%d requests reached the backend, want at most a few dozen", got)
	}
	if got := adminMetric(t, e.admin, `quill_h2_reset_flood_closes_total{vip="secure"}`); got != "1" {
		t.Fatalf("quill_h2_reset_flood_closes_total = %s, want 1", got)
	}
	if log := e.q.out.String(); !strings.Contains(log, "too many stream resets") {
		t.Fatalf("the process log does not name the cut:\n%s", log)
	}
	// The requests of reset streams are logged as 499, client closed.
	eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(e.access)
		return strings.Contains(string(b), `"GET /flood HTTP/2.0" 499 `)
	})
}

// TestH2ResetLimitConfigurable checks that resets within
// global.h2_max_resets cut nothing: the connection still serves a request
// after them.
func TestH2ResetLimitConfigurable(t *testing.T) {
	tests := []struct {
		name   string
		global string
		resets int
		cut    bool
	}{
		{"under the default limit", "", 60, false},
		{"over a lowered limit", "h2_max_resets = 20", 60, true},
		{"under a raised limit", "h2_max_resets = 1000", 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			web := startCountingBackend(t)
			e := startH2Env(t, tt.global, web.addr)
			c := dialH2(t, e.vip, e.ca)
			if sent := floodResets(c, tt.resets); sent != tt.resets {
				t.Fatalf("only %d of %d streams sent", sent, tt.resets)
			}
			c.conn.SetWriteDeadline(time.Time{})
			id, err := c.get("/after")
			a, g, err2 := c.readUntil(t, id, time.Now().Add(20*time.Second))
			if tt.cut {
				if g == nil || g.code != http2.ErrCodeEnhanceYourCalm {
					t.Fatalf("no GOAWAY ENHANCE_YOUR_CALM after %d resets (write %v, read %v, goaway %+v)", tt.resets, err, err2, g)
				}
				return
			}
			if err != nil || err2 != nil || g != nil {
				t.Fatalf("the connection did not survive %d resets: write %v, read %v, GOAWAY %+v", tt.resets, err, err2, g)
			}
			if a.status != "200" || string(a.body) != "ok\n" {
				t.Fatalf("GET after the resets: status %q body %q, want 200 ok", a.status, a.body)
			}
		})
	}
}

// TestH2ResetLimitReload: a reload that changes global.h2_max_resets
// applies to the connections opened after it.
func TestH2ResetLimitReload(t *testing.T) {
	web := startCountingBackend(t)
	e := startH2Env(t, "h2_max_resets = 1000", web.addr)
	e.q.rewrite(t, strings.Replace(e.cfg, "h2_max_resets = 1000", "h2_max_resets = 20", 1))
	e.q.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, func() bool {
		return adminMetric(t, e.admin, `quill_reloads_total{result="applied"}`) == "1"
	})
	c := dialH2(t, e.vip, e.ca)
	floodResets(c, 60)
	g, _ := readGoAway(c, time.Now().Add(20*time.Second))
	if g == nil || g.code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("60 resets after a reload to h2_max_resets = 20: GOAWAY %+v, want ENHANCE_YOUR_CALM", g)
	}
}
