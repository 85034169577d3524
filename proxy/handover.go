package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"quill/config"
)

// Listening sockets pass from one quill process to the next when the
// binary is upgraded: the running process hands a duplicate of each of its
// sockets to the new one, which serves on those its config still listens
// on. The kernel socket is never closed, so no connection to it is
// refused, and the two processes accept from the one queue until the old
// one stops.

// Inherited are listening sockets handed over by the process before this
// one, by the listen address they were opened for.
type Inherited map[string]*net.TCPListener

// NewInheriting is New for a process that inherited listening sockets: an
// address of cfg whose socket is in inherited takes it instead of binding
// anew. The sockets cfg does not listen on are closed, whether New
// succeeds or not.
func NewInheriting(cfg *config.Config, log *zap.Logger, inherited Inherited) (*Proxy, error) {
	p := newProxy(cfg, log)
	p.inherited = inherited
	err := p.apply(cfg)
	for addr, ln := range p.inherited {
		log.Info("inherited socket not in the config; closed", zap.String("listen", addr))
		ln.Close()
	}
	p.inherited = nil
	if err != nil {
		return nil, err
	}
	return p, nil
}

// takeInherited removes and returns the inherited socket of addr, if any.
// It runs with p.mu held.
func (p *Proxy) takeInherited(addr string) *net.TCPListener {
	ln, ok := p.inherited[addr]
	if !ok {
		return nil
	}
	delete(p.inherited, addr)
	return ln
}

// ListenerFile is a duplicate descriptor of a listening socket and the
// listen address it serves.
type ListenerFile struct {
	Addr string
	File *os.File
}

// ListenerFiles duplicates the descriptor of every listening socket in use
// (the VIPs' and the admin listener's), sorted by address, for a new
// process to inherit. The caller closes the files.
func (p *Proxy) ListenerFiles() ([]ListenerFile, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil, fmt.Errorf("proxy is stopping")
	}
	var files []ListenerFile
	for addr, s := range p.sockets {
		f, err := dupFile(s.tcp)
		if err != nil {
			for _, lf := range files {
				lf.File.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		files = append(files, ListenerFile{Addr: addr, File: f})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Addr < files[j].Addr })
	return files, nil
}

// HandOff stops the proxy once a new process serves on its sockets (a
// binary upgrade): as Shutdown does, but the admin listener stops
// accepting at once too, so that from now on the new process alone
// answers there (a reload, /healthz) while this one only finishes its
// requests in flight, until ctx ends.
func (p *Proxy) HandOff(ctx context.Context) error {
	p.mu.Lock()
	admin := p.admin
	p.mu.Unlock()
	if admin != nil {
		wait := time.Second
		if d, ok := ctx.Deadline(); ok {
			wait = time.Until(d)
		}
		go admin.stop(wait)
		admin.sock.waitClosed()
	}
	return p.Shutdown(ctx)
}

// dupFile duplicates the descriptor of ln into a file whose Fd leaves the
// socket non-blocking. TCPListener.File's would not: exec.Cmd calls Fd,
// which would put the socket, shared with this process's listener, in
// blocking mode, and an accept blocked in the kernel is not woken when the
// listener closes.
func dupFile(ln *net.TCPListener) (*os.File, error) {
	raw, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int
	var dupErr error
	err = raw.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), ln.Addr().String()), nil
}
