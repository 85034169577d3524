// Command idleconns opens N keep-alive connections to a proxy, sends one GET
// on each and reads its answer, then holds them all idle so that the script
// can read the proxy's memory. It prints "held N failed M" once every
// connection has had its answer, and keeps them until a signal (TERM, INT)
// arrives or -hold passes.
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "proxy address")
	n := flag.Int("n", 5000, "connections to open")
	useTLS := flag.Bool("tls", false, "TLS with ALPN http/1.1, certificate not verified")
	parallel := flag.Int("parallel", 32, "connections being opened at once")
	hold := flag.Duration("hold", 2*time.Minute, "longest time to hold the connections")
	flag.Parse()

	conns := make([]net.Conn, *n)
	errs := make([]error, *n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	for i := range *n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = open(*addr, *useTLS)
		}()
	}
	wg.Wait()
	held, failed := 0, 0
	var first error
	for i, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
			continue
		}
		if conns[i] != nil {
			held++
		}
	}
	if first != nil {
		log.Printf("idleconns: %d of %d connections failed, the first: %v", failed, *n, first)
	}
	fmt.Printf("held %d failed %d\n", held, failed)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(*hold):
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// open connects, sends one request and reads the whole answer, leaving the
// connection idle and open.
func open(addr string, useTLS bool) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if useTLS {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}, ServerName: "bench.quill.test"})
		c = tc
	}
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench.quill.test\r\n\r\n"); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: sending the request: %w", addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: reading the answer: %w", addr, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		c.Close()
		return nil, fmt.Errorf("%s: answer %d (close %v): %v", addr, resp.StatusCode, resp.Close, err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return c, nil
}
