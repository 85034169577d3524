// Command backend is the web server behind every proxy in bench/proxy/run.sh:
// 1 KiB answers on /, 1 MiB on /big, a POST sink that answers with the length
// of the body it read, /xff echoing the X-Forwarded-For it got, and counters
// for the smuggling probes (/probe, /smuggled, read and reset on /count).
// Keep-alive is net/http's default; X-Backend names the server so that the
// script can tell where a sticky client landed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

type backend struct {
	name             string
	small, big       []byte
	probes, smuggled atomic.Int64
	total            atomic.Int64
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Backend", b.name)
	switch r.URL.Path {
	case "/count":
		// Not counted in total: the script reads it straight from the
		// backend, never through a proxy.
		fmt.Fprintf(w, "probe=%d smuggled=%d total=%d\n", b.probes.Load(), b.smuggled.Load(), b.total.Load())
		if r.URL.RawQuery == "reset" {
			b.probes.Store(0)
			b.smuggled.Store(0)
			b.total.Store(0)
		}
		return
	case "/probe":
		b.probes.Add(1)
	case "/smuggled":
		b.smuggled.Add(1)
	}
	b.total.Add(1)
	if r.Method == http.MethodPost {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, fmt.Sprintf("reading the body: %v", err), http.StatusBadRequest)
			return
		}
		answer(w, []byte(strconv.FormatInt(n, 10)+"\n"))
		return
	}
	switch r.URL.Path {
	case "/big":
		answer(w, b.big)
	case "/xff":
		answer(w, []byte(r.Header.Get("X-Forwarded-For")+"\n"))
	default:
		answer(w, b.small)
	}
}

// answer writes body with a Content-Length, so that every proxy keeps the
// client connection alive without chunking.
func answer(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func main() {
	name := flag.String("name", "b1", "name sent in X-Backend")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	addrFile := flag.String("addr-file", "", "write the bound address here once listening")
	flag.Parse()

	b := &backend{
		name:  *name,
		small: bytes.Repeat([]byte("q"), 1024),
		big:   bytes.Repeat([]byte("Q"), 1<<20),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("backend %s: %v", *name, err)
	}
	if *addrFile != "" {
		// Written under another name and renamed, so that a reader never
		// sees half an address.
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatalf("backend %s: %v", *name, err)
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			log.Fatalf("backend %s: %v", *name, err)
		}
	}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	log.Fatal(srv.Serve(ln))
}
