package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// goReads is what a net/http backend makes of bytes it receives as they are:
// the paths of the requests it reads in full, and the error that stopped it
// (nil at a clean end).
func goReads(raw string) ([]string, error) {
	br := bufio.NewReader(strings.NewReader(raw))
	var paths []string
	for range 5 {
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			return paths, nil
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return paths, err
		}
		_, err = io.Copy(io.Discard, req.Body)
		req.Body.Close()
		if err != nil {
			return paths, err
		}
		paths = append(paths, req.URL.Path)
	}
	return paths, errors.New("more than 5 requests")
}

// head splits a probe into its head's fields and what follows the head.
func head(t *testing.T, raw string) (map[string][]string, string) {
	t.Helper()
	h, rest, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("no end of head in %q", raw)
	}
	fields := map[string][]string{}
	for _, l := range strings.Split(h, "\r\n")[1:] {
		k, v, _ := strings.Cut(l, ":")
		fields[strings.ToLower(k)] = append(fields[strings.ToLower(k)], strings.TrimSpace(v))
	}
	return fields, rest
}

// afterContentLength is what follows the body when it is framed by the
// Content-Length at index i.
func afterContentLength(t *testing.T, raw string, i int) string {
	t.Helper()
	f, rest := head(t, raw)
	n, err := strconv.Atoi(f["content-length"][i])
	if err != nil || n > len(rest) {
		t.Fatalf("content-length %v with %d bytes after the head", f["content-length"], len(rest))
	}
	return rest[n:]
}

// afterChunksToCRLF is what follows a chunked body when chunk lines are read
// up to CRLF only, a bare LF being taken as part of the line.
func afterChunksToCRLF(t *testing.T, body string) string {
	t.Helper()
	for range 10 {
		line, rest, ok := strings.Cut(body, "\r\n")
		if !ok {
			t.Fatalf("no CRLF in %q", body)
		}
		sizeText, _, _ := strings.Cut(line, ";")
		size, err := strconv.ParseInt(sizeText, 16, 32)
		if err != nil {
			t.Fatalf("chunk line %q: %v", line, err)
		}
		if size == 0 {
			_, after, ok := strings.Cut(rest, "\r\n")
			if !ok {
				t.Fatalf("no end of trailers in %q", rest)
			}
			return after
		}
		if !strings.HasPrefix(rest[size:], "\r\n") {
			t.Fatalf("chunk of %d bytes not followed by CRLF in %q", size, rest)
		}
		body = rest[size+2:]
	}
	t.Fatal("more than 10 chunks")
	return ""
}

func TestProbes(t *testing.T) {
	byName := map[string]probe{}
	for _, p := range probes() {
		byName[p.name] = p
	}
	tests := []struct {
		name string
		// goPaths and goErr: what a net/http backend reads from the bytes.
		goPaths []string
		goErr   bool
		// misread is what a parser that frames the probe the wrong way
		// leaves after the probe's body, and left what it must be: the
		// smuggled request, or nothing when that parser forwards every
		// byte as one request and the backend finds the second.
		misread func(t *testing.T, raw string) string
		left    string
	}{
		{name: "control-pipelined", goPaths: []string{"/probe", "/smuggled"}},
		{
			name: "cl-te", goPaths: []string{"/probe", "/smuggled"},
			misread: func(t *testing.T, raw string) string { return afterContentLength(t, raw, 0) },
			left:    "",
		},
		{
			name: "cl-cl", goErr: true,
			misread: func(t *testing.T, raw string) string { return afterContentLength(t, raw, 0) },
			left:    smuggle,
		},
		{
			name: "te-xchunked", goErr: true,
			misread: func(t *testing.T, raw string) string {
				_, rest := head(t, raw)
				return afterChunksToCRLF(t, rest)
			},
			left: smuggle,
		},
		{
			name: "obs-fold-te", goPaths: []string{"/probe", "/smuggled"},
			misread: func(t *testing.T, raw string) string { return afterContentLength(t, raw, 0) },
			left:    "",
		},
		{
			name: "bare-lf-chunk", goErr: true,
			misread: func(t *testing.T, raw string) string {
				_, rest := head(t, raw)
				return afterChunksToCRLF(t, rest)
			},
			left: smuggle,
		},
	}
	if len(tests) != len(byName) {
		t.Fatalf("%d cases for %d probes", len(tests), len(byName))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := byName[tt.name]
			if !ok {
				t.Fatalf("no probe %q", tt.name)
			}
			paths, err := goReads(p.raw)
			if (err != nil) != tt.goErr {
				t.Errorf("net/http reads %v, error %v; want an error: %v", paths, err, tt.goErr)
			}
			if !tt.goErr && strings.Join(paths, " ") != strings.Join(tt.goPaths, " ") {
				t.Errorf("net/http reads %v, want %v", paths, tt.goPaths)
			}
			if tt.misread == nil {
				return
			}
			got := tt.misread(t, p.raw)
			if tt.left == "" && got != "" {
				t.Errorf("misframed, the probe leaves %q, want nothing", got)
			}
			if tt.left != "" && !strings.HasPrefix(got, tt.left) {
				t.Errorf("misframed, the probe leaves %q, want %q first", got, tt.left)
			}
		})
	}
}

func TestParseCounts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    counts
		wantErr bool
	}{
		{name: "backend line", in: "probe=2 smuggled=1 total=3\n", want: counts{2, 1}},
		{name: "missing smuggled", in: "probe=2 total=3\n", wantErr: true},
		{name: "not a number", in: "probe=x smuggled=1\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCounts(tt.in)
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
				t.Errorf("parseCounts(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestVerdict(t *testing.T) {
	one := probe{requests: 1}
	two := probe{requests: 2}
	tests := []struct {
		name string
		p    probe
		seen counts
		want string
	}{
		{name: "second request seen", p: one, seen: counts{1, 1}, want: "SMUGGLED"},
		{name: "only the smuggled one seen", p: one, seen: counts{0, 1}, want: "SMUGGLED"},
		{name: "probe forwarded", p: one, seen: counts{1, 0}, want: "forwarded"},
		{name: "nothing reached a handler", p: one, seen: counts{0, 0}, want: "refused"},
		{name: "control both seen", p: two, seen: counts{1, 1}, want: "ok"},
		{name: "control second lost", p: two, seen: counts{1, 0}, want: "broken-count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (result{seen: tt.seen}).verdict(tt.p); got != tt.want {
				t.Errorf("verdict = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResponses(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	bad := "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name       string
		in         string
		wantStatus string
		wantN      int
	}{
		{name: "nothing", in: "", wantStatus: "none", wantN: 0},
		{name: "one", in: bad, wantStatus: "400", wantN: 1},
		{name: "two back to back", in: ok + bad, wantStatus: "200", wantN: 2},
		{name: "cut short", in: ok[:len(ok)-1], wantStatus: "200", wantN: 1},
		{name: "garbage", in: "not http\r\n\r\n", wantStatus: "none", wantN: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, n := responses([]byte(tt.in))
			if status != tt.wantStatus || n != tt.wantN {
				t.Errorf("responses = %s, %d; want %s, %d", status, n, tt.wantStatus, tt.wantN)
			}
		})
	}
}
