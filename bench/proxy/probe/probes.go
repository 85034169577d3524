package main

import (
	"fmt"
	"strings"
)

// A probe is one client's bytes: a single request by RFC 9112's reading
// (or one the standard says to refuse), built so that a parser which frames
// it another way finds a second request, GET /smuggled, inside it. The
// control probe sends two requests in earnest, to show that the count of
// second requests works.
type probe struct {
	name string
	// what says what a proxy that gets it wrong does.
	what string
	raw  string
	// requests is how many requests the client meant: 2 only for the control.
	requests int
}

const (
	host    = "Host: probe.quill.test\r\n"
	smuggle = "GET /smuggled HTTP/1.1\r\n" + host + "\r\n"
)

func probes() []probe {
	// After a chunked body's last chunk, the smuggled request: a parser
	// that reads the chunks sees it as the next request on the connection.
	chunkedThenSmuggle := "0\r\n\r\n" + smuggle
	// For the bare-LF probe: a parser that accepts a bare LF after a chunk
	// size reads chunks "xx" and inner, one request; one that reads the
	// chunk line up to CRLF takes "2;\nxx" for it, then two bytes of data
	// (the hex size of inner, which must be two digits), then the last
	// chunk inside inner, and the smuggled request after it.
	inner := chunkedThenSmuggle
	if len(inner) < 0x10 || len(inner) > 0xff {
		panic(fmt.Sprintf("probe: inner chunk of %d bytes needs two hex digits", len(inner)))
	}
	return []probe{
		{
			name:     "control-pipelined",
			what:     "two requests sent back to back: the backend must see both",
			raw:      "GET /probe HTTP/1.1\r\n" + host + "\r\n" + smuggle,
			requests: 2,
		},
		{
			name: "cl-te",
			what: "Content-Length and Transfer-Encoding: chunked; framed by Content-Length and forwarded as is, the backend reads chunks",
			raw: "POST /probe HTTP/1.1\r\n" + host +
				fmt.Sprintf("Content-Length: %d\r\n", len(chunkedThenSmuggle)) +
				"Transfer-Encoding: chunked\r\n\r\n" + chunkedThenSmuggle,
			requests: 1,
		},
		{
			name: "cl-cl",
			what: "two different Content-Lengths; framed by the first, the body is a second request",
			raw: "POST /probe HTTP/1.1\r\n" + host + "Content-Length: 0\r\n" +
				fmt.Sprintf("Content-Length: %d\r\n\r\n", len(smuggle)) + smuggle,
			requests: 1,
		},
		{
			name: "te-xchunked",
			what: "Transfer-Encoding: xchunked with Content-Length; taken for chunked, the body ends early",
			raw: "POST /probe HTTP/1.1\r\n" + host +
				fmt.Sprintf("Content-Length: %d\r\n", len(chunkedThenSmuggle)) +
				"Transfer-Encoding: xchunked\r\n\r\n" + chunkedThenSmuggle,
			requests: 1,
		},
		{
			name: "obs-fold-te",
			what: "Transfer-Encoding folded onto a second line, with Content-Length; forwarded as is, a backend that unfolds reads chunks",
			raw: "POST /probe HTTP/1.1\r\n" + host +
				fmt.Sprintf("Content-Length: %d\r\n", len(chunkedThenSmuggle)) +
				"Transfer-Encoding:\r\n chunked\r\n\r\n" + chunkedThenSmuggle,
			requests: 1,
		},
		{
			name: "bare-lf-chunk",
			what: "a chunk-size line ended by a bare LF; read up to CRLF, the chunks end early",
			raw: "POST /probe HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" +
				"2;\nxx\r\n" + fmt.Sprintf("%x\r\n", len(inner)) + inner + "\r\n0\r\n\r\n",
			requests: 1,
		},
	}
}

// find returns the probes whose names are listed (all when names is empty).
func find(names string) ([]probe, error) {
	all := probes()
	if names == "" {
		return all, nil
	}
	var out []probe
	for _, n := range strings.Split(names, ",") {
		found := false
		for _, p := range all {
			if p.name == n {
				out = append(out, p)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no probe %q", n)
		}
	}
	return out, nil
}
