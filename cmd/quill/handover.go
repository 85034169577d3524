package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"quill/proxy"
)

// The environment of a process started by a binary upgrade names the
// descriptors it inherits: listenFDsEnv the listening sockets, as
// "FD=ADDRESS" pairs separated by commas (an address never holds a comma
// or an equals sign), readyFDEnv the pipe on which it tells the old
// process that it serves.
const (
	listenFDsEnv = "QUILL_LISTEN_FDS"
	readyFDEnv   = "QUILL_READY_FD"
)

// handedSocket is one inherited listening socket: its descriptor in the
// new process and the listen address it served.
type handedSocket struct {
	fd   int
	addr string
}

func encodeHandover(socks []handedSocket) string {
	parts := make([]string, len(socks))
	for i, s := range socks {
		parts[i] = strconv.Itoa(s.fd) + "=" + s.addr
	}
	return strings.Join(parts, ",")
}

// decodeHandover parses listenFDsEnv. Descriptors 0 to 2 are the standard
// streams, never a socket of quill's; a descriptor or an address named
// twice is refused, as is anything malformed: a process must not serve on
// a descriptor it does not understand.
func decodeHandover(v string) ([]handedSocket, error) {
	if v == "" {
		return nil, nil
	}
	var socks []handedSocket
	fds, addrs := map[int]bool{}, map[string]bool{}
	for _, part := range strings.Split(v, ",") {
		fdText, addr, ok := strings.Cut(part, "=")
		if !ok || addr == "" {
			return nil, fmt.Errorf("%s: %q is not FD=ADDRESS", listenFDsEnv, part)
		}
		fd, err := strconv.Atoi(fdText)
		if err != nil || fd < 3 {
			return nil, fmt.Errorf("%s: %q: descriptor %q is not a number from 3 up", listenFDsEnv, part, fdText)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", listenFDsEnv, part, err)
		}
		if fds[fd] {
			return nil, fmt.Errorf("%s: descriptor %d named twice", listenFDsEnv, fd)
		}
		if addrs[addr] {
			return nil, fmt.Errorf("%s: address %s named twice", listenFDsEnv, addr)
		}
		fds[fd], addrs[addr] = true, true
		socks = append(socks, handedSocket{fd: fd, addr: addr})
	}
	return socks, nil
}

// inheritListeners turns the descriptors named in v into listeners. Each
// must be a listening TCP socket bound to the port of its address (and to
// its IP, when the address names one); the first that is not fails the
// whole hand-over, and every descriptor named is closed in any case (the
// listeners hold duplicates).
func inheritListeners(v string) (proxy.Inherited, error) {
	socks, err := decodeHandover(v)
	if err != nil {
		return nil, err
	}
	inherited := proxy.Inherited{}
	var errs []error
	for _, s := range socks {
		f := os.NewFile(uintptr(s.fd), s.addr)
		ln, err := listenerOf(f, s.addr)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: descriptor %d (%s): %w", listenFDsEnv, s.fd, s.addr, err))
			continue
		}
		inherited[s.addr] = ln
	}
	if err := errors.Join(errs...); err != nil {
		for _, ln := range inherited {
			ln.Close()
		}
		return nil, err
	}
	return inherited, nil
}

func listenerOf(f *os.File, addr string) (*net.TCPListener, error) {
	accepting, err := syscall.GetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err != nil {
		return nil, err
	}
	if accepting == 0 {
		return nil, errors.New("not a listening socket")
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	tcp, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("a %s socket, not TCP", ln.Addr().Network())
	}
	if err := sameAddress(tcp.Addr().(*net.TCPAddr), addr); err != nil {
		tcp.Close()
		return nil, err
	}
	return tcp, nil
}

// sameAddress checks that a socket bound to got can be the listen address
// want: the same port, and the same IP when want names one.
func sameAddress(got *net.TCPAddr, want string) error {
	host, port, err := net.SplitHostPort(want)
	if err != nil {
		return err
	}
	if strconv.Itoa(got.Port) != port {
		return fmt.Errorf("bound to %s, not to port %s", got, port)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
		if g, ok := netip.AddrFromSlice(got.IP); !ok || g.Unmap() != ip.Unmap() {
			return fmt.Errorf("bound to %s, not to %s", got, host)
		}
	}
	return nil
}
