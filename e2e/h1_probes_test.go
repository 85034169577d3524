package e2e

// The HTTP/1 probe suite: raw bytes that a proxy must refuse, or frame
// exactly one way, sent over TCP and over TLS. For each probe the test checks
// the statuses the client receives and, above all, what reached the
// backend: never two requests where the client sent one, never a request the
// client did not send, nothing after a refusal on the same connection.
//
// Every probe runs alone and pipelined behind a good request (a few run
// alone only), and, unless nothing can follow it (a head the server stops
// reading, bytes that are not HTTP/1), with a good request pipelined after
// it: that one must be answered when the probe is valid, and must never
// reach the backend when the probe is refused, since a refusal closes the
// connection.
//
// Against quill, `go test -run TestH1Probes ./e2e/` starts the binary with a
// plain and a TLS VIP in front of the test's own recording backend. To run
// the same probes against another proxy (HAProxy, nginx, a quill engine
// spike), start it in front of a backend address of your choice and say so:
//
//	QUILL_PROBE_BACKEND=127.0.0.1:18080 \
//	QUILL_PROBE_TARGET=127.0.0.1:8080 \
//	QUILL_PROBE_TLS_TARGET=127.0.0.1:8443 \
//	go test -count=1 -run 'TestH1Probes' ./e2e/
//
// The test then listens on QUILL_PROBE_BACKEND itself (the proxy must
// forward every request for any host to it, over HTTP/1.1) and sends the
// probes to QUILL_PROBE_TARGET (plain HTTP) and, when set,
// QUILL_PROBE_TLS_TARGET (TLS; its certificate is not verified). Turn the
// proxy's health checks off: the backend must see nothing but the probes.
// The proxy's own limit on a request head must be below 256 KiB, and its
// answer to one too large is expected to be 431.

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// h1Probe is one probe. In raw, ID stands for a path segment unique to one
// run of it, so that the backend's log can be split by run.
type h1Probe struct {
	name string
	raw  func(id string) string
	// refused lists the statuses allowed when the probe must be refused;
	// the connection must then close. Empty: the probe is valid. Where
	// the list is wide, it holds what keeps the backend safe; 400 (505
	// for the HTTP/2 preface) is the answer RFC 9112 calls for.
	refused []int
	// bodyLen and host are what the backend must receive of a valid probe
	// (host: the Host header, "" for probe.test).
	bodyLen int64
	host    string
	// eitherWay: the probe may be refused (with one of refused) or served
	// as a valid one; either way, the rules of that way hold.
	eitherWay bool
	// headForwarded: the probe's head is valid and its body is not, so a
	// proxy that streams bodies may have forwarded the head (once) before
	// it found out.
	headForwarded bool
	// before is sent ahead of the probe on the same connection, instead of
	// a good GET; each of its answers must be 2xx.
	before func(id string) string
	// alone: never pipelined with other requests. noTrail: nothing may
	// follow it (the server stops reading its head, or it is not HTTP/1).
	alone, noTrail bool
	plainOnly      bool
	// fin: the refusal must end with a FIN after the answer, not a reset,
	// though the client is still sending (a lingering close).
	fin bool
}

const probeHost = "Host: probe.test\r\n"

// probeIDLen is the length of every run's ID, so that a probe's length
// does not depend on which run it is.
const probeIDLen = 10

// smuggled is a request hidden in a probe's body: it must never reach the
// backend.
func smuggled(id string) string {
	return "GET /" + id + "/smuggled HTTP/1.1\r\n" + probeHost + "\r\n"
}

func post(id, headers, body string) string {
	return "POST /" + id + "/probe HTTP/1.1\r\n" + probeHost + headers + "\r\n" + body
}

func withLen(body string) string { return fmt.Sprintf("%d", len(body)) }

