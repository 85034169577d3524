package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// HTTP/1 contract cases that hold quill's own engine to the strict
// reading where the probes of h1_probes_test.go let a probe go either way:
// one parser for every request of a connection, 431 past the header-field
// limit, 400 for malformed chunked framing, 505 for HTTP/2 spoken to an
// HTTP/1 port, request trailers, Connection: close answered in kind.

// strictly is a probe of h1Probes that may go either way, made one that
// must be refused with one of refused, for the reason why.
func strictly(t *testing.T, name, why string, refused ...int) h1Probe {
	t.Helper()
	p := tightened(t, name, refused...)
	p.eitherWay = false
	p.name = fmt.Sprintf("%s refused with %v (%s)", name, refused, why)
	return p
}

// tightened is a probe of h1Probes that may be answered with refused only.
func tightened(t *testing.T, name string, refused ...int) h1Probe {
	t.Helper()
	for _, p := range h1Probes {
		if p.name == name {
			p.name = fmt.Sprintf("%s, answered %v", p.name, refused)
			p.refused = refused
			return p
		}
	}
	t.Fatalf("no probe %q", name)
	return h1Probe{}
}

func TestH1StrictProbes(t *testing.T) {
	huge := tightened(t, "huge head", 431)
	huge.name = "huge head, 431 then a FIN (lingering close)"
	huge.fin = true
	probes := []h1Probe{
		{name: "OPTIONS * then content-length and chunked", refused: []int{400}, alone: true,
			before: func(id string) string { return "OPTIONS * HTTP/1.1\r\n" + probeHost + "X-Probe: " + id + "\r\n\r\n" },
			raw: func(id string) string {
				body := "0\r\n\r\n" + smuggled(id)
				return post(id, "Content-Length: "+withLen(body)+"\r\nTransfer-Encoding: chunked\r\n", body)
			}},
		strictly(t, "150 header fields", "max_header_count = 100", 431),
		tightened(t, "17-hex-digit chunk size", 400),
		tightened(t, "chunk-size line ending in a bare LF", 400),
		tightened(t, "chunk data longer than declared", 400),
		tightened(t, "HTTP/2 preface on a plain port", 400, 505),
		huge,
	}
	runProbes(t, probeTargetFor(t), probes)
}

// strictGoCases are HTTP/1.1 behaviours that net/http-based proxies lack.
var strictGoCases = []goCase{
	{"request trailer forwarded", func(t *testing.T, v goVIP) {
		p := "/go/" + v.tag + "/trailer-up"
		body := io.MultiReader(strings.NewReader("part one,"), strings.NewReader("part two"))
		req := mustRequest(t, "POST", v.base+p, struct{ io.Reader }{body})
		req.Trailer = http.Header{"X-Req-Sum": {"17 bytes"}}
		resp, got, _ := traced(t, v.client, req)
		if resp.StatusCode != 200 || string(got) != echoLine("POST", p, 17) {
			t.Errorf("answer %d %q", resp.StatusCode, got)
		}
		rec := onlyOne(t, v.e.backend, p)
		if got := rec.Trailer.Get("X-Req-Sum"); !rec.Chunked || got != "17 bytes" {
			t.Errorf("backend got a chunked body %v, trailer X-Req-Sum %q; want the trailer %q", rec.Chunked, got, "17 bytes")
		}
	}},
	{"Connection: close answered with Connection: close", func(t *testing.T, v goVIP) {
		c, br := v.dial(t)
		p := "/go/" + v.tag + "/client-close"
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", p, v.addr)
		res := readResponses(c, br, []string{"GET"}, time.Now().Add(10*time.Second))
		if res.err != nil || len(res.got) != 1 {
			t.Fatalf("answer %+v %v", res.got, res.err)
		}
		// RFC 9112 §9.6: the server SHOULD send "close" in its final answer.
		// net/http takes the field out of the header it reports, into Close.
		if !res.got[0].close {
			t.Errorf("answer lacks Connection: close: %v", res.got[0].header)
		}
	}},
}

func TestH1StrictGoClient(t *testing.T) { runGoCases(t, strictGoCases) }
