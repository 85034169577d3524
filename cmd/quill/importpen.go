package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// penArgFlags are pen's options that take an argument; the others are
// switches. Switches may be combined ("-rH") and arguments attached ("-x500").
const penArgFlags = "ABCEFGKOSTbceijlmopqtuwx"

// penNoEquivalent explains the pen options that quill does not carry over.
var penNoEquivalent = map[byte]string{
	'd': "debug output: use [log] level = \"debug\"",
	'f': "stay in the foreground: quill always does; run it under systemd (configs/quill.service)",
	'u': "change user: run quill as an unprivileged user with CAP_NET_BIND_SERVICE (configs/quill.service)",
	'j': "chroot: use systemd's sandboxing options instead (configs/quill.service)",
	'U': "UDP load balancing: quill is an HTTP proxy",
	'X': "exit command on the control port: use systemctl stop, or TERM",
	'a': "ASCII dump of the traffic: no equivalent",
	'n': "blocking sockets: no equivalent",
	'D': "distributed pen: stickiness holds across both HA hosts without it (rendezvous hashing, shared cookie secret)",
	'F': "pen config file for the control port: no equivalent",
	'S': "server table size: quill has no fixed limit",
	'q': "listen queue: the kernel's default backlog is used",
	'P': "poll(2): no equivalent",
	'i': "Windows service name: no equivalent",
	'm': "multi-accept: no equivalent",
	'o': "control-port command at start: write it into this file instead",
	'O': "option: set the matching key of this file instead",
	'B': "bandwidth limit: no equivalent",
	'A': "ACL: no equivalent; use a firewall",
	'G': "CA file for client certificates: no equivalent",
	'Z': "SSL compatibility switch: quill offers TLS 1.2 and 1.3 only",
	'R': "no equivalent",
	'N': "no equivalent",
}

type penCommand struct {
	opts    map[byte]string
	order   []byte
	listen  string
	servers []penServer
}

type penServer struct {
	address string
	weight  int
}

func parsePen(args []string) (*penCommand, error) {
	if len(args) > 0 && (args[0] == "pen" || strings.HasSuffix(args[0], "/pen")) {
		args = args[1:]
	}
	pc := &penCommand{opts: map[byte]string{}}
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-") && len(args[i]) > 1; i++ {
		a := args[i][1:]
		for len(a) > 0 {
			f := a[0]
			a = a[1:]
			if strings.IndexByte(penArgFlags, f) >= 0 {
				if a == "" {
					i++
					if i >= len(args) {
						return nil, fmt.Errorf("pen option -%c needs an argument", f)
					}
					a = args[i]
				}
				pc.set(f, a)
				a = ""
			} else {
				pc.set(f, "")
			}
		}
	}
	rest := args[i:]
	if len(rest) < 2 {
		return nil, fmt.Errorf("a pen command line ends with [host:]port and at least one server")
	}
	pc.listen = rest[0]
	if !strings.Contains(pc.listen, ":") {
		pc.listen = "0.0.0.0:" + pc.listen
	}
	if _, _, err := net.SplitHostPort(pc.listen); err != nil {
		return nil, fmt.Errorf("listen address %q: %w", rest[0], err)
	}
	for _, s := range rest[1:] {
		// host[:port[:maxc[:hard[:weight[:prio]]]]]
		parts := strings.Split(s, ":")
		host, port := parts[0], "80"
		if host == "" || strings.HasPrefix(host, "-") {
			return nil, fmt.Errorf("server %q is not host[:port[:maxc[:hard[:weight]]]]", s)
		}
		if len(parts) > 1 && parts[1] != "" {
			port = parts[1]
		}
		ps := penServer{address: net.JoinHostPort(host, port), weight: 1}
		if len(parts) > 4 && parts[4] != "" {
			w, err := strconv.Atoi(parts[4])
			if err != nil || w < 1 {
				return nil, fmt.Errorf("server %q: weight %q", s, parts[4])
			}
			ps.weight = w
		}
		pc.servers = append(pc.servers, ps)
	}
	return pc, nil
}

func (pc *penCommand) set(f byte, v string) {
	if _, ok := pc.opts[f]; !ok {
		pc.order = append(pc.order, f)
	}
	pc.opts[f] = v
}

func (pc *penCommand) has(f byte) bool { _, ok := pc.opts[f]; return ok }

// seconds turns pen's whole seconds into a duration string.
func seconds(v string) (string, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return "", fmt.Errorf("%q is not a number of seconds", v)
	}
	return fmt.Sprintf("%ds", n), nil
}

