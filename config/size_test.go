package config

import (
	"strings"
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	tests := []struct {
		name  string
		value string // as written after "buffer_request = "; "" leaves the key out
		want  int64
		bad   bool
	}{
		{"default", "", 64 << 10, false},
		{"off", `"0"`, 0, false},
		{"integer", "512", 512, false},
		{"bytes as a string", `"512"`, 512, false},
		{"KiB", `"64KiB"`, 64 << 10, false},
		{"MiB", `"1MiB"`, 1 << 20, false},
		{"nginx k", `"16k"`, 16 << 10, false},
		{"B", `"100B"`, 100, false},
		{"space before the unit", `"2 MiB"`, 2 << 20, false},
		{"negative", "-1", 0, true},
		{"decimal", `"1.5MiB"`, 0, true},
		{"unknown unit", `"64KB"`, 0, true},
		{"no number", `"MiB"`, 0, true},
		{"too large", `"2GiB"`, 0, true},
		{"overflow", `"99999999999999999999"`, 0, true},
		{"boolean", "true", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.value != "" {
				src += "buffer_request = " + tt.value + "\n"
			}
			c, err := Parse("quill.toml", src)
			if tt.bad {
				if err == nil || !strings.Contains(err.Error(), `quill.toml:8: pool "app": buffer_request`) {
					t.Errorf("error %v, want one at line 8", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Pools["app"].BufferRequest.Bytes; got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBodyAndSendTimeouts(t *testing.T) {
	tests := []struct {
		name       string
		global     string
		body, send time.Duration
		bad        string
	}{
		{"defaults", "", 60 * time.Second, 60 * time.Second, ""},
		{"set", "body_timeout = \"5s\"\nsend_timeout = \"7s\"\n", 5 * time.Second, 7 * time.Second, ""},
		{"bad body_timeout", "body_timeout = \"soon\"\n", 0, 0, `quill.toml:2: body_timeout: "soon" is not a duration`},
		{"bad send_timeout", "max_connections = 5\nsend_timeout = \"-1s\"\n", 0, 0, `quill.toml:3: send_timeout: "-1s" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("quill.toml", "[global]\n"+tt.global+base)
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) {
					t.Errorf("error %v, want %q", err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Global.BodyTimeout.Duration != tt.body || c.Global.SendTimeout.Duration != tt.send {
				t.Errorf("body %v send %v, want %v %v", c.Global.BodyTimeout, c.Global.SendTimeout, tt.body, tt.send)
			}
		})
	}
}
