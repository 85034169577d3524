package pebbletest

import (
	"testing"

	"github.com/miekg/dns"
)

func TestStartDNS(t *testing.T) {
	addr := StartDNS(t)
	client := &dns.Client{Net: "tcp"}
	tests := []struct {
		name  string
		qtype uint16
		want  string // the A record's address, or "" for no answer
	}{
		{"A is loopback", dns.TypeA, "127.0.0.1"},
		{"AAAA has no answer", dns.TypeAAAA, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion("quill.test.", tt.qtype)
			r, _, err := client.Exchange(q, addr)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if len(r.Answer) != 0 {
					t.Errorf("answers %v, want none", r.Answer)
				}
				return
			}
			if len(r.Answer) != 1 {
				t.Fatalf("answers %v, want one A record", r.Answer)
			}
			if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != tt.want || a.Hdr.Name != "quill.test." {
				t.Errorf("answer %v, want quill.test. A %s", r.Answer[0], tt.want)
			}
		})
	}
}
