// Command probe sends request-smuggling probes as raw bytes to a proxy and
// reports, for each, the status the client got and what the backends' handlers
// saw: the probe's own request, and whether a second request (GET /smuggled)
// came out of bytes the client sent as one. The backends are bench/proxy's
// backend; their counters are read and reset straight on /count.
//
//	probe -target 127.0.0.1:8080 -backends 127.0.0.1:9001,127.0.0.1:9002
//
// Prints one line per probe:
//
//	cl-te status=400 responses=1 probe=0 smuggled=0 verdict=refused
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

type counts struct{ probe, smuggled int }

type result struct {
	status    string // first status code the client got, or "none"
	responses int
	seen      counts
}

// verdict names the outcome: smuggled when a backend handler saw a request
// the client did not send, refused when no handler saw the probe at all
// (the proxy refused it, or passed it on and the backend's parser did),
// forwarded when a handler saw it and nothing else.
func (r result) verdict(p probe) string {
	if p.requests > 1 {
		if r.seen.probe >= 1 && r.seen.smuggled >= 1 {
			return "ok"
		}
		return "broken-count"
	}
	switch {
	case r.seen.smuggled > 0:
		return "SMUGGLED"
	case r.seen.probe > 0:
		return "forwarded"
	default:
		return "refused"
	}
}

// responses reads the answers in got one after the other: the first one's
// status code ("none" when there is none) and how many there are.
func responses(got []byte) (string, int) {
	br := bufio.NewReader(bytes.NewReader(got))
	status := "none"
	n := 0
	for range 10 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n == 0 {
			status = strconv.Itoa(resp.StatusCode)
		}
		n++
		if err != nil {
			break
		}
	}
	return status, n
}

func main() {
	target := flag.String("target", "", "proxy address host:port")
	backends := flag.String("backends", "", "comma-separated backend addresses whose /count is read")
	names := flag.String("probes", "", "comma-separated probe names (default all)")
	wait := flag.Duration("wait", time.Second, "how long to read the answers to one probe")
	list := flag.Bool("list", false, "list the probes and exit")
	flag.Parse()

	ps, err := find(*names)
	if err != nil {
		log.Fatal(err)
	}
	if *list {
		for _, p := range ps {
			fmt.Printf("%-18s %s\n", p.name, p.what)
		}
		return
	}
	if *target == "" || *backends == "" {
		flag.Usage()
		os.Exit(2)
	}
	bs := strings.Split(*backends, ",")
	failed := false
	for _, p := range ps {
		r, err := run(p, *target, bs, *wait)
		if err != nil {
			log.Printf("probe %s: %v", p.name, err)
			failed = true
			continue
		}
		fmt.Printf("%s status=%s responses=%d probe=%d smuggled=%d verdict=%s\n",
			p.name, r.status, r.responses, r.seen.probe, r.seen.smuggled, r.verdict(p))
	}
	if failed {
		os.Exit(1)
	}
}

func run(p probe, target string, backends []string, wait time.Duration) (result, error) {
	var r result
	if _, err := readCounts(backends, true); err != nil {
		return r, err
	}
	c, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return r, fmt.Errorf("dial %s: %w", target, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		return r, fmt.Errorf("%s: %w", target, err)
	}
	if _, err := io.WriteString(c, p.raw); err != nil {
		return r, fmt.Errorf("%s: writing the probe: %w", target, err)
	}
	// The client does not half-close: some proxies would take that for
	// the end of the exchange. It reads what comes until the deadline or
	// until the proxy closes.
	got, err := io.ReadAll(io.LimitReader(c, 1<<20))
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, net.ErrClosed) {
		// A reset after an answer is an answer all the same.
		if len(got) == 0 && !isReset(err) {
			return r, fmt.Errorf("%s: reading the answer: %w", target, err)
		}
	}
	r.status, r.responses = responses(got)
	// A backend that reads a smuggled request does it right after the
	// first; give it a moment past the client's deadline.
	time.Sleep(100 * time.Millisecond)
	r.seen, err = readCounts(backends, false)
	return r, err
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// readCounts sums the backends' counters, resetting them when asked.
func readCounts(backends []string, reset bool) (counts, error) {
	var sum counts
	cl := &http.Client{Timeout: 5 * time.Second}
	for _, b := range backends {
		u := "http://" + b + "/count"
		if reset {
			u += "?reset"
		}
		resp, err := cl.Get(u)
		if err != nil {
			return sum, fmt.Errorf("backend %s: %w", b, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return sum, fmt.Errorf("backend %s: %w", b, err)
		}
		c, err := parseCounts(string(body))
		if err != nil {
			return sum, fmt.Errorf("backend %s: %w", b, err)
		}
		sum.probe += c.probe
		sum.smuggled += c.smuggled
	}
	return sum, nil
}

// parseCounts reads the backend's "probe=N smuggled=M total=T" line.
func parseCounts(s string) (counts, error) {
	var c counts
	seen := 0
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("counter %q: %w", f, err)
		}
		switch k {
		case "probe":
			c.probe = n
			seen++
		case "smuggled":
			c.smuggled = n
			seen++
		}
	}
	if seen != 2 {
		return c, fmt.Errorf("no probe and smuggled counters in %q", s)
	}
	return c, nil
}
