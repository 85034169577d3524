package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The shipped unit (configs/quill.service) lets quill write only here.
const (
	unitRuntimeDir = "/run/quill/"
	unitLogDir     = "/var/log/quill/"
)

// tomlOut writes TOML with comments aligned after the values.
type tomlOut struct{ b strings.Builder }

func (w *tomlOut) line(s, comment string) {
	if comment != "" {
		s += strings.Repeat(" ", max(1, 34-utf8.RuneCountInString(s))) + "# " + commentText(comment)
	}
	w.b.WriteString(s + "\n")
}

func (w *tomlOut) kv(indent, key, value, comment string) { w.line(indent+key+" = "+value, comment) }

func (w *tomlOut) comment(indent, text string) {
	w.b.WriteString(indent + "# " + commentText(text) + "\n")
}

func (w *tomlOut) blank() { w.b.WriteString("\n") }

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// commentText keeps text that comes from the command line on its comment
// line: TOML comments may not hold control characters.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

func seconds(n int) string { return tomlString(strconv.Itoa(n) + "s") }

// said is the comment of a translated setting: how pen's line set it, or
// pen's default.
func (s *penSettings) said(key, dflt string) string {
	if v, ok := s.from[key]; ok {
		return "pen " + v
	}
	return dflt
}

// toml writes the quill.toml equivalent of a pen line.
func (s *penSettings) toml(pl *penLine, cmdline string) string {
	w := &tomlOut{}
	w.comment("", "quill.toml written by `quill import-pen` from:")
	w.comment("", "  "+cmdline)
	if s.relative {
		w.comment("", "Relative file names of that line are written here as absolute paths,")
		w.comment("", "resolved against "+s.cwd+" where import-pen ran: quill resolves a")
		w.comment("", "relative path against the directory of its config file, so this file")
		w.comment("", "works wherever it is saved.")
	}
	s.global(w)
	s.admin(w, pl)
	if s.debug {
		w.blank()
		w.line("[log]", "")
		w.kv("", "level", `"debug"`, s.said("d", ""))
	}
	if s.logFile != "" {
		w.blank()
		w.line("[access_log]", s.said("l", "")+": quill writes CLF with the real client IP, HTTPS included")
		w.kv("", "path", tomlString(s.logFile), "")
		if !strings.HasPrefix(s.logFile, unitLogDir) {
			w.comment("", "under the shipped unit (configs/quill.service) quill can write logs only in "+unitLogDir)
		}
	}
	if s.logNet != "" {
		s.note(s.from["l"], "the log went to penlogd: quill writes one CLF log itself ([access_log] path, or syslog = \"udp://host:514\"); penlog and penlogd are not needed")
	}
	s.vip(w, pl)
	s.pool(w, pl)
	if len(s.notes) > 0 {
		w.blank()
		w.comment("", "pen options this file does not carry over:")
		for _, n := range s.notes {
			w.comment("", n)
		}
	}
	return w.b.String()
}

func (s *penSettings) global(w *tomlOut) {
	w.blank()
	w.line("[global]", "")
	w.kv("", "max_connections", strconv.Itoa(s.conns), s.said("x", "pen's default -x"))
	if s.pidFile != "" {
		w.kv("", "pid_file", tomlString(s.pidFile), s.said("p", ""))
		if !strings.HasPrefix(s.pidFile, unitRuntimeDir) {
			w.comment("", "under the shipped unit (configs/quill.service) quill can write it only in "+unitRuntimeDir+": use "+unitRuntimeDir+"quill.pid there")
		}
	}
	if src, ok := s.from["idle"]; ok {
		if s.idle > 0 {
			w.kv("", "idle_timeout", seconds(s.idle), "pen "+src+": a keep-alive client connection idle this long is closed")
		} else {
			s.note(src, "pen never closed idle connections; quill closes idle keep-alive connections after global.idle_timeout")
		}
	}
}

