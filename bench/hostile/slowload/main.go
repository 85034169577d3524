// Command slowload loads a proxy with slow clients on loopback and
// measures what they cost it: the proxy's RSS growth (VmRSS of -pid) and a
// normal client's latency meanwhile. Every load is bounded in connections
// and time.
//
//	slowload backend -listen 127.0.0.1:9100
//	slowload post -target 127.0.0.1:8080 -pid PID -n 500 -for 30s
//	slowload read -target 127.0.0.1:8080 -pid PID -n 500 -for 30s
//
// post: each connection sends a POST head with Content-Length 10000000,
// then one body byte every 2 s. read: each connection sends GET /big (a
// 1 MiB answer) and reads nothing, or -rate bytes a second. Meanwhile one
// normal client GETs /small in turn, and at the end the command prints the
// baseline and peak RSS of -pid (VmRSS, and its anonymous part alone:
// heap and stacks, not the pages of the binary a first load touches) and
// the normal client's p50, p99 and max. -warm N runs the same load with N
// connections for 5 s first, unmeasured. compare.sh runs it against quill
// and HAProxy.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: slowload backend|post|read [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9100", "backend: address to serve on")
	target := fs.String("target", "127.0.0.1:8080", "the proxy's address")
	pid := fs.Int("pid", 0, "the proxy's process, whose VmRSS is sampled")
	n := fs.Int("n", 500, "slow connections (at most 2000)")
	dur := fs.Duration("for", 30*time.Second, "how long the load lasts (at most 2m)")
	rate := fs.Int("rate", 0, "read: bytes a second each slow reader reads")
	direct := fs.String("direct", "", "the backend's address: a second normal client GETs from it straight, beside the proxied one, as a control")
	warm := fs.Int("warm", 0, "connections of a 5 s load run first, unmeasured, so that the proxy's code and pools are warm")
	fs.Parse(os.Args[2:])
	if !loopback(*target) || !loopback(*listen) || (*direct != "" && !loopback(*direct)) {
		fmt.Fprintln(os.Stderr, "slowload: loopback addresses only")
		os.Exit(2)
	}
	*n = min(*n, 2000)
	*dur = min(*dur, 2*time.Minute)
	switch os.Args[1] {
	case "backend":
		backend(*listen)
	case "post", "read":
		if *warm > 0 {
			load(os.Args[1], *target, min(*warm, *n), 5*time.Second, *rate, nil)
			time.Sleep(3 * time.Second)
		}
		run(os.Args[1], *target, *direct, *pid, *n, *dur, *rate)
	default:
		fmt.Fprintln(os.Stderr, "usage: slowload backend|post|read [flags]")
		os.Exit(2)
	}
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var big = []byte(strings.Repeat("b", 1<<20))

// backend answers /big with 1 MiB, /small with 100 bytes, and anything
// else with the length of the body it read.
func backend(addr string) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/small":
			w.Write(big[:100])
		default:
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintln(w, n)
		}
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}

// vmRSS is the process's resident memory in KiB: all of it (VmRSS), or
// its anonymous part (RssAnon: heap and stacks, without the pages of the
// binary that the load made it touch for the first time).
func vmRSS(pid int) int64 { return status(pid, "VmRSS:") }

func rssAnon(pid int) int64 { return status(pid, "RssAnon:") }

func status(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	return 0
}

func run(mode, target, direct string, pid, n int, dur time.Duration, rate int) {
	base, baseAnon := vmRSS(pid), rssAnon(pid)
	var peak, peakAnon atomic.Int64
	peak.Store(base)
	peakAnon.Store(baseAnon)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r := vmRSS(pid); r > peak.Load() {
					peak.Store(r)
				}
				if r := rssAnon(pid); r > peakAnon.Load() {
					peakAnon.Store(r)
				}
			}
		}
	}()
	var lat, directLat []time.Duration
	opened, failed := load(mode, target, n, dur, rate, func(end time.Time) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if direct != "" {
				directLat = normalClient(direct, end)
			}
		}()
		lat = normalClient(target, end)
		<-done
	})
	close(stop)
	wg.Wait()
	fmt.Printf("mode=%s conns=%d failed=%d for=%s rss_base_kib=%d rss_peak_kib=%d growth_kib=%d anon_growth_kib=%d normal_reqs=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f",
		mode, opened, failed, dur, base, peak.Load(), peak.Load()-base, peakAnon.Load()-baseAnon, len(lat),
		ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), ms(pct(lat, 1)))
	if direct != "" {
		// Latency the machine and the backend add by themselves: when
		// this rises with the proxied p99, the proxy is not the cause.
		fmt.Printf(" direct_p99_ms=%.1f direct_max_ms=%.1f", ms(pct(directLat, 0.99)), ms(pct(directLat, 1)))
	}
	fmt.Println()
}

// pct is the p-quantile of lat, which it sorts.
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[min(len(lat)-1, int(float64(len(lat))*p))]
}

// load runs n slow connections for dur, and during it meanwhile (when
// not nil), and reports how many connected and how many failed to.
func load(mode, target string, n int, dur time.Duration, rate int, meanwhile func(end time.Time)) (opened, failed int32) {
	var wg sync.WaitGroup
	var nOpened, nFailed atomic.Int32
	end := time.Now().Add(dur)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				nFailed.Add(1)
				return
			}
			defer c.Close()
			nOpened.Add(1)
			if mode == "post" {
				slowPost(c, end)
			} else {
				slowRead(c, end, rate)
			}
		}()
		time.Sleep(2 * time.Millisecond) // accept queues stay short
	}
	if meanwhile != nil {
		meanwhile(end)
	}
	wg.Wait()
	return nOpened.Load(), nFailed.Load()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func slowPost(c net.Conn, end time.Time) {
	if _, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"); err != nil {
		return
	}
	for time.Now().Before(end) {
		time.Sleep(2 * time.Second)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("a")); err != nil {
			return
		}
	}
}

func slowRead(c net.Conn, end time.Time, rate int) {
	if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return
	}
	if rate <= 0 {
		time.Sleep(time.Until(end))
		return
	}
	buf := make([]byte, rate)
	for time.Now().Before(end) {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil && !isTimeout(err) {
			return
		}
		time.Sleep(time.Second)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// normalClient GETs /small on one keep-alive connection, one request
// every 20 ms, until end, and returns the latencies.
func normalClient(target string, end time.Time) []time.Duration {
	var lat []time.Duration
	var c net.Conn
	var br *bufio.Reader
	for time.Now().Before(end) {
		if c == nil {
			var err error
			c, err = net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			br = bufio.NewReader(c)
		}
		start := time.Now()
		c.SetDeadline(start.Add(10 * time.Second))
		io.WriteString(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			c.Close()
			c = nil
			continue
		}
		lat = append(lat, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	if c != nil {
		c.Close()
	}
	return lat
}