// h1Probes are the probes every engine must pass.
var h1Probes = []h1Probe{
	{name: "content-length then chunked", refused: []int{400}, raw: func(id string) string {
		body := "0\r\n\r\n" + smuggled(id)
		return post(id, "Content-Length: "+withLen(body)+"\r\nTransfer-Encoding: chunked\r\n", body)
	}},
	{name: "chunked then content-length", refused: []int{400}, raw: func(id string) string {
		body := "0\r\n\r\n" + smuggled(id)
		return post(id, "Transfer-Encoding: chunked\r\nContent-Length: "+withLen(body)+"\r\n", body)
	}},
	{name: "content-length shorter than the chunked body", refused: []int{400}, raw: func(id string) string {
		return post(id, "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n")
	}},
	{name: "two equal content-lengths", refused: []int{400}, raw: func(id string) string {
		return post(id, "Content-Length: 5\r\nContent-Length: 5\r\n", "hello")
	}},
	{name: "two different content-lengths", refused: []int{400}, raw: func(id string) string {
		body := "hello" + smuggled(id)
		return post(id, "Content-Length: 5\r\nContent-Length: "+withLen(body)+"\r\n", body)
	}},
	{name: "content-length list", refused: []int{400}, raw: func(id string) string {
		return post(id, "Content-Length: 5, 5\r\n", "hello")
	}},
	{name: "signed content-length", refused: []int{400}, raw: func(id string) string {
		return post(id, "Content-Length: +5\r\n", "hello")
	}},
	{name: "negative content-length", refused: []int{400}, raw: func(id string) string {
		return post(id, "Content-Length: -1\r\n", "hello")
	}},
	{name: "transfer-encoding xchunked", refused: []int{400, 501}, raw: func(id string) string {
		return post(id, "Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"+smuggled(id))
	}},
	{name: "transfer-encoding chunked, identity", refused: []int{400, 501}, raw: func(id string) string {
		return post(id, "Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"+smuggled(id))
	}},
	{name: "transfer-encoding chunked with a vertical tab", refused: []int{400, 501}, raw: func(id string) string {
		body := "0\r\n\r\n" + smuggled(id)
		return post(id, "Transfer-Encoding: chunked\x0b\r\nContent-Length: "+withLen(body)+"\r\n", body)
	}},
	{name: "transfer-encoding twice", refused: []int{400, 501}, raw: func(id string) string {
		return post(id, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")
	}},
	{name: "transfer-encoding in HTTP/1.0", refused: []int{400}, raw: func(id string) string {
		return "POST /" + id + "/probe HTTP/1.0\r\n" + probeHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled(id)
	}},
	{name: "obs-fold in a field", refused: []int{400}, raw: func(id string) string {
		return "GET /" + id + "/probe HTTP/1.1\r\n" + probeHost + "X-Folded: a\r\n b\r\n\r\n"
	}},
	{name: "obs-fold in transfer-encoding", refused: []int{400}, raw: func(id string) string {
		body := "0\r\n\r\n" + smuggled(id)
		return post(id, "Content-Length: "+withLen(body)+"\r\nTransfer-Encoding:\r\n chunked\r\n", body)
	}},
	{name: "space before the colon", refused: []int{400}, raw: func(id string) string {
		body := "0\r\n\r\n" + smuggled(id)
		return post(id, "Transfer-Encoding : chunked\r\nContent-Length: "+withLen(body)+"\r\n", body)
	}},
	{name: "space inside a field name", refused: []int{400}, raw: func(id string) string {
		return "GET /" + id + "/probe HTTP/1.1\r\n" + probeHost + "X Bad: 1\r\n\r\n"
	}},
	{name: "bare CR in a value", refused: []int{400}, raw: func(id string) string {
		return "GET /" + id + "/probe HTTP/1.1\r\n" + probeHost + "X-A: a\rb\r\n\r\n"
	}},
	{name: "NUL in a value", refused: []int{400}, raw: func(id string) string {
		return "GET /" + id + "/probe HTTP/1.1\r\n" + probeHost + "X-A: a\x00b\r\n\r\n"
	}},
	{name: "request line with two spaces", refused: []int{400}, raw: func(id string) string {
		return "GET  /" + id + "/probe HTTP/1.1\r\n" + probeHost + "\r\n"
	}},
	{name: "17-hex-digit chunk size", refused: []int{400, 502}, headForwarded: true, raw: func(id string) string {
		return post(id, "Transfer-Encoding: chunked\r\n", "10000000000000005\r\nhello\r\n0\r\n\r\n")
	}},
	{name: "chunk-size line ending in a bare LF", refused: []int{400, 502}, headForwarded: true, raw: func(id string) string {
		return post(id, "Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n")
	}},
	{name: "chunk data longer than declared", refused: []int{400, 502}, headForwarded: true, raw: func(id string) string {
		return post(id, "Transfer-Encoding: chunked\r\n", "3\r\nhello\r\n0\r\n\r\n")
	}},
	{name: "huge head", refused: []int{431}, noTrail: true, raw: func(id string) string {
		return "GET /" + id + "/probe HTTP/1.1\r\n" + probeHost + "X-Big: " + strings.Repeat("b", 256<<10) + "\r\n\r\n"
	}},
	{name: "HTTP/2 preface on a plain port", refused: []int{400, 404, 505}, alone: true, noTrail: true, plainOnly: true, raw: func(id string) string {
		return "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + smuggled(id)
	}},

	{name: "150 header fields", refused: []int{431}, eitherWay: true, raw: func(id string) string {
		var b strings.Builder
		for i := 0; i < 150; i++ {
			fmt.Fprintf(&b, "X-Field-%d: v\r\n", i)
		}
		return "GET /" + id + "/probe HTTP/1.1\r\n" + probeHost + b.String() + "\r\n"
	}},

	// Valid probes, framed one way only.
	{name: "chunked with trailing whitespace", bodyLen: 5, raw: func(id string) string {
		return post(id, "Transfer-Encoding: chunked \t\r\n", "5\r\nhello\r\n0\r\n\r\n")
	}},
	{name: "chunked in capitals", bodyLen: 5, raw: func(id string) string {
		return post(id, "Transfer-Encoding: CHUNKED\r\n", "5\r\nhello\r\n0\r\n\r\n")
	}},
	{name: "chunk extension and trailer", bodyLen: 5, raw: func(id string) string {
		return post(id, "Transfer-Encoding: chunked\r\n", "5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n")
	}},
	{name: "smuggled-looking body framed by content-length", bodyLen: int64(len(smuggled(strings.Repeat("x", probeIDLen)))), raw: func(id string) string {
		return post(id, "Content-Length: "+withLen(smuggled(id))+"\r\n", smuggled(id))
	}},
	{name: "absolute-form with a different Host", host: "abs.test", raw: func(id string) string {
		return "GET http://abs.test/" + id + "/probe HTTP/1.1\r\nHost: other.test\r\n\r\n"
	}},
}

// probeTarget is where the probes go, and the backend behind it.
type probeTarget struct {
	backend *recBackend
	plain   string
	tls     string // "" to skip TLS
	tlsConf *tls.Config
}

// probeTargetFor is quill, or the proxy the environment names.
func probeTargetFor(t *testing.T) probeTarget {
	t.Helper()
	if target := os.Getenv("QUILL_PROBE_TARGET"); target != "" {
		be := os.Getenv("QUILL_PROBE_BACKEND")
		if be == "" {
			t.Fatal("QUILL_PROBE_TARGET needs QUILL_PROBE_BACKEND, the address the proxy forwards to")
		}
		return probeTarget{
			backend: startRecBackend(t, be),
			plain:   target,
			tls:     os.Getenv("QUILL_PROBE_TLS_TARGET"),
			tlsConf: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}},
		}
	}
	e := startH1(t)
	return probeTarget{backend: e.backend, plain: e.plain, tls: e.tls, tlsConf: e.tlsConfig()}
}

