package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// probeHeader carries the name of the probe a request belongs to, so that
// the backend's records can be asked for one probe's requests while others
// run against the same backend.
const probeHeader = "X-Probe"

// An entry is one request a backend handler saw.
type entry struct {
	id       int
	listener string // the named listener it came in on: which pool the proxy chose
	probe    string
	method   string
	target   string // the request target as the proxy sent it
	fields   int    // header fields in the head
	start    time.Time
	end      time.Time // zero while the handler runs
	body     int64     // request-body bytes read
	err      string    // why reading the body stopped short, if it did
}

// probeStats counts one probe's requests: in all, and at once.
type probeStats struct {
	requests, inflight, peakInflight int
}

// backend is the one web server behind a proxy under attack. It records
// every request and counts connections, for the probes to read on its
// control listener.
type backend struct {
	small, big []byte

	mu        sync.Mutex
	nextID    int
	entries   []*entry // the latest maxEntries
	byProbe   map[string]*probeStats
	conns     int
	peakConns int
}

const maxEntries = 4096

func newBackend() *backend {
	return &backend{
		small:   bytes.Repeat([]byte("s"), 1024),
		big:     bytes.Repeat([]byte("B"), 1<<20),
		byProbe: make(map[string]*probeStats),
	}
}

func (b *backend) connState(_ net.Conn, st http.ConnState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch st {
	case http.StateNew:
		b.conns++
		b.peakConns = max(b.peakConns, b.conns)
	case http.StateClosed, http.StateHijacked:
		b.conns--
	}
}

func (b *backend) begin(listener string, r *http.Request) *entry {
	fields := 0
	for _, vs := range r.Header {
		fields += len(vs)
	}
	e := &entry{
		listener: listener,
		probe:    r.Header.Get(probeHeader),
		method:   r.Method,
		target:   r.RequestURI,
		fields:   fields,
		start:    time.Now(),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	e.id = b.nextID
	b.entries = append(b.entries, e)
	if len(b.entries) > maxEntries {
		b.entries = b.entries[len(b.entries)-maxEntries:]
	}
	ps := b.byProbe[e.probe]
	if ps == nil {
		ps = &probeStats{}
		b.byProbe[e.probe] = ps
	}
	ps.requests++
	ps.inflight++
	ps.peakInflight = max(ps.peakInflight, ps.inflight)
	return e
}

func (b *backend) finish(e *entry, body int64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e.end = time.Now()
	e.body = body
	if err != nil {
		e.err = err.Error()
	}
	b.byProbe[e.probe].inflight--
}

// handler serves the proxied requests arriving on the listener named name:
// /1m... 1 MiB, /die a head promising 100000 bytes, 1000 of them and a
// close, anything else 1 KiB. Request bodies are read whole before the
// answer, so a handler that runs is a request held at the backend.
func (b *backend) handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := b.begin(name, r)
		n, err := io.Copy(io.Discard, r.Body)
		b.finish(e, n, err)
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Backend", name)
		switch {
		case strings.HasPrefix(r.URL.Path, "/die"):
			dieMidBody(w)
		case strings.HasPrefix(r.URL.Path, "/1m"):
			writeBody(w, b.big)
		default:
			writeBody(w, b.small)
		}
	})
}

// dieMidBody sends a head with Content-Length 100000, the first 1000 bytes
// and closes the connection: a backend that crashes while answering.
func dieMidBody(w http.ResponseWriter) {
	conn, bw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", dieLength)
	bw.Write(bytes.Repeat([]byte("d"), dieSent))
	bw.Flush()
}

const (
	dieLength = 100000
	dieSent   = 1000
)

