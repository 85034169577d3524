// Command failover measures what a failover costs TLS clients: each of
// -clients clients gets a session from host A (a handshake and a request),
// then all of them connect to host B, as they would once B holds the VIP.
// It counts the connections to B that resumed their session and, by
// repeating that second step -rounds times from A's sessions each time,
// how many handshakes (each with one proxied request) B's process serves
// per CPU-second, read from /proc/PID/stat.
//
//	failover -a 127.0.0.1:18443 -b 127.0.0.1:18444 -b-pid 1234 -ca cert.pem
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	a := flag.String("a", "", "host A's VIP address")
	b := flag.String("b", "", "host B's VIP address")
	bPID := flag.Int("b-pid", 0, "host B's process, whose CPU time is read")
	hz := flag.Int("hz", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	caFile := flag.String("ca", "", "PEM file of the certificate to trust")
	serverName := flag.String("servername", "bench.quill.test", "SNI and Host")
	clients := flag.Int("clients", 200, "clients that move from A to B")
	rounds := flag.Int("rounds", 10, "times the clients connect to B from A's sessions, for the CPU figure")
	workers := flag.Int("workers", 8, "connections at once")
	label := flag.String("label", "", "name of this run in the output")
	flag.Parse()
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail(errors.New("no certificate in " + *caFile))
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		base := tls.Config{RootCAs: roots, ServerName: *serverName, MinVersion: v, MaxVersion: v, NextProtos: []string{"http/1.1"}}
		// One session cache per client, as each browser has its own.
		sessions := make([]*tls.ClientSessionState, *clients)
		if err := parallel(*clients, *workers, func(i int) error {
			cfg := base.Clone()
			cache := &oneSession{}
			cfg.ClientSessionCache = cache
			if _, err := request(*a, cfg); err != nil {
				return fmt.Errorf("host A: %w", err)
			}
			if sessions[i] = cache.state; sessions[i] == nil {
				return errors.New("host A issued no session")
			}
			return nil
		}); err != nil {
			fail(err)
		}
		var resumed atomic.Int64
		toB := func(i int) error {
			cfg := base.Clone()
			cfg.ClientSessionCache = &oneSession{state: sessions[i]}
			did, err := request(*b, cfg)
			if err != nil {
				return fmt.Errorf("host B: %w", err)
			}
			if did {
				resumed.Add(1)
			}
			return nil
		}
		if err := parallel(*clients, *workers, toB); err != nil {
			fail(err)
		}
		failover := resumed.Load()
		resumed.Store(0)
		cpu0 := cpuTicks(*bPID)
		start := time.Now()
		if err := parallel(*clients**rounds, *workers, func(i int) error { return toB(i % *clients) }); err != nil {
			fail(err)
		}
		elapsed := time.Since(start)
		cpu := float64(cpuTicks(*bPID)-cpu0) / float64(*hz)
		n := *clients * *rounds
		fmt.Printf("%s %s: after the failover %d of %d clients resumed on B; then %d connections to B (%d resumed) took %.2f CPU-s of B: %.0f handshakes/CPU-s (%.0f/s wall)\n",
			*label, tls.VersionName(v), failover, *clients, n, resumed.Load(), cpu, float64(n)/cpu, float64(n)/elapsed.Seconds())
	}
}

// oneSession is a client's session cache: the one session it last got.
type oneSession struct {
	mu    sync.Mutex
	state *tls.ClientSessionState
}

func (c *oneSession) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.state != nil
}

func (c *oneSession) Put(_ string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = cs
}

// request makes a connection, one request on it, and reports whether the
// handshake resumed. Reading the answer also reads the TLS 1.3 tickets.
func request(addr string, cfg *tls.Config) (bool, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", cfg.ServerName); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	return c.ConnectionState().DidResume, nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(int) error) error {
	var (
		next     atomic.Int64
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(n)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// cpuTicks is the user and system time of a process, all its threads, in
// clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fail(err)
	}
	// The command name may hold spaces; the fields follow its ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "failover:", err)
	os.Exit(1)
}
