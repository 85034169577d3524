package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// pen 0.34 reads its options with getopt(3) and this option string:
// "B:C:F:O:S:T:b:c:e:i:j:l:m:o:p:q:t:u:w:x:DHNPQWXUadfhnrsE:K:G:A:ZRL:".
const (
	penArgOptions = "BCFOSTbceijlmopqtuwxEKGAL"
	penSwitches   = "DHNPQWXUadfhnrsZR"
)

// pen's defaults (pen -h), written out because quill's differ.
const (
	penDefaultConns     = 500  // -x
	penDefaultClients   = 2048 // -c
	penDefaultTimeout   = 3    // -t, seconds
	penDefaultBlacklist = 30   // -b, seconds
)

// penMaxNumber bounds every number of a pen line, so that seconds stay
// within a time.Duration and counts within reason.
const penMaxNumber = 1_000_000_000

type penOpt struct {
	flag byte
	arg  string
}

// penLine is a pen command line as pen's getopt reads it: options anywhere
// before "--" (GNU getopt permutes), then the listen address and servers.
type penLine struct {
	opts    []penOpt
	listen  penAddr
	servers []penServer
}

// penAddr is a listen or control address: [host:]port.
type penAddr struct {
	host    string // "" when only a port was given
	port    int
	written string
}

func (a penAddr) hostPort(defaultHost string) string {
	h := a.host
	if h == "" {
		h = defaultHost
	}
	return net.JoinHostPort(h, strconv.Itoa(a.port))
}

// penServer is host[:port[:maxconn[:hard[:weight[:prio]]]]].
type penServer struct {
	written                     string
	address                     string
	maxconn, hard, weight, prio int
}

func parsePen(args []string) (*penLine, error) {
	if len(args) > 0 && (args[0] == "pen" || strings.HasSuffix(args[0], "/pen")) {
		args = args[1:]
	}
	pl := &penLine{}
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			f := a[j]
			switch {
			case strings.IndexByte(penSwitches, f) >= 0:
				pl.opts = append(pl.opts, penOpt{flag: f})
			case strings.IndexByte(penArgOptions, f) >= 0:
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("-%c: needs an argument", f)
					}
					i++
					v = args[i]
				}
				pl.opts = append(pl.opts, penOpt{flag: f, arg: v})
				j = len(a)
			default:
				return nil, fmt.Errorf("-%c: not a pen option", f)
			}
		}
	}
	if len(operands) < 2 {
		return nil, fmt.Errorf("a pen command line ends with [host:]port and at least one server")
	}
	var err error
	if pl.listen, err = parsePenAddr(operands[0]); err != nil {
		return nil, fmt.Errorf("listen address %q: %w", operands[0], err)
	}
	for _, s := range operands[1:] {
		ps, err := parsePenServer(s, pl.listen.port)
		if err != nil {
			return nil, fmt.Errorf("server %q: %w", s, err)
		}
		pl.servers = append(pl.servers, ps)
	}
	return pl, nil
}

// parsePenAddr reads [host:]port the way pen's open_listener does (the
// port follows the last colon, so "::1:8080" is IPv6), and also accepts
// the bracketed "[::1]:8080" that pen itself cannot convert.
func parsePenAddr(s string) (penAddr, error) {
	if strings.Contains(s, "/") {
		return penAddr{}, fmt.Errorf("a Unix socket: quill listens on TCP [host:]port only")
	}
	a := penAddr{written: s}
	portStr := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		a.host, portStr = s[:i], s[i+1:]
		if strings.HasPrefix(a.host, "[") != strings.HasSuffix(a.host, "]") {
			return penAddr{}, fmt.Errorf("unbalanced brackets")
		}
		a.host = strings.TrimSuffix(strings.TrimPrefix(a.host, "["), "]")
		if a.host == "" {
			return penAddr{}, fmt.Errorf("no host before the port (write only the port for every IPv4 address)")
		}
	}
	var err error
	if a.port, err = penPort(portStr); err != nil {
		return penAddr{}, err
	}
	return a, nil
}