func writeBody(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// control serves the backend's records to the probes:
//
//	/stats              conns=N peak_conns=N (the peak since the last /reset-peak)
//	/reset-peak         the connection peak starts again from the current count
//	/probe?name=P       requests=N inflight=N peak_inflight=N of probe P
//	/log?probe=P        one line per recorded request of probe P
func (b *backend) control() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		fmt.Fprintf(w, "conns=%d peak_conns=%d\n", b.conns, b.peakConns)
	})
	mux.HandleFunc("/reset-peak", func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.peakConns = b.conns
		fmt.Fprintf(w, "conns=%d peak_conns=%d\n", b.conns, b.peakConns)
	})
	mux.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		ps := b.byProbe[r.URL.Query().Get("name")]
		if ps == nil {
			ps = &probeStats{}
		}
		fmt.Fprintf(w, "requests=%d inflight=%d peak_inflight=%d\n", ps.requests, ps.inflight, ps.peakInflight)
	})
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		probe := r.URL.Query().Get("probe")
		now := time.Now()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.entries {
			if e.probe != probe {
				continue
			}
			held := now.Sub(e.start)
			done := !e.end.IsZero()
			if done {
				held = e.end.Sub(e.start)
			}
			fmt.Fprintf(w, "id=%d listener=%s method=%s target=%q fields=%d body=%d held=%.1f done=%t err=%q\n",
				e.id, e.listener, e.method, e.target, e.fields, e.body, held.Seconds(), done, e.err)
		}
	})
	return mux
}

// runBackend listens on each name=addr of listeners and on control, writes
// each bound address to dir/NAME.addr, and serves until killed: it returns
// only the error that kept it from starting.
func runBackend(listeners, control, dir string) error {
	if _, err := startBackend(listeners, control, dir); err != nil {
		return err
	}
	select {}
}

// startBackend starts serving as runBackend does, and returns the bound
// address of each listener by name ("control" for the control listener).
func startBackend(listeners, control, dir string) (map[string]string, error) {
	b := newBackend()
	bound := make(map[string]string)
	serve := func(name, addr string, h http.Handler, withState bool) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listener %s: %w", name, err)
		}
		bound[name] = ln.Addr().String()
		if dir != "" {
			// Written under another name and renamed: a reader never
			// sees half an address.
			tmp := filepath.Join(dir, name+".addr.tmp")
			if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
				return err
			}
			if err := os.Rename(tmp, filepath.Join(dir, name+".addr")); err != nil {
				return err
			}
		}
		// No read or write timeouts: the backend must never be the one
		// that gives up on a slow request; the proxy in front decides.
		srv := &http.Server{Handler: h, IdleTimeout: 10 * time.Minute, ErrorLog: log.New(io.Discard, "", 0)}
		if withState {
			srv.ConnState = b.connState
		}
		go func() {
			if err := srv.Serve(ln); err != nil {
				log.Fatalf("backend %s: %v", name, err)
			}
		}()
		return nil
	}
	names := parseListeners(listeners)
	if len(names) == 0 {
		return nil, errors.New("no -listen name=addr")
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		if err := serve(name, names[name], b.handler(name), true); err != nil {
			return nil, err
		}
	}
	if err := serve("control", control, b.control(), false); err != nil {
		return nil, err
	}
	return bound, nil
}

// parseListeners reads "app=127.0.0.1:0,static=127.0.0.1:0".
func parseListeners(s string) map[string]string {
	out := make(map[string]string)
	for _, part := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && name != "" {
			out[name] = addr
		}
	}
	return out
}

// controlClient reads a backend's control listener.
type controlClient struct {
	addr string
	hc   *http.Client
}

func newControl(addr string) *controlClient {
	if addr == "" {
		return nil
	}
	return &controlClient{addr: addr, hc: &http.Client{Timeout: 5 * time.Second}}
}

func (c *controlClient) get(path string) (string, error) {
	resp, err := c.hc.Get("http://" + c.addr + path)
	if err != nil {
		return "", fmt.Errorf("backend control: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("backend control %s: %w", path, err)
	}
	return string(body), nil
}

// fields reads the first key=value line of a control answer as numbers.
func (c *controlClient) fields(path string) (map[string]int, error) {
	s, err := c.get(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int)
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("backend control %s: %q: %w", path, f, err)
		}
		out[k] = n
	}
	return out, nil
}

func (c *controlClient) probe(name string) (map[string]int, error) {
	return c.fields("/probe?name=" + name)
}

// logOf returns the recorded requests of a probe, each as its key=value map.
func (c *controlClient) logOf(probe string) ([]map[string]string, error) {
	s, err := c.get("/log?probe=" + probe)
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, parseKV(sc.Text()))
	}
	return out, nil
}
