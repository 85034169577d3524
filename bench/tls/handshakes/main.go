// Command handshakes measures how many full TLS handshakes per second a
// server completes: each of -c workers opens a new connection, does a full
// handshake (no session cache, so nothing is resumed), sends one HTTP/1.1
// request with "Connection: close", reads the answer and closes, over and
// over for -d. It prints one line:
//
//	handshakes/s=1234.5 ok=9876 errors=0 p50=12.3ms p99=45.6ms groups=X25519:9876
//
// The certificate is not verified: that would only spend the client's
// share of the CPU, which the server under test shares on one machine.
//
// X25519 is offered first by default, which every server under test
// supports and picks; -groups go offers what Go (and browsers) offer first, the
// post-quantum hybrid X25519MLKEM768, which costs more on both sides and
// which OpenSSL 3.0 servers decline.
//
//	go run ./bench/tls/handshakes -addr 127.0.0.1:8443 -c 32 -d 8s -tls 1.3
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "server address")
	sni := flag.String("sni", "", "server name sent in the ClientHello; none when empty")
	workers := flag.Int("c", 32, "concurrent connections")
	d := flag.Duration("d", 8*time.Second, "how long to measure")
	version := flag.String("tls", "1.3", "TLS version: 1.2 or 1.3")
	path := flag.String("path", "/", "request path")
	curves := flag.String("groups", "x25519", `key exchange groups offered: "x25519" (then P-256), or "go" for Go's defaults (X25519MLKEM768 first, as browsers do)`)
	flag.Parse()

	var v uint16
	switch *version {
	case "1.2":
		v = tls.VersionTLS12
	case "1.3":
		v = tls.VersionTLS13
	default:
		fmt.Fprintf(os.Stderr, "-tls %q: want 1.2 or 1.3\n", *version)
		os.Exit(2)
	}
	cfg := &tls.Config{
		ServerName:         *sni,
		InsecureSkipVerify: true,
		MinVersion:         v,
		MaxVersion:         v,
		NextProtos:         []string{"http/1.1"},
		// No ClientSessionCache: every handshake is a full one.
	}
	switch *curves {
	case "x25519":
		// P-256 is listed too, without a key share of its own: OpenSSL
		// servers serve a P-256 ECDSA certificate over TLS 1.2 only to
		// clients that list that curve, as every real client does.
		cfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	case "go":
	default:
		fmt.Fprintf(os.Stderr, "-groups %q: want x25519 or go\n", *curves)
		os.Exit(2)
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", *path, *addr)

	deadline := time.Now().Add(*d)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		groups    = map[tls.CurveID]int{}
		errs      int
		firstErr  error
		wg        sync.WaitGroup
	)
	began := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var bad int
			var badErr error
			seen := map[tls.CurveID]int{}
			for time.Now().Before(deadline) {
				t0 := time.Now()
				group, err := once(*addr, cfg, req)
				if err != nil {
					bad++
					if badErr == nil {
						badErr = err
					}
					continue
				}
				mine = append(mine, time.Since(t0))
				seen[group]++
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			for g, n := range seen {
				groups[g] += n
			}
			errs += bad
			if firstErr == nil {
				firstErr = badErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	slices.Sort(latencies)
	var names []string
	for g, n := range groups {
		names = append(names, fmt.Sprintf("%s:%d", g, n))
	}
	slices.Sort(names)
	fmt.Printf("handshakes/s=%.1f ok=%d errors=%d p50=%s p99=%s groups=%s\n",
		float64(len(latencies))/elapsed.Seconds(), len(latencies), errs,
		quantile(latencies, 0.50), quantile(latencies, 0.99), strings.Join(names, ","))
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "first error:", firstErr)
	}
	if len(latencies) == 0 {
		os.Exit(1)
	}
}

// once is one connection: full handshake, one request, the whole answer.
// It returns the key exchange group the server chose.
func once(addr string, cfg *tls.Config, req string) (tls.CurveID, error) {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	c := tls.Client(raw, cfg)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	st := c.ConnectionState()
	if st.DidResume {
		return 0, errors.New("session resumed")
	}
	if _, err := io.WriteString(c, req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return st.CurveID, err
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))].Round(10 * time.Microsecond)
}
