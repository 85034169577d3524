// Command testbackend is the web server the end-to-end tests put behind
// quill: it answers with its name and tells what it received.
//
//	testbackend -name web1 -listen 127.0.0.1:0 -addr-file FILE
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	name := flag.String("name", "backend", "name to answer with")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	addrFile := flag.String("addr-file", "", "write the bound address here once listening")
	sickFile := flag.String("sick-file", "", "while this file exists, /health answers 503")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", *name)
		fmt.Fprintf(w, "%s\n", *name)
	})
	// /echo answers with what the backend received, as JSON.
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", *name)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"backend": *name, "method": r.Method, "uri": r.RequestURI, "host": r.Host,
			"proto": r.Proto, "header": r.Header, "body": string(body),
		})
	})
	// /slow?d=2s answers after a while.
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		time.Sleep(d)
		w.Header().Set("X-Backend", *name)
		fmt.Fprintf(w, "%s slept %s\n", *name, d)
	})
	// /stream?n=3&every=200ms sends n server-sent events, flushing each.
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		every, _ := time.ParseDuration(r.URL.Query().Get("every"))
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < n; i++ {
			fmt.Fprintf(w, "data: %s %d %d\n\n", *name, i, time.Now().UnixMilli())
			w.(http.Flusher).Flush()
			time.Sleep(every)
		}
	})
	// /ws accepts an upgrade and echoes raw bytes back, prefixed with the name.
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", r.Header.Get("Upgrade"))
		rw.Flush()
		sc := bufio.NewScanner(rw)
		for sc.Scan() {
			fmt.Fprintf(rw, "%s: %s\n", *name, sc.Text())
			rw.Flush()
		}
	})
	// /bad answers with a broken status line.
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		conn.Write([]byte("HTTP/1.1 abc nonsense\r\n\r\n"))
		conn.Close()
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(*sickFile); *sickFile != "" && err == nil {
			http.Error(w, "sick", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if *addrFile != "" {
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
		os.Rename(tmp, *addrFile)
	}
	log.Fatal(http.Serve(ln, mux))
}
