package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestH2Limits checks the HTTP/2 limits the README states: what quill's
// SETTINGS frame announces, and a header list over the limit answered
// with 431 without reaching the backend.
func TestH2Limits(t *testing.T) {
	web := startCountingBackend(t)
	e := startH2Env(t, "max_header_bytes = 8192", web.addr)
	c := dialH2(t, e.vip, e.ca)

	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var settings map[http2.SettingID]uint32
	for settings == nil {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("no SETTINGS from quill: %v", err)
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			settings = map[http2.SettingID]uint32{}
			s.ForeachSetting(func(s http2.Setting) error { settings[s.ID] = s.Val; return nil })
		}
	}
	c.fr.WriteSettingsAck()
	tests := []struct {
		id   http2.SettingID
		want uint32
	}{
		{http2.SettingMaxConcurrentStreams, 250},
		{http2.SettingMaxFrameSize, 1 << 20},
		{http2.SettingMaxHeaderListSize, 8192 + 320}, // max_header_bytes and net/http's allowance
	}
	for _, tt := range tests {
		if got, ok := settings[tt.id]; !ok || got != tt.want {
			t.Errorf("SETTINGS %v = %d (sent %v), want %d", tt.id, got, ok, tt.want)
		}
	}

	filler := strings.Repeat("a", 3000)
	id, err := c.get("/big-head", "x-filler1", filler, "x-filler2", filler, "x-filler3", filler)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := c.readUntil(t, id, time.Now().Add(10*time.Second))
	if err != nil || a.status != "431" {
		t.Fatalf("header list over the limit: status %q (%v), want 431", a.status, err)
	}
	if n := web.requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the backend, want none", n)
	}
}

// TestH2OneFieldOverLimit: one header field longer than the whole
// header-list limit ends the connection with GOAWAY COMPRESSION_ERROR (Go's
// HPACK decoder refuses the string before the list is counted).
func TestH2OneFieldOverLimit(t *testing.T) {
	web := startCountingBackend(t)
	e := startH2Env(t, "max_header_bytes = 8192", web.addr)
	c := dialH2(t, e.vip, e.ca)
	id, err := c.get("/big-field", "x-filler", strings.Repeat("a", 9000))
	if err != nil {
		t.Fatal(err)
	}
	a, g, err := c.readUntil(t, id, time.Now().Add(10*time.Second))
	if a.status != "" || g == nil || g.code != http2.ErrCodeCompression || err == nil {
		t.Fatalf("one field over the limit: status %q, GOAWAY %+v, connection error %v; want GOAWAY COMPRESSION_ERROR and the connection closed", a.status, g, err)
	}
	if n := web.requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the backend, want none", n)
	}
}

// TestH2HeaderCount: global.max_header_count bounds the header fields of
// an HTTP/2 request as of an HTTP/1 head: one more gets 431 and does not
// reach the backend.
func TestH2HeaderCount(t *testing.T) {
	web := startCountingBackend(t)
	e := startH2Env(t, "max_header_count = 20", web.addr)
	c := dialH2(t, e.vip, e.ca)
	fields := func(n int) []string {
		var f []string
		for i := range n {
			f = append(f, "x-field-"+strconv.Itoa(i), "v")
		}
		return f
	}
	tests := []struct {
		fields int
		status string
		toBack int64
	}{
		{20, "200", 1},
		{21, "431", 0},
	}
	for _, tt := range tests {
		before := web.requests.Load()
		id, err := c.get("/fields", fields(tt.fields)...)
		if err != nil {
			t.Fatal(err)
		}
		a, _, err := c.readUntil(t, id, time.Now().Add(10*time.Second))
		if err != nil || a.status != tt.status {
			t.Fatalf("%d fields: status %q (%v), want %s", tt.fields, a.status, err, tt.status)
		}
		if got := web.requests.Load() - before; got != tt.toBack {
			t.Fatalf("%d fields: %d requests reached the backend, want %d", tt.fields, got, tt.toBack)
		}
	}
}

// TestH2RepeatedSetting: a SETTINGS frame that names a setting twice is
// processed in order (RFC 9113 §6.5.3), the last value winning, where Go's
// server alone would close the connection.
func TestH2RepeatedSetting(t *testing.T) {
	web := startCountingBackend(t)
	e := startH2Env(t, "", web.addr)
	c := dialH2(t, e.vip, e.ca)
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535}); err != nil {
		t.Fatal(err)
	}
	id, err := c.get("/after-settings")
	if err != nil {
		t.Fatal(err)
	}
	a, g, err := c.readUntil(t, id, time.Now().Add(10*time.Second))
	if err != nil || g != nil || a.status != "200" || string(a.body) != "ok\n" {
		t.Fatalf("after a repeated setting: %+v, GOAWAY %+v, %v; want 200 ok on the same connection", a, g, err)
	}
}