func TestH1Probes(t *testing.T) {
	runProbes(t, probeTargetFor(t), h1Probes)
}

// probeRun is one probe sent one way, and what came back.
type probeRun struct {
	name     string
	probe    h1Probe
	id       string
	tls      bool
	before   bool // a request was pipelined ahead of the probe
	trail    bool // a good request was pipelined after it
	statuses []int
	closed   bool   // the server closed the connection
	reset    bool   // by a reset, not a FIN
	extra    string // bytes after the last expected answer
	err      error
}

// nBefore is the number of requests sent ahead of the probe.
func (r *probeRun) nBefore() int {
	if !r.before {
		return 0
	}
	if r.probe.before != nil {
		return strings.Count(r.probe.before(r.id), " HTTP/1.")
	}
	return 1
}

// methods are those of the requests answered before the probe, and the
// probe's.
func (r *probeRun) methods() []string {
	m := make([]string, r.nBefore()+1)
	for i := range m {
		m[i] = http.MethodGet
	}
	return m
}

// valid says whether the probe is to be served: a valid probe always, one
// that may go either way when it was.
func (r *probeRun) valid() bool {
	if len(r.probe.refused) == 0 {
		return true
	}
	n := r.nBefore()
	return r.probe.eitherWay && len(r.statuses) > n && r.statuses[n]/100 == 2
}

