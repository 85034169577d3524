// Command genlog writes a synthetic access log in Combined Log Format for
// the `quill logs merge` benchmark: about -size-mb megabytes (10^6 bytes)
// of lines from one load balancer, in time order but for a late line now
// and then (a slow request logged under its arrival time), starting at a
// fixed instant so that logs made with different seeds interleave.
//
//	genlog -size-mb 1024 -seed 1 -client 192.0.2.10 -o lb1.log
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

var (
	paths = []string{"/", "/index.html", "/static/site.css", "/static/app.js", "/img/logo.png",
		"/api/v1/items?page=2", "/login", "/search?q=reverse+proxy", "/favicon.ico", "/products/1234"}
	agents = []string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"curl/7.88.1",
		"Googlebot/2.1 (+http://www.google.com/bot.html)",
	}
	referers = []string{"-", "https://www.example.com/", "https://www.google.com/search?q=quill"}
	statuses = []int{200, 200, 200, 200, 200, 304, 301, 404, 500}
	months   = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

func main() {
	sizeMB := flag.Int("size-mb", 100, "approximate size in megabytes (10^6 bytes)")
	seed := flag.Uint64("seed", 1, "random seed; logs with different seeds differ")
	client := flag.String("client", "192.0.2.1", "first client address of the log (the last byte varies)")
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	if err := run(*sizeMB, *seed, *client, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
}

func run(sizeMB int, seed uint64, client, out string) error {
	f := os.Stdout
	if out != "" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
		defer f.Close()
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	prefix := client
	if i := lastDot(client); i >= 0 {
		prefix = client[:i+1]
	}
	limit := int64(sizeMB) * 1_000_000
	at := time.Date(2024, time.October, 10, 0, 0, 0, 0, time.UTC).Unix()
	var line []byte
	for written := int64(0); written < limit; {
		// About two requests a second from each host.
		at += int64(r.IntN(2))
		t := at
		if r.IntN(1000) == 0 {
			t -= int64(1 + r.IntN(3)) // a slow request, logged late
		}
		line = line[:0]
		line = append(line, prefix...)
		line = strconv.AppendInt(line, int64(1+r.IntN(254)), 10)
		line = append(line, " - - ["...)
		line = appendStamp(line, time.Unix(t, 0).UTC())
		line = append(line, "] \"GET "...)
		line = append(line, paths[r.IntN(len(paths))]...)
		line = append(line, " HTTP/1.1\" "...)
		status := statuses[r.IntN(len(statuses))]
		line = strconv.AppendInt(line, int64(status), 10)
		line = append(line, ' ')
		if status == 304 {
			line = append(line, '-')
		} else {
			line = strconv.AppendInt(line, int64(100+r.IntN(50000)), 10)
		}
		line = append(line, " \""...)
		line = append(line, referers[r.IntN(len(referers))]...)
		line = append(line, "\" \""...)
		line = append(line, agents[r.IntN(len(agents))]...)
		line = append(line, "\"\n"...)
		if _, err := w.Write(line); err != nil {
			return err
		}
		written += int64(len(line))
	}
	return w.Flush()
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// appendStamp writes dd/Mon/yyyy:HH:MM:SS +0000.
func appendStamp(dst []byte, t time.Time) []byte {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	dst = append2(dst, d)
	dst = append(dst, '/')
	dst = append(dst, months[m-1]...)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(y), 10)
	dst = append(dst, ':')
	dst = append2(dst, hh)
	dst = append(dst, ':')
	dst = append2(dst, mm)
	dst = append(dst, ':')
	dst = append2(dst, ss)
	return append(dst, " +0000"...)
}

func append2(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
