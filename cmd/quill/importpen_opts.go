package main

import (
	"fmt"
	"strings"
)

// penSettings is pen's state once every option is applied in order, as
// pen applies them: a later option (or penctl command) wins.
type penSettings struct {
	roundrobin, hash, hashNoTable, weight, prio, stubborn, http, debug bool

	conns, clients, timeout, blacklist, tracking, idle int

	logFile, logNet, pidFile, webFile, ctrlSocket, cert, key string
	ctrl                                                     *penAddr
	emergency                                                *penServer

	// from is how each translated setting was written ("-x 500",
	// "-o 'conn_max 500'"), keyed by the pen option letter or penctl
	// word; a setting absent here is pen's default.
	from map[string]string
	// notes are the options with no equivalent, each with why.
	notes []string
	// relative is set when a file name was resolved against cwd.
	relative bool
	cwd      string
}

// penNoEquivalent says why a pen option has no quill equivalent.
var penNoEquivalent = map[byte]string{
	'A': "a CA directory to verify client certificates: quill does not ask clients for certificates",
	'B': "the abuse server for clients an ACL denies: quill has no ACLs; filter with a firewall",
	'D': "delayed forwarding, removed from pen in 0.26.0: nothing to carry over",
	'F': "a file of penctl commands: not read; translate its commands by hand like the -o commands",
	'G': "a CA file to verify client certificates: quill does not ask clients for certificates",
	'L': "the SSL protocol: quill offers TLS 1.2 and 1.3 only (tls.min_version)",
	'P': "poll(2) instead of epoll: quill uses Go's network poller (epoll)",
	'Q': "kqueue, obsolete in pen: quill uses Go's network poller",
	'R': "require a client certificate: quill does not ask clients for certificates",
	'S': "the server table size, obsolete since pen 0.28.1: quill has no fixed table",
	'U': "UDP load balancing: quill proxies HTTP over TCP; this file serves HTTP",
	'X': "the exit command of the control port: stop quill with systemctl stop (TERM)",
	'Z': "SSL compatibility mode: quill offers TLS 1.2 and 1.3 only (tls.min_version)",
	'a': "ASCII traffic dumps: quill logs every request (access log) and its decisions at log level debug",
	'f': "stay in the foreground: quill always does; run it under systemd (configs/quill.service)",
	'i': "install a Windows service: quill runs under systemd (configs/quill.service)",
	'j': "chroot: use the unit's sandboxing instead (ProtectSystem=strict in configs/quill.service)",
	'm': "accept several connections per wakeup: Go's runtime accepts them as they come",
	'n': "blocking sockets, obsolete in pen: nothing to carry over",
	'q': "the listen backlog: quill uses the kernel's (net.core.somaxconn)",
	'u': "run as another user: the unit's User= runs quill unprivileged (configs/quill.service)",
}

// penctlNoEquivalent says why a penctl command (in -o or -O) has no quill
// equivalent; commands not listed get a generic reason.
var penctlNoEquivalent = map[string]string{
	"acl":               "ACLs: quill has none; filter with a firewall",
	"client_acl":        "ACLs: quill has none; filter with a firewall",
	"control_acl":       "ACLs: quill has none; protect the admin API with admin.token",
	"tarpit_acl":        "ACLs and DSR: quill has neither",
	"dsr_if":            "direct server return: quill is a layer-7 proxy",
	"transparent":       "quill connects to the servers from its own address; the client's is in X-Forwarded-For",
	"source":            "quill connects to the servers from the address the kernel chooses",
	"tcp_nodelay":       "quill always sets TCP_NODELAY (Go's default)",
	"ssl_ciphers":       "quill offers TLS 1.2 with AEAD suites and TLS 1.3 only",
	"ssl_option":        "quill offers TLS 1.2 with AEAD suites and TLS 1.3 only",
	"ssl_sni_path":      "list each domain's cert and key in tls.certificates: quill picks one by SNI",
	"server":            "write the change into the server's [[pools.pen.servers]] table",
	"listen":            "the listen address is vips.pen.listen",
	"select":            "quill uses Go's network poller (epoll)",
	"poll":              "quill uses Go's network poller (epoll)",
	"epoll":             "quill uses Go's network poller (epoll)",
	"kqueue":            "quill uses Go's network poller",
	"ascii":             "quill logs every request (access log) and its decisions at log level debug",
	"abort_on_error":    "quill logs a fatal error and exits with status 1",
	"exit":              "stop quill with systemctl stop (TERM)",
	"include":           "translate the included file's commands by hand",
	"idlers":            "quill keeps idle backend connections open by itself (keep-alive)",
	"pending_max":       "quill bounds connects with connect_timeout, not a count",
	"dummy":             "quill demo runs test servers",
	"block":             "obsolete in pen: nothing to carry over",
	"delayed_forward":   "obsolete in pen: nothing to carry over",
	"keepalive":         "quill always sets TCP keepalive on client and server connections",
	"ssl_ocsp_response": "no equivalent in quill",
}

