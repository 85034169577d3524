package main

import (
	"strings"
	"testing"

	"quill/config"
)

func TestImportPen(t *testing.T) {
	tests := []struct {
		name string
		args string
		want []string // must appear in the output
	}{
		{"round robin with X-Forwarded-For", "pen -r -H 80 192.168.0.1:8180 192.168.0.2:8180",
			[]string{`balance = "roundrobin"`, `forwarded_for = "append"`, `listen = ["0.0.0.0:80"]`, `address = "192.168.0.2:8180"`}},
		{"client tracking by default", "pen -T 3600 -c 20000 80 a:8180 b:8180",
			[]string{`mode = "ip"`, `ttl = "3600s"`, `max_clients = 20000`, `forwarded_for = "off"`}},
		{"hash", "pen -h 8080 a:81 b",
			[]string{`mode = "ip"`, `pen -h: new clients are placed by hashing`, `address = "b:80"`}},
		{"weights", "pen -W 127.0.0.1:80 a:8180:0:0:3 b:8180:0:0:1",
			[]string{`balance = "weighted"`, "weight = 3", `listen = ["127.0.0.1:80"]`}},
		{"limits and timeouts", "pen -x 500 -t 5 -b 30 -s 80 a:1 b:2",
			[]string{"max_connections = 500", `connect_timeout = "5s"`, `fail_timeout = "30s"`, "stubborn = true"}},
		{"ssl", "pen -E /etc/pen/cert.pem -K /etc/pen/key.pem 443 a:8180",
			[]string{`[vips.pen.tls]`, `cert = "/etc/pen/cert.pem", key = "/etc/pen/key.pem"`}},
		{"ssl with one file", "pen -E /etc/pen/both.pem 443 a:8180",
			[]string{`cert = "/etc/pen/both.pem", key = "/etc/pen/both.pem"`}},
		{"emergency, pid, log, control, status", "pen -e c:8180 -p /run/pen.pid -l /var/log/pen.log -C 8888 -w /tmp/s.html 80 a:8180",
			[]string{"backup = true", `pid_file = "/run/pen.pid"`, `path = "/var/log/pen.log"`, `listen = "127.0.0.1:8888"`, "/status"}},
		{"combined switches and attached arguments", "pen -rHx100 80 a:8180",
			[]string{"max_connections = 100", `forwarded_for = "append"`, `balance = "roundrobin"`}},
		{"options without equivalent are listed", "pen -d -f -u pen -j /var/empty -r 80 a:8180",
			[]string{"# pen -d:", "# pen -f:", "# pen -u:", "# pen -j:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := parsePen(strings.Fields(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := pc.toml(&b, tt.args); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if _, err := config.Parse("import.toml", out); err != nil {
				t.Errorf("output does not pass validation: %v\n%s", err, out)
			}
		})
	}
}

func TestImportPenErrors(t *testing.T) {
	tests := []struct{ name, args string }{
		{"no servers", "pen 80"},
		{"missing argument", "pen -x"},
		{"bad weight", "pen 80 a:1:0:0:x"},
		{"option after the port", "pen 80 -r a:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parsePen(strings.Fields(tt.args)); err == nil {
				t.Errorf("parsePen(%q) succeeded", tt.args)
			}
		})
	}
}