// wantAnswers is the number of answers the client must get.
func (r *probeRun) wantAnswers() int {
	n := r.nBefore() + 1
	if r.valid() && r.trail {
		n++
	}
	return n
}

func (r *probeRun) bytes() string {
	var b strings.Builder
	if r.before {
		if r.probe.before != nil {
			b.WriteString(r.probe.before(r.id))
		} else {
			b.WriteString("GET /" + r.id + "/good HTTP/1.1\r\n" + probeHost + "\r\n")
		}
	}
	b.WriteString(r.probe.raw(r.id))
	if r.trail {
		b.WriteString("GET /" + r.id + "/after HTTP/1.1\r\n" + probeHost + "\r\n")
	}
	return b.String()
}

// send runs the probe on a new connection.
func (r *probeRun) send(target probeTarget) {
	addr, conf := target.plain, (*tls.Config)(nil)
	if r.tls {
		addr, conf = target.tls, target.tlsConf
	}
	c, err := dialVIP(addr, conf)
	if err != nil {
		r.err = err
		return
	}
	defer c.Close()
	deadline := time.Now().Add(8 * time.Second)
	c.SetWriteDeadline(deadline)
	// Written beside the reading: a server that stops reading a huge head
	// must still get its answer to the client.
	go c.Write([]byte(r.bytes()))
	br := bufio.NewReader(c)
	res := readResponses(c, br, r.methods(), deadline)
	for _, g := range res.got {
		r.statuses = append(r.statuses, g.status)
	}
	r.closed, r.reset, r.err = res.closed, res.reset, res.err
	if r.err != nil || r.closed {
		return
	}
	// What follows depends on the probe's answer: a served probe is
	// followed by the answer to the trailing request, a refusal (or a
	// probe that should have been refused) by the close.
	switch last := r.statuses[len(r.statuses)-1]; {
	case last/100 == 2 && r.trail:
		res = readResponses(c, br, []string{http.MethodGet}, deadline)
		for _, g := range res.got {
			r.statuses = append(r.statuses, g.status)
		}
		r.closed, r.reset, r.err = res.closed, res.reset, res.err
	case last >= 400 || len(r.probe.refused) > 0 && !r.probe.eitherWay:
		r.closed, r.reset, r.extra = waitClosed(c, br, time.Now().Add(3*time.Second))
	}
}

// runProbes sends every probe every way it can go, a few at a time, then
// checks the answers and the backend's log.
func runProbes(t *testing.T, target probeTarget, probes []h1Probe) {
	t.Helper()
	var runs []*probeRun
	for _, p := range probes {
		for _, overTLS := range []bool{false, true} {
			if overTLS && (target.tls == "" || p.plainOnly) {
				continue
			}
			for _, before := range []bool{false, true} {
				if before && p.alone && p.before == nil {
					continue
				}
				if !before && p.before != nil {
					continue
				}
				name := p.name
				if overTLS {
					name += "/tls"
				} else {
					name += "/tcp"
				}
				if before {
					name += "/after a request"
				}
				runs = append(runs, &probeRun{name: name, probe: p, tls: overTLS, before: before,
					trail: !p.noTrail && !p.alone, id: fmt.Sprintf("p%03d%06d", len(runs), time.Now().UnixNano()%1e6)})
			}
		}
	}
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.send(target)
		}()
	}
	wg.Wait()
	// A request smuggled to the backend could arrive after the client's
	// connection is done with; give it time to show.
	time.Sleep(300 * time.Millisecond)
	log := target.backend.requests()

	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			var seen []seenReq
			for _, s := range log {
				if strings.Contains(s.Head, r.id) {
					seen = append(seen, s)
				}
			}
			if r.err != nil {
				t.Errorf("client: %v", r.err)
			}
			checkProbeAnswers(t, r)
			checkProbeBackend(t, r, seen)
			if t.Failed() {
				t.Logf("sent %q\nbackend saw:\n%s", trimProbe(r.bytes()), logText(seen))
			}
		})
	}
	t.Run("no request the client did not send", func(t *testing.T) {
		for _, s := range log {
			if !slices.ContainsFunc(runs, func(r *probeRun) bool { return strings.Contains(s.Head, r.id) }) {
				t.Errorf("backend saw a request of no probe: %s", s)
			}
		}
	})
}

