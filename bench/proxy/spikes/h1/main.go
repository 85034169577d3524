// Command h1 is the smallest forwarder on quill's own HTTP/1 engine
// (package h1): its server in front, an Upstream per backend behind,
// round-robin, and X-Forwarded-For appended; nothing else. It is the
// measuring spike that stands beside the fasthttp one in
// bench/proxy/run.sh (SPIKES=1), so that the two engines are compared
// without the rest of quill.
//
//	h1 -listen 127.0.0.1:8080 127.0.0.1:9001 127.0.0.1:9002
package main

import (
	"flag"
	"log"
	"net"
	"sync/atomic"
	"time"

	"quill/h1"
)

type forwarder struct {
	upstreams []*h1.Upstream
	next      atomic.Uint64
}

func (f *forwarder) ServeH1(x *h1.Exchange) {
	u := f.upstreams[(f.next.Add(1)-1)%uint64(len(f.upstreams))]
	if err := x.Forward(u, 60*time.Second, f); err != nil && !x.HeadSent() {
		x.Respond(502, nil, []byte("bad gateway\n"))
	}
}

// RequestFields passes the client's fields and appends X-Forwarded-For.
func (f *forwarder) RequestFields(x *h1.Exchange, w *h1.HeadWriter) {
	var prior []byte
	for _, fl := range x.Req.Fields {
		switch {
		case x.Req.HopByHop(fl.Name):
		case h1.EqualFold(fl.Name, "X-Forwarded-For"):
			prior = fl.Value
		default:
			w.Field(fl.Name, fl.Value)
		}
	}
	w.Begin("X-Forwarded-For")
	if prior != nil {
		w.Value(prior)
		w.ValueString(", ")
	}
	w.SetBytes(x.Remote.Addr().AppendTo(w.Bytes()))
	w.End()
}

// ResponseFields passes the server's fields.
func (f *forwarder) ResponseFields(x *h1.Exchange, r *h1.Response, w *h1.HeadWriter) {
	for _, fl := range r.Fields {
		if !r.HopByHop(fl.Name) {
			w.Field(fl.Name, fl.Value)
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("h1 spike: no backend address given")
	}
	f := &forwarder{}
	for _, addr := range flag.Args() {
		f.upstreams = append(f.upstreams, h1.NewUpstream(addr, 5*time.Second))
	}
	srv := &h1.Server{Handler: f, Settings: h1.Settings{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("h1 spike: %v", err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("h1 spike: %v", err)
		}
		go srv.ServeConn(c)
	}
}