func (s *penSettings) admin(w *tomlOut, pl *penLine) {
	if s.ctrl == nil && s.ctrlSocket == "" && s.webFile == "" {
		return
	}
	listen := "127.0.0.1:9090"
	if pl.listen.port == 9090 {
		listen = "127.0.0.1:9091"
	}
	w.blank()
	switch {
	case s.ctrl != nil:
		w.line("[admin]", s.said("C", "")+": the runtime API (quill ctl) replaces penctl")
		listen = s.ctrl.hostPort("127.0.0.1")
		w.kv("", "listen", tomlString(listen), "")
		if s.ctrl.host == "" {
			w.comment("", "pen listened on every address; quill's API stays on loopback")
		} else if a, err := netip.ParseAddr(s.ctrl.host); err != nil || !a.IsLoopback() {
			w.comment("", "set token before the API can be reached from other hosts")
		}
	case s.ctrlSocket != "":
		w.line("[admin]", s.said("C", "")+": quill's runtime API (quill ctl) listens on TCP, not a Unix socket")
		w.kv("", "listen", tomlString(listen), "")
	default:
		w.line("[admin]", "")
		w.kv("", "listen", tomlString(listen), "")
	}
	if s.webFile != "" {
		w.comment("", s.said("w", "")+": the status report is live at http://"+listen+"/status")
	}
}

func (s *penSettings) vip(w *tomlOut, pl *penLine) {
	w.blank()
	w.line("[vips.pen]", "")
	w.kv("", "listen", "["+tomlString(pl.listen.hostPort("0.0.0.0"))+"]", "")
	switch port := pl.listen.port; {
	case port == 443 && s.cert == "":
		w.comment("", "pen passed TLS through to the servers; quill speaks HTTP to them: give quill the")
		w.comment("", "certificate ([vips.pen.tls], pen -E) and the servers' plain-HTTP port")
	case port < 1024 && port != 80 && port != 443:
		w.comment("", fmt.Sprintf("pen balanced any TCP protocol; quill proxies HTTP: this is right only if port %d carries HTTP", port))
	}
	switch {
	case s.cert != "":
		key, why := s.key, s.said("E", "")+", "+s.said("K", "")
		if key == "" {
			key, why = s.cert, s.said("E", "")+" without -K: one PEM file holds the certificate and its key"
		}
		w.line("  [vips.pen.tls]", why)
		w.kv("  ", "certificates", "[{ cert = "+tomlString(s.cert)+", key = "+tomlString(key)+" }]", "")
	case s.key != "":
		s.note(s.from["K"], "a key without a certificate (-E): pen served no SSL, and neither does this file")
	}
	w.line("  [[vips.pen.routes]]", "")
	w.kv("  ", "pool", `"pen"`, "")
}

// tracks is pen's client table: on unless -r (or the old -N).
func (s *penSettings) tracks() bool { return !s.roundrobin && !s.hashNoTable }

// placement says how pen chose a server for a new client, in the order of
// pen's initial_server: prio, then -W, then -h, then round robin.
func (s *penSettings) placement() string {
	switch {
	case s.prio:
		return s.said("prio", "") + " placed a new client on the available server with the lowest prio"
	case s.weight:
		return s.said("W", "") + " placed a new client on the server with the fewest connections per unit of weight"
	case s.hash:
		return s.said("h", "") + " placed a new client by a hash of its IP address"
	}
	return "pen placed a new client by round robin"
}

func (s *penSettings) pool(w *tomlOut, pl *penLine) {
	w.blank()
	w.line("[pools.pen]", "")
	if !s.tracks() {
		switch {
		case s.prio:
			w.kv("", "balance", `"roundrobin"`, "")
			w.comment("", s.placement()+": quill has no priorities; backup = true marks servers that only take over")
		case s.weight:
			w.kv("", "balance", `"leastconn"`, s.said("W", "")+": the fewest connections per unit of weight")
		case s.hashNoTable:
			w.kv("", "balance", `"hash"`, s.said("N", "")+": a hash of the client IP, no client table")
		default:
			w.kv("", "balance", `"roundrobin"`, s.said("r", "")+": no client tracking")
			if s.hash {
				w.comment("", s.said("h", "")+": no effect with -r (pen then hashes the client's address with its source port, so no client stays on one server)")
			}
		}
	}
	if s.hash && (s.prio || s.weight) {
		s.note(s.from["h"], "no effect: pen's priority or -W placement comes first")
	}
	w.kv("", "connect_timeout", seconds(s.timeout), s.said("t", "pen's default -t"))
	if s.blacklist == 0 {
		w.kv("", "fail_timeout", seconds(1), s.said("b", "")+": pen never left a failed server alone; 0 means the default in quill, 1s is the least")
	} else {
		w.kv("", "fail_timeout", seconds(s.blacklist), s.said("b", "pen's default -b")+": a failed server is left alone this long")
	}
	if s.stubborn {
		w.kv("", "stubborn", "true", s.said("s", ""))
	}
	if s.http {
		w.kv("", "forwarded_for", `"append"`, s.said("H", "")+": pen added X-Forwarded-For when the client sent none; quill appends to the chain")
	} else {
		w.kv("", "forwarded_for", `"off"`, "pen without -H passed requests on as they came")
	}
	s.sticky(w)
	s.servers(w, pl)
}