func checkProbeAnswers(t *testing.T, r *probeRun) {
	t.Helper()
	n := r.nBefore()
	if want := r.wantAnswers(); len(r.statuses) != want {
		t.Errorf("client got statuses %v, want %d answers", r.statuses, want)
	}
	for i := 0; i < n && i < len(r.statuses); i++ {
		if r.statuses[i]/100 != 2 {
			t.Errorf("answer %d to the request before the probe: %d, want 2xx", i+1, r.statuses[i])
		}
	}
	if len(r.statuses) <= n {
		return
	}
	got := r.statuses[n]
	if !r.valid() {
		if !slices.Contains(r.probe.refused, got) {
			t.Errorf("probe answered %d, want one of %v", got, r.probe.refused)
			if got < 400 {
				if r.extra != "" {
					t.Errorf("then the client got %q", r.extra)
				}
				return
			}
		}
		if !r.closed {
			t.Errorf("connection left open after the refusal (then got %q)", r.extra)
		} else if r.extra != "" {
			t.Errorf("more bytes after the refusal: %q", r.extra)
		}
		if r.reset && r.probe.fin {
			t.Error("the refusal ended in a reset, not a FIN")
		}
		return
	}
	if got != http.StatusOK {
		t.Errorf("valid probe answered %d, want 200", got)
	}
	if r.trail && len(r.statuses) > n+1 && r.statuses[n+1] != http.StatusOK {
		t.Errorf("request after the valid probe answered %d, want 200", r.statuses[n+1])
	}
}

// checkProbeBackend is the key assertion: what reached the backend is
// what the client sent, once, and nothing else.
func checkProbeBackend(t *testing.T, r *probeRun, seen []seenReq) {
	t.Helper()
	count := map[string]int{}
	for _, s := range seen {
		if s.Err != "" {
			t.Errorf("backend got bytes that are no request: %s", s)
			continue
		}
		p := s.path()
		if s.Target == "*" {
			p = "*"
		}
		count[strings.TrimPrefix(p, "/"+r.id+"/")]++
	}
	valid := r.valid()
	want := map[string][2]int{ // path: min, max
		"probe": {0, 0},
		"good":  {0, 0},
		"after": {0, 0},
	}
	if r.before && r.probe.before == nil {
		want["good"] = [2]int{1, 1}
	}
	switch {
	case valid:
		want["probe"] = [2]int{1, 1}
	case r.probe.headForwarded:
		want["probe"] = [2]int{0, 1}
	}
	if valid && r.trail {
		want["after"] = [2]int{1, 1}
	}
	for p, n := range count {
		_, known := want[p]
		if !known && r.probe.before != nil && r.before && strings.Contains(r.probe.before(r.id), " "+p+" ") {
			continue // a request of the prefix, which the proxy may answer itself
		}
		if !known {
			t.Errorf("backend got %d request(s) for %q, which the client never sent", n, p)
		}
	}
	for p, w := range want {
		if n := count[p]; n < w[0] || n > w[1] {
			t.Errorf("backend got %d request(s) for %q, want %d to %d", n, p, w[0], w[1])
		}
	}
	if !valid {
		return
	}
	for _, s := range seen {
		if s.path() != "/"+r.id+"/probe" {
			continue
		}
		if s.BodyLen != r.probe.bodyLen || s.BodyErr != "" {
			t.Errorf("backend got a body of %d bytes (%s), want %d", s.BodyLen, s.BodyErr, r.probe.bodyLen)
		}
		host := r.probe.host
		if host == "" {
			host = "probe.test"
		}
		if s.Host != host {
			t.Errorf("backend got Host %q, want %q", s.Host, host)
		}
	}
}

// trimProbe shortens a probe for a failure message.
func trimProbe(s string) string {
	if len(s) > 600 {
		return s[:300] + fmt.Sprintf("...(%d bytes)...", len(s)-600) + s[len(s)-300:]
	}
	return s
}
