// Command fasthttp is the smallest forwarder on github.com/valyala/fasthttp:
// its server in front, a HostClient per backend behind, round-robin, and
// X-Forwarded-For appended; nothing else. It is a measuring spike for
// bench/proxy/run.sh (SPIKES=1), in a module of its own so that quill's
// module does not depend on fasthttp.
//
//	fasthttp -listen 127.0.0.1:8080 127.0.0.1:9001 127.0.0.1:9002
package main

import (
	"flag"
	"log"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("fasthttp spike: no backend address given")
	}
	clients := make([]*fasthttp.HostClient, flag.NArg())
	for i, addr := range flag.Args() {
		// As many connections per backend as quill keeps idle (1024).
		clients[i] = &fasthttp.HostClient{Addr: addr, MaxConns: 1024}
	}
	var next atomic.Uint64
	handler := func(ctx *fasthttp.RequestCtx) {
		c := clients[(next.Add(1)-1)%uint64(len(clients))]
		req := &ctx.Request
		ip := ctx.RemoteIP().String()
		// Appended to the chain the client sent, as HAProxy's option
		// forwardfor and quill's forwarded_for = "append" do.
		if prior := req.Header.Peek(fasthttp.HeaderXForwardedFor); len(prior) > 0 {
			req.Header.Set(fasthttp.HeaderXForwardedFor, string(prior)+", "+ip)
		} else {
			req.Header.Set(fasthttp.HeaderXForwardedFor, ip)
		}
		if err := c.Do(req, &ctx.Response); err != nil {
			ctx.Error("bad gateway", fasthttp.StatusBadGateway)
		}
	}
	srv := &fasthttp.Server{Handler: handler, Name: "fasthttp-spike"}
	if err := srv.ListenAndServe(*listen); err != nil {
		log.Fatalf("fasthttp spike: %v", err)
	}
}