// toml writes the quill.toml equivalent of the pen command line.
func (pc *penCommand) toml(w io.Writer, cmdline string) error {
	var problems []string
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# quill.toml translated by `quill import-pen` from:\n#   %s\n\n", cmdline)
	p("[global]\n")
	if v, ok := pc.opts['x']; ok {
		p("max_connections = %s            # pen -x\n", v)
	} else {
		p("max_connections = 500            # pen's default -x\n")
	}
	if v, ok := pc.opts['p']; ok {
		p("pid_file = %q          # pen -p\n", v)
	}
	if v, ok := pc.opts['C']; ok {
		addr := v
		if !strings.Contains(addr, ":") {
			addr = "127.0.0.1:" + addr
		}
		p("\n[admin]                  # pen -C: the runtime API (quill ctl) replaces penctl\nlisten = %q\n", addr)
	} else if pc.has('w') {
		p("\n[admin]\nlisten = \"127.0.0.1:9090\"\n")
	}
	if pc.has('w') {
		p("# pen -w %s: the status report is live at http://ADMIN/status\n", pc.opts['w'])
	}
	if v, ok := pc.opts['l']; ok {
		p("\n[access_log]             # pen -l; quill writes CLF with the real client IP, HTTPS included\npath = %q\n", v)
	}

	tls := pc.has('E')
	p("\n[vips.pen]\nlisten = [%q]\n", pc.listen)
	if tls {
		cert := pc.opts['E']
		key := cert
		if k, ok := pc.opts['K']; ok {
			key = k
		}
		p("  [vips.pen.tls]           # pen -E/-K\n  certificates = [{ cert = %q, key = %q }]\n", cert, key)
	}
	p("  [[vips.pen.routes]]\n  pool = \"pen\"\n\n[pools.pen]\n")
	switch {
	case pc.has('W'):
		p("balance = \"weighted\"       # pen -W\n")
	case pc.has('L'):
		p("balance = \"leastconn\"\n")
	default:
		p("balance = \"roundrobin\"     # pen -r, or the first choice of pen's client tracking\n")
	}
	if v, ok := pc.opts['t']; ok {
		d, err := seconds(v)
		if err != nil {
			problems = append(problems, "-t: "+err.Error())
		}
		p("connect_timeout = %q      # pen -t\n", d)
	}
	if v, ok := pc.opts['b']; ok {
		d, err := seconds(v)
		if err != nil {
			problems = append(problems, "-b: "+err.Error())
		}
		p("fail_timeout = %q         # pen -b: how long a failed server is left alone\n", d)
	}
	if pc.has('s') {
		p("stubborn = true            # pen -s\n")
	}
	if pc.has('H') {
		p("forwarded_for = \"append\"   # pen -H\n")
	} else {
		p("forwarded_for = \"off\"      # pen without -H added nothing; \"append\" is quill's default\n")
	}
	if !pc.has('r') {
		p("  [pools.pen.sticky]       # pen tracks clients by IP unless -r\n  mode = \"ip\"\n")
		if v, ok := pc.opts['T']; ok {
			d, err := seconds(v)
			if err != nil {
				problems = append(problems, "-T: "+err.Error())
			}
			p("  ttl = %q                 # pen -T\n", d)
		}
		if v, ok := pc.opts['c']; ok {
			p("  max_clients = %s         # pen -c\n", v)
		} else {
			p("  max_clients = 2048       # pen's default -c\n")
		}
		if pc.has('h') {
			p("  # pen -h: new clients are placed by hashing their IP, as quill's ip mode always does\n")
		}
	} else {
		for _, f := range []byte("hTc") {
			if pc.has(f) {
				p("# pen -%c has no effect with -r (no client tracking)\n", f)
			}
		}
	}
	for _, s := range pc.servers {
		p("  [[pools.pen.servers]]\n  address = %q\n", s.address)
		if s.weight != 1 {
			p("  weight = %d\n", s.weight)
		}
	}
	if v, ok := pc.opts['e']; ok {
		addr := v
		if !strings.Contains(addr, ":") {
			addr += ":80"
		}
		p("  [[pools.pen.servers]]     # pen -e: the emergency server\n  address = %q\n  backup = true\n", addr)
	}
	var notes []string
	for _, f := range pc.order {
		if why, ok := penNoEquivalent[f]; ok && why != "" {
			notes = append(notes, fmt.Sprintf("# pen -%c: %s", f, why))
		} else if strings.IndexByte("rhTcxtsWHEKelpCwbL", f) < 0 {
			notes = append(notes, fmt.Sprintf("# pen -%c: not translated", f))
		}
	}
	if len(notes) > 0 {
		p("\n# Options with no equivalent in quill:\n%s\n", strings.Join(notes, "\n"))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func importPenCmd(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	pc, err := parsePen(args)
	if err != nil {
		return fmt.Errorf("import-pen: %w", err)
	}
	if err := pc.toml(os.Stdout, strings.Join(args, " ")); err != nil {
		return fmt.Errorf("import-pen: %w", err)
	}
	return nil
}
