// Command attack plays a hostile client against a reverse proxy, and the
// logging backend behind it, for bench/hostile/run.sh.
//
// As the backend (one process behind each proxy):
//
//	attack -backend -listen app=127.0.0.1:0,static=127.0.0.1:0 -control 127.0.0.1:0 -addr-dir DIR
//
// records every request it receives (which listener, method, target, header
// fields, how long its handler was held, the probe it belongs to by its
// X-Probe field) and counts connections; it serves /1m... (1 MiB), /die... (a
// head promising 100000 bytes, 1000 of them, then a close) and 1 KiB for
// anything else. Its control listener answers the probes' questions.
//
// As the client:
//
//	attack -probe body-timeout -name quill -target 127.0.0.1:8080 -control 127.0.0.1:9000
//
// runs one probe (or several, comma-separated, or "all") and prints one line
// per result, "probe=NAME target=LABEL key=value...", values quoted when they
// hold spaces. -list names the probes. Every probe is bounded in connections
// and time.
//
//	attack -report raw.txt
//
// prints the markdown table of such lines: one row per attack, one column
// per target.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is what the probes need to know.
type config struct {
	name      string // the target's label in the results
	target    string // plain HTTP address of the proxy
	tlsTarget string // TLS address (HTTP/2 by ALPN) of the proxy
	ctl       *controlClient
	pid       int    // the proxy's process, whose RSS (with its children's) is sampled
	accessLog string // the proxy's access log, for the line of a request
	wait      time.Duration
	duration  time.Duration
	conns     int
	streams   int
}

// A result is one line of output: ordered key=value pairs.
type result struct {
	keys []string
	vals map[string]string
}

func newResult(probe string, cfg *config) *result {
	r := &result{vals: make(map[string]string)}
	r.set("probe", probe)
	r.set("target", cfg.name)
	return r
}

func (r *result) set(k string, v any) {
	if _, ok := r.vals[k]; !ok {
		r.keys = append(r.keys, k)
	}
	switch v := v.(type) {
	case float64:
		r.vals[k] = strconv.FormatFloat(v, 'f', 1, 64)
	case time.Duration:
		r.vals[k] = strconv.FormatFloat(v.Seconds(), 'f', 1, 64)
	default:
		r.vals[k] = fmt.Sprint(v)
	}
}

func (r *result) String() string {
	var sb strings.Builder
	for i, k := range r.keys {
		if i > 0 {
			sb.WriteByte(' ')
		}
		v := r.vals[k]
		if v == "" || strings.ContainsAny(v, " \t\"=\\") || !strconv.CanBackquote(v) {
			v = strconv.Quote(v)
		}
		sb.WriteString(k + "=" + v)
	}
	return sb.String()
}

// parseKV reads a line of key=value pairs, values possibly quoted.
func parseKV(line string) map[string]string {
	out := make(map[string]string)
	s := strings.TrimSpace(line)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				v, s = s, ""
			} else {
				v, _ = strconv.Unquote(q)
				s = s[len(q):]
			}
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				sp = len(s)
			}
			v, s = s[:sp], s[sp:]
		}
		out[k] = v
		s = strings.TrimLeft(s, " ")
	}
	return out
}

type probeFunc func(cfg *config) ([]*result, error)

type probeDef struct {
	name string
	what string
	run  probeFunc
}

func probes() []probeDef {
	return []probeDef{
		{"body-timeout", "POST with Content-Length: 100 and no body: what comes back, when", bodyTimeout},
		{"send-timeout", "20 pipelined GETs of 1 MiB, nothing read: when the proxy lets the socket go", sendTimeout},
		{"slow-post", "CONNS POSTs of Content-Length 10000000, a byte every 2 s for DURATION: requests held at the backend, RSS", slowPost},
		{"bad-chunk", "chunked body with a 17-hex-digit chunk size, and one with a bare-LF chunk line: status, what reached the backend", badChunk},
		{"many-fields", "10,000 header fields \"a: b\": status, forwarded or not", manyFields},
		{"slow-readers", "CONNS GETs of 1 MiB read by nobody for DURATION beside one keep-alive client: its latency, RSS", slowReaders},
		{"h2-rapid-reset", "STREAMS HEADERS+RST_STREAM on one HTTP/2 connection: GOAWAY, requests at the backend", rapidReset},
		{"paths", "unnormalized targets against a /static/ route and a catch-all: status, backend, target seen", paths},
		{"backend-dies", "the backend sends 1000 of 100000 bytes and closes: what the client got, the access-log line", backendDies},
		{"oversized-head", "a head growing past 64 KiB, still being sent: a whole 431/400 read, or a reset", oversizedHead},
	}
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("attack: ")
	var (
		asBackend = flag.Bool("backend", false, "run as the logging backend")
		listen    = flag.String("listen", "app=127.0.0.1:0,static=127.0.0.1:0", "backend: NAME=ADDR listeners, comma-separated")
		control   = flag.String("control", "", "backend: control address to listen on; client: the backend's control address")
		addrDir   = flag.String("addr-dir", "", "backend: write each bound address to DIR/NAME.addr")

		probeNames = flag.String("probe", "", "probes to run, comma-separated, or \"all\"")
		list       = flag.Bool("list", false, "list the probes")
		report     = flag.String("report", "", "print the markdown table of the result lines in FILE")
		cfg        config
	)
	flag.StringVar(&cfg.name, "name", "proxy", "the target's label in the results")
	flag.StringVar(&cfg.target, "target", "", "plain HTTP address of the proxy")
	flag.StringVar(&cfg.tlsTarget, "tls-target", "", "TLS address of the proxy (HTTP/2 by ALPN)")
	flag.IntVar(&cfg.pid, "pid", 0, "the proxy's PID, for its RSS (children included)")
	flag.StringVar(&cfg.accessLog, "access-log", "", "the proxy's access log")
	flag.DurationVar(&cfg.wait, "wait", 0, "body-timeout and send-timeout: how long to wait (default 130s and 200s)")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "slow-post and slow-readers: how long the attack lasts")
	flag.IntVar(&cfg.conns, "conns", 500, "slow-post and slow-readers: attacking connections")
	flag.IntVar(&cfg.streams, "streams", 10000, "h2-rapid-reset: streams opened and reset")
	flag.Parse()

	switch {
	case *asBackend:
		addr := *control
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		log.Fatal(runBackend(*listen, addr, *addrDir))
	case *list:
		for _, p := range probes() {
			fmt.Printf("%-15s %s\n", p.name, p.what)
		}
		return
	case *report != "":
		if err := printReport(os.Stdout, *report); err != nil {
			log.Fatal(err)
		}
		return
	}
	cfg.ctl = newControl(*control)
	if *probeNames == "" || cfg.target == "" || cfg.ctl == nil {
		flag.Usage()
		os.Exit(2)
	}
	todo, err := pick(*probeNames)
	if err != nil {
		log.Fatal(err)
	}
	failed := false
	for _, p := range todo {
		rs, err := p.run(&cfg)
		if err != nil {
			log.Printf("%s against %s: %v", p.name, cfg.name, err)
			r := newResult(p.name, &cfg)
			r.set("error", err.Error())
			rs = append(rs, r)
			failed = true
		}
		for _, r := range rs {
			fmt.Println(r)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func pick(names string) ([]probeDef, error) {
	all := probes()
	if names == "all" {
		return all, nil
	}
	var out []probeDef
	for _, n := range strings.Split(names, ",") {
		found := false
		for _, p := range all {
			if p.name == n {
				out = append(out, p)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no probe %q (-list names them)", n)
		}
	}
	return out, nil
}