func (s *penSettings) sticky(w *tomlOut) {
	if !s.tracks() {
		for _, k := range []string{"T", "c"} {
			if src, ok := s.from[k]; ok {
				s.note(src, "no effect with -r: pen tracks no clients")
			}
		}
		return
	}
	w.line("  [pools.pen.sticky]", "pen's client tracking (on unless -r)")
	w.kv("  ", "mode", `"ip"`, "")
	if s.tracking > 0 {
		w.kv("  ", "ttl", seconds(s.tracking), s.said("T", "")+": a client idle this long is forgotten")
	} else {
		w.kv("  ", "ttl", seconds(0), s.said("T", "pen's default -T")+": a client is kept until the table is full")
	}
	w.kv("  ", "max_clients", strconv.Itoa(s.clients), s.said("c", "pen's default -c"))
	w.comment("  ", s.placement()+", then kept it on that server.")
	w.comment("  ", "quill's ip mode keeps it the same way and places a new client by rendezvous")
	w.comment("  ", "hashing of its IP, so both hosts of an HA pair agree without sharing state.")
}

func (s *penSettings) servers(w *tomlOut, pl *penLine) {
	seen := map[string]int{}
	var order []penServer
	for _, ps := range pl.servers {
		if seen[ps.address]++; seen[ps.address] == 1 {
			order = append(order, ps)
		}
	}
	for _, ps := range order {
		w.line("  [[pools.pen.servers]]", "")
		w.kv("  ", "address", tomlString(ps.address), "")
		if ps.weight > 1 {
			why := "pen's weight field"
			switch {
			case !s.weight:
				why += "; unused here, as pen used it only with -W"
			case s.tracks():
				why += "; ip stickiness places new clients without weights"
			}
			w.kv("  ", "weight", strconv.Itoa(ps.weight), why)
		} else if ps.weight == 0 && s.weight {
			w.comment("  ", "pen -W never chose this server first (weight 0); quill's least weight is 1")
		}
		if n := seen[ps.address]; n > 1 {
			w.comment("  ", fmt.Sprintf("pen lists %s %d times; quill lists a server once", ps.address, n))
		}
		s.limits(w, ps)
	}
	if e := s.emergency; e != nil {
		if seen[e.address] > 0 {
			s.note(s.from["e"], "the emergency server is also a regular server; quill lists a server once")
			return
		}
		w.line("  [[pools.pen.servers]]", s.said("e", "")+": the server of last resort")
		w.kv("  ", "address", tomlString(e.address), "")
		w.kv("  ", "backup", "true", "")
		s.limits(w, *e)
	}
}

// limits notes pen's per-server connection limits and priority.
func (s *penSettings) limits(w *tomlOut, ps penServer) {
	if ps.maxconn > 0 {
		limit := fmt.Sprintf("pen maxconn %d", ps.maxconn)
		if ps.hard > 0 {
			limit += fmt.Sprintf(", hard %d for returning clients", ps.hard)
		}
		w.comment("  ", limit+": quill has no limit per server; global.max_connections bounds the total")
	} else if ps.hard > 0 {
		w.comment("  ", fmt.Sprintf("pen hard %d: no effect without maxconn", ps.hard))
	}
	if ps.prio > 0 {
		w.comment("  ", fmt.Sprintf("pen prio %d: only pen's priority selection used it; quill has none", ps.prio))
	}
}
