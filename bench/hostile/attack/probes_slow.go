package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssKB is the VmRSS of pid and of its children (nginx's workers), in KiB.
func rssKB(pid int) int {
	if pid == 0 {
		return 0
	}
	total := vmRSS(pid)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// The fields after the command, which may hold spaces, in parentheses.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fs := strings.Fields(s[i+1:])
		if len(fs) > 1 && fs[1] == strconv.Itoa(pid) {
			child, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			if err == nil {
				total += vmRSS(child)
			}
		}
	}
	return total
}

func vmRSS(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// rssSampler follows the proxy's RSS every half second until stopped.
type rssSampler struct {
	before, peak int
	stop         chan struct{}
	done         chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{before: rssKB(pid), stop: make(chan struct{}), done: make(chan struct{})}
	s.peak = s.before
	go func() {
		defer close(s.done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.peak = max(s.peak, rssKB(pid))
			}
		}
	}()
	return s
}

func (s *rssSampler) finish(r *result) {
	close(s.stop)
	<-s.done
	r.set("rss_before_kb", s.before)
	r.set("rss_peak_kb", s.peak)
	r.set("rss_growth_mb", float64(s.peak-s.before)/1024)
}

// dialMany opens n connections to addr, at most 50 dials at a time.
func dialMany(addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = dial(addr)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, n, err)
		}
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// slowPost: each connection sends a head announcing 10,000,000 bytes and
// then one byte every 2 s. Reported: the requests held at the backend at
// once (a proxy that buffers small bodies holds none), the backend
// connections, the answers the clients got, the proxy's RSS.
func slowPost(cfg *config) ([]*result, error) {
	r := newResult("slow-post", cfg)
	if _, err := cfg.ctl.get("/reset-peak"); err != nil {
		return nil, err
	}
	base, err := cfg.ctl.fields("/stats")
	if err != nil {
		return nil, err
	}
	rss := sampleRSS(cfg.pid)
	start := time.Now()
	end := start.Add(cfg.duration)
	conns, err := dialMany(cfg.target, cfg.conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		wg       sync.WaitGroup
	)
	head := "POST /slow-post HTTP/1.1\r\n" + hostField + "X-Probe: slow-post\r\nContent-Length: 10000000\r\n\r\n"
	for _, c := range conns {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := io.WriteString(c, head); err != nil {
				return
			}
			for time.Until(end) > 2*time.Second {
				time.Sleep(2 * time.Second)
				c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write([]byte{'x'}); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			a := readAnswer(c, bufio.NewReader(c), start, end)
			key := a.end
			if a.status != 0 {
				key = strconv.Itoa(a.status)
			}
			mu.Lock()
			statuses[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Read before the clients close: what the backend holds at the end.
	ps, err := cfg.ctl.probe("slow-post")
	if err != nil {
		return nil, err
	}
	st, err := cfg.ctl.fields("/stats")
	if err != nil {
		return nil, err
	}
	rss.finish(r)
	r.set("backend_requests", ps["requests"])
	r.set("backend_peak_inflight", ps["peak_inflight"])
	r.set("backend_inflight_at_end", ps["inflight"])
	r.set("backend_peak_conns", st["peak_conns"]-base["conns"])
	r.set("clients", summarize(statuses))
	return []*result{r}, nil
}

// summarize writes counts as "408:500,timeout:3", largest first.
func summarize(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s:%d", k, m[k])
	}
	return sb.String()
}

// latencies measures one keep-alive client's GETs of 1 KiB, one every
// 10 ms, until end; a broken connection is replaced and counted, one
// the proxy closes with Connection: close is replaced.
func latencies(cfg *config, end time.Time) (lat []time.Duration, errs int) {
	var (
		c  net.Conn
		br *bufio.Reader
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	req := "GET /small/normal HTTP/1.1\r\n" + hostField + "X-Probe: normal\r\n\r\n"
	for time.Now().Before(end) {
		if c == nil {
			var err error
			if c, err = dial(cfg.target); err != nil {
				errs++
				time.Sleep(100 * time.Millisecond)
				continue
			}
			br = bufio.NewReader(c)
		}
		t0 := time.Now()
		c.SetWriteDeadline(t0.Add(10 * time.Second))
		_, err := io.WriteString(c, req)
		var a answer
		if err == nil {
			a = readAnswer(c, br, t0, t0.Add(10*time.Second))
		}
		if err != nil || a.status != 200 || !a.complete {
			errs++
			c.Close()
			c = nil
			continue
		}
		lat = append(lat, time.Since(t0))
		if a.close {
			// A proxy may end a keep-alive connection after so many
			// requests (nginx's keepalive_requests): not an error.
			c.Close()
			c = nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return lat, errs
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}

func recordLatency(r *result, prefix string, lat []time.Duration) {
	slices.Sort(lat)
	r.set(prefix+"requests", len(lat))
	r.set(prefix+"p50_ms", percentile(lat, 0.5))
	r.set(prefix+"p99_ms", percentile(lat, 0.99))
	r.set(prefix+"max_ms", percentile(lat, 1))
}

// slowReaders: each connection asks for 1 MiB and reads nothing, while one
// normal client makes keep-alive requests; the normal client's latency
// before and during the attack, and the proxy's RSS.
func slowReaders(cfg *config) ([]*result, error) {
	r := newResult("slow-readers", cfg)
	base, errs := latencies(cfg, time.Now().Add(3*time.Second))
	recordLatency(r, "base_", base)
	rss := sampleRSS(cfg.pid)
	start := time.Now()
	end := start.Add(cfg.duration)
	conns, err := dialMany(cfg.target, cfg.conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	req := "GET /1m/slow-reader HTTP/1.1\r\n" + hostField + "X-Probe: slow-readers\r\n\r\n"
	for _, c := range conns {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			return nil, fmt.Errorf("a slow reader's request: %w", err)
		}
	}
	// The answers fill the sockets' buffers before the normal client starts.
	time.Sleep(2 * time.Second)
	lat, errsDuring := latencies(cfg, end)
	table, err := tcpTable()
	if err != nil {
		return nil, err
	}
	held := 0
	for _, c := range conns {
		if proxySide(table, c).held() {
			held++
		}
	}
	rss.finish(r)
	recordLatency(r, "", lat)
	r.set("errors", errs+errsDuring)
	r.set("held_at_end", held)
	ps, err := cfg.ctl.probe("slow-readers")
	if err != nil {
		return nil, err
	}
	r.set("backend_requests", ps["requests"])
	return []*result{r}, nil
}