// penPort is a port number or a service name (pen's getservbyname).
func penPort(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("no port")
	}
	if strings.Trim(s, "0123456789") != "" {
		n, err := net.LookupPort("tcp", s)
		if err != nil {
			return 0, fmt.Errorf("port %q: not a number or a known service name", s)
		}
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q: not 1..65535", s)
	}
	return n, nil
}

// parsePenServer reads pen's server syntax ("[address]:port:maxc:hard:
// weight:prio" for IPv6, as pen's setaddress); a missing or empty port is
// the listen port.
func parsePenServer(s string, defaultPort int) (penServer, error) {
	ps := penServer{written: s}
	var host, rest string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return ps, fmt.Errorf("no closing bracket")
		}
		host, rest = s[1:end], s[end+1:]
		if rest != "" && rest[0] != ':' {
			return ps, fmt.Errorf("%q after the bracketed address", rest)
		}
		rest = strings.TrimPrefix(rest, ":")
	} else {
		if a, err := netip.ParseAddr(s); err == nil && a.Is6() {
			return ps, fmt.Errorf("an IPv6 address goes in brackets: [%s]:port", s)
		}
		host, rest, _ = strings.Cut(s, ":")
	}
	if host == "" {
		return ps, fmt.Errorf("no host")
	}
	if strings.Contains(host, "/") {
		return ps, fmt.Errorf("a Unix socket: quill's servers are TCP host:port")
	}
	var fields []string
	if rest != "" || strings.HasSuffix(s, ":") {
		fields = strings.Split(rest, ":")
	}
	if len(fields) > 5 {
		return ps, fmt.Errorf("more fields than host:port:maxconn:hard:weight:prio")
	}
	port := defaultPort
	if len(fields) > 0 && fields[0] != "" {
		var err error
		if port, err = penPort(fields[0]); err != nil {
			return ps, err
		}
	}
	ps.address = net.JoinHostPort(host, strconv.Itoa(port))
	names := []string{"maxconn", "hard", "weight", "prio"}
	vals := []*int{&ps.maxconn, &ps.hard, &ps.weight, &ps.prio}
	for i, f := range fields[min(1, len(fields)):] {
		if f == "" {
			continue
		}
		n, err := penInt(names[i], f, 0)
		if err != nil {
			return ps, err
		}
		*vals[i] = n
	}
	return ps, nil
}

// penInt reads a whole number that pen would have read with atoi, which
// takes "abc" for 0 without a word.
func penInt(what, v string, least int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s %q: not a number", what, v)
	}
	switch {
	case err != nil || n > penMaxNumber:
		return 0, fmt.Errorf("%s %q: must be at most %d", what, v, penMaxNumber)
	case n < least:
		return 0, fmt.Errorf("%s %q: must be at least %d", what, v, least)
	}
	return n, nil
}

func importPenCmd(args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		return errHelp
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("import-pen: %w", err)
	}
	out, err := importPen(args, cwd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "quill import-pen: %v\n", err)
		if len(args) == 0 {
			fmt.Fprint(os.Stderr, commandUsage("import-pen"))
		}
		return errReported
	}
	_, err = os.Stdout.WriteString(out)
	return err
}

// importPen translates a pen command line; relative file names are made
// absolute against cwd.
func importPen(args []string, cwd string) (string, error) {
	pl, err := parsePen(args)
	if err != nil {
		return "", err
	}
	st, err := pl.settings(cwd)
	if err != nil {
		return "", err
	}
	return st.toml(pl, shellJoin(args)), nil
}

// shellJoin quotes the arguments so that the echoed command line reads as
// it was typed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@%+=[]") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// absPath resolves a file name of the pen line against the directory the
// import ran in: quill resolves a relative path against the config file's
// directory, which is not where pen was started.
func absPath(cwd, p string, relative *bool) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	*relative = true
	return filepath.Join(cwd, p)
}