// settings applies the options of a pen line; relative file names are
// resolved against cwd.
func (pl *penLine) settings(cwd string) (*penSettings, error) {
	s := &penSettings{
		conns: penDefaultConns, clients: penDefaultClients,
		timeout: penDefaultTimeout, blacklist: penDefaultBlacklist,
		from: map[string]string{}, cwd: cwd,
	}
	for _, o := range pl.opts {
		what := fmt.Sprintf("-%c", o.flag)
		src := what
		if o.arg != "" {
			src += " " + shellJoin([]string{o.arg})
		}
		if err := s.apply(pl, o, what, src); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// apply sets one option; what names it in error messages, src (the
// option with its argument) in comments.
func (s *penSettings) apply(pl *penLine, o penOpt, what, src string) error {
	switches := map[byte]*bool{'r': &s.roundrobin, 'h': &s.hash, 'N': &s.hashNoTable,
		'W': &s.weight, 's': &s.stubborn, 'H': &s.http, 'd': &s.debug}
	if p, ok := switches[o.flag]; ok {
		*p = true
		s.from[string(o.flag)] = src
		return nil
	}
	numbers := map[byte]struct {
		p     *int
		least int
	}{'x': {&s.conns, 1}, 'c': {&s.clients, 1}, 't': {&s.timeout, 1}, 'b': {&s.blacklist, 0}, 'T': {&s.tracking, 0}}
	if nm, ok := numbers[o.flag]; ok {
		n, err := penInt(what, o.arg, nm.least)
		if err != nil {
			return err
		}
		*nm.p = n
		s.from[string(o.flag)] = src
		return nil
	}
	switch o.flag {
	case 'l':
		// pen's open_log: a name with a colon that does not start with
		// "/" is penlogd's host:port.
		if strings.Contains(o.arg, ":") && !strings.HasPrefix(o.arg, "/") {
			s.logNet, s.logFile = o.arg, ""
		} else {
			s.logFile, s.logNet = absPath(s.cwd, o.arg, &s.relative), ""
		}
		s.from["l"] = src
	case 'p':
		s.pidFile = absPath(s.cwd, o.arg, &s.relative)
		s.from["p"] = src
	case 'w':
		s.webFile = o.arg
		s.from["w"] = src
	case 'E':
		s.cert = absPath(s.cwd, o.arg, &s.relative)
		s.from["E"] = src
	case 'K':
		s.key = absPath(s.cwd, o.arg, &s.relative)
		s.from["K"] = src
	case 'C':
		s.from["C"] = src
		if strings.Contains(o.arg, "/") {
			s.ctrlSocket, s.ctrl = o.arg, nil
			return nil
		}
		a, err := parsePenAddr(o.arg)
		if err != nil {
			return fmt.Errorf("%s %q: %w", what, o.arg, err)
		}
		s.ctrl, s.ctrlSocket = &a, ""
	case 'e':
		e, err := parsePenServer(o.arg, pl.listen.port)
		if err != nil {
			return fmt.Errorf("%s %q: %w", what, o.arg, err)
		}
		s.emergency = &e
		s.from["e"] = src
	case 'o', 'O':
		return s.penctl(pl, o)
	case 'L':
		switch o.arg {
		case "ssl23", "ssl2", "ssl3", "tls1":
		default:
			return fmt.Errorf("%s %q: not ssl23, ssl2, ssl3 or tls1", what, o.arg)
		}
		s.note(src, penNoEquivalent['L'])
	case 'm', 'q':
		if _, err := penInt(what, o.arg, 0); err != nil {
			return err
		}
		s.note(src, penNoEquivalent[o.flag])
	default:
		s.note(src, penNoEquivalent[o.flag])
	}
	return nil
}

func (s *penSettings) note(src, why string) {
	n := fmt.Sprintf("pen %s: %s", src, why)
	for _, m := range s.notes {
		if m == n {
			return
		}
	}
	s.notes = append(s.notes, n)
}

// penctl applies a penctl command given with -o or -O: those that do what
// an option does are translated like it, the others noted.
func (s *penSettings) penctl(pl *penLine, o penOpt) error {
	what := fmt.Sprintf("-%c %s", o.flag, shellJoin([]string{o.arg}))
	f := strings.Fields(o.arg)
	if len(f) == 0 {
		return fmt.Errorf("-%c: an empty penctl command", o.flag)
	}
	on := true
	if f[0] == "no" && len(f) > 1 {
		on, f = false, f[1:]
	}
	cmd, args := f[0], f[1:]
	toggles := map[string]byte{"roundrobin": 'r', "hash": 'h', "weight": 'W', "stubborn": 's', "http": 'H'}
	if letter, ok := toggles[cmd]; ok && len(args) == 0 {
		if on {
			return s.apply(pl, penOpt{flag: letter}, what, what)
		}
		*map[byte]*bool{'r': &s.roundrobin, 'h': &s.hash, 'W': &s.weight, 's': &s.stubborn, 'H': &s.http}[letter] = false
		delete(s.from, string(letter))
		return nil
	}
	numbers := map[string]byte{"timeout": 't', "tracking": 'T', "blacklist": 'b', "clients_max": 'c', "conn_max": 'x'}
	if letter, ok := numbers[cmd]; ok && on && len(args) == 1 {
		return s.apply(pl, penOpt{flag: letter, arg: args[0]}, what, what)
	}
	switch {
	case cmd == "prio" && len(args) == 0:
		s.prio = on
		s.from["prio"] = what
	case (cmd == "log" || cmd == "web_stats") && on && len(args) == 1:
		return s.apply(pl, penOpt{flag: map[string]byte{"log": 'l', "web_stats": 'w'}[cmd], arg: args[0]}, what, what)
	case cmd == "log" && !on:
		s.logFile, s.logNet = "", ""
		delete(s.from, "l")
	case cmd == "web_stats" && !on:
		s.webFile = ""
		delete(s.from, "w")
	case cmd == "debug" && on && len(args) == 1:
		n, err := penInt(what, args[0], 0)
		if err != nil {
			return err
		}
		s.debug = n > 0
		s.from["d"] = what
	case cmd == "idle_timeout" && on && len(args) == 1:
		n, err := penInt(what, args[0], 0)
		if err != nil {
			return err
		}
		s.idle = n
		s.from["idle"] = what
	default:
		why, ok := penctlNoEquivalent[cmd]
		if !ok {
			why = "no equivalent in quill"
		}
		s.note(what, why)
	}
	return nil
}
