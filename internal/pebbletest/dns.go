package pebbletest

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// StartDNS runs a DNS server on loopback that answers every A query with
// 127.0.0.1, over TCP, which is how Pebble asks, so that a CA on loopback
// validates any name against listeners on 127.0.0.1. It returns the
// server's address for Options.DNS and stops when the test ends.
func StartDNS(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	tb.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}
