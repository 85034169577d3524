// Command load keeps clients sending to a proxy while its binary is
// upgraded, and counts what they saw: connections refused, requests that
// failed (no answer, or not 200), requests answered. Clients, each pausing
// -pace between requests, for -d at most:
//
//   - to -http: one over a kept-alive connection, two with a new
//     connection per request;
//   - to -https (if given): one kept-alive, one new connection per
//     request (HTTP/1.1), and one HTTP/2 client.
//
// It prints one line, then up to ten failures on stderr:
//
//	sent=5000 ok=5000 refused=0 failed=0 h2=800
//
// The certificate is not verified: the proxies under test serve a
// self-signed one.
//
//	go run ./bench/upgrade/load -http 127.0.0.1:8080 -https 127.0.0.1:8443 -d 20s
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	plain := flag.String("http", "", "host:port of the HTTP listener")
	secure := flag.String("https", "", "host:port of the HTTPS listener (none when empty)")
	d := flag.Duration("d", 20*time.Second, "how long to send at most")
	pace := flag.Duration("pace", 5*time.Millisecond, "pause of each client between requests")
	perClient := flag.Int("n", 20000, "requests per client at most")
	flag.Parse()
	if *plain == "" {
		fmt.Fprintln(os.Stderr, "load: -http is required")
		os.Exit(2)
	}

	insecure := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	h1Only := map[string]func(string, *tls.Conn) http.RoundTripper{}
	type client struct {
		base string
		tr   *http.Transport
		h2   bool
	}
	clients := []client{
		{"http://" + *plain, &http.Transport{MaxIdleConnsPerHost: 1}, false},
		{"http://" + *plain, &http.Transport{DisableKeepAlives: true}, false},
		{"http://" + *plain, &http.Transport{DisableKeepAlives: true}, false},
	}
	if *secure != "" {
		clients = append(clients,
			client{"https://" + *secure, &http.Transport{TLSClientConfig: insecure, TLSNextProto: h1Only, MaxIdleConnsPerHost: 1}, false},
			client{"https://" + *secure, &http.Transport{TLSClientConfig: insecure, TLSNextProto: h1Only, DisableKeepAlives: true}, false},
			client{"https://" + *secure, &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}, true})
	}

	// SIGINT or SIGTERM ends the run early; the counts are printed.
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; close(stop) }()

	var sent, ok, refused, h2 atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	deadline := time.Now().Add(*d)
	for w, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: c.tr, Timeout: 20 * time.Second}
			for i := 0; i < *perClient && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				resp, err := hc.Get(fmt.Sprintf("%s/upgrade/%d/%d", c.base, w, i))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				var failure string
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
					failure = err.Error()
				case err != nil:
					failure = err.Error()
				case resp.StatusCode != http.StatusOK:
					failure = resp.Status
				case c.h2 && resp.ProtoMajor != 2:
					failure = "answered over " + resp.Proto + ", not HTTP/2"
				default:
					ok.Add(1)
					if c.h2 {
						h2.Add(1)
					}
				}
				if failure != "" {
					mu.Lock()
					failures = append(failures, failure)
					mu.Unlock()
				}
				time.Sleep(*pace)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("sent=%d ok=%d refused=%d failed=%d h2=%d\n", sent.Load(), ok.Load(), refused.Load(), int64(len(failures)), h2.Load())
	for i, f := range failures {
		if i == 10 {
			fmt.Fprintf(os.Stderr, "... and %d more\n", len(failures)-10)
			break
		}
		fmt.Fprintln(os.Stderr, f)
	}
}
