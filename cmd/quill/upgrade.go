package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"quill/proxy"
)

// upgradeTimeout bounds how long a new binary may take to serve after
// USR2 before it is killed and the running process carries on.
const upgradeTimeout = time.Minute

// upgrader starts a new quill on USR2 (nginx's binary upgrade): the binary
// now at the path this one was started from, with the same arguments, and
// the listening sockets handed over. Only when the new process serves
// does this one stop; until then a failure of the new one (a config it
// refuses, a crash, a missing binary, no answer in time) leaves this one
// serving, and a later USR2 may try again.
type upgrader struct {
	exe     string // absolute path, resolved at start
	args    []string
	log     *zap.Logger
	timeout time.Duration // upgradeTimeout

	busy     atomic.Bool
	upgraded chan int // the pid of the new process once it serves
	stop     chan struct{}
	stopOnce sync.Once
}

// newUpgrader resolves the binary's path now: the file at that path is
// what an upgrade starts. /proc/self/exe would name the inode this process
// runs, which a package upgrade has replaced by then.
func newUpgrader(arg0 string, args []string) (*upgrader, error) {
	exe, err := resolveExecutable(arg0)
	if err != nil {
		return nil, fmt.Errorf("binary upgrade: %w", err)
	}
	return &upgrader{exe: exe, args: args, timeout: upgradeTimeout, upgraded: make(chan int, 1), stop: make(chan struct{})}, nil
}

func resolveExecutable(arg0 string) (string, error) {
	if !strings.Contains(arg0, "/") {
		p, err := exec.LookPath(arg0)
		if err != nil {
			return "", err
		}
		arg0 = p
	}
	return filepath.Abs(arg0)
}

// start begins an upgrade unless one is under way.
func (u *upgrader) start(p *proxy.Proxy) {
	if !u.busy.CompareAndSwap(false, true) {
		u.log.Warn("USR2 refused: a binary upgrade is already under way")
		return
	}
	u.log.Info("binary upgrade: starting the new process", zap.String("binary", u.exe))
	go func() {
		pid, err := u.run(p)
		if err != nil {
			u.log.Error("binary upgrade failed; this process keeps serving", zap.Error(err))
			u.busy.Store(false)
			return
		}
		u.upgraded <- pid
	}()
}

// abort kills a new process that does not serve yet (this one is
// stopping).
func (u *upgrader) abort() { u.stopOnce.Do(func() { close(u.stop) }) }

// run starts the new process and waits until it serves, or fails.
func (u *upgrader) run(p *proxy.Proxy) (int, error) {
	files, err := p.ListenerFiles()
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, lf := range files {
			lf.File.Close()
		}
	}()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer readyR.Close()

	// ExtraFiles[i] is descriptor 3+i in the new process.
	var extra []*os.File
	var socks []handedSocket
	for i, lf := range files {
		extra = append(extra, lf.File)
		socks = append(socks, handedSocket{fd: 3 + i, addr: lf.Addr})
	}
	extra = append(extra, readyW)
	cmd := exec.Command(u.exe, u.args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = extra
	cmd.Env = append(environWithout(os.Environ(), listenFDsEnv, readyFDEnv),
		listenFDsEnv+"="+encodeHandover(socks), readyFDEnv+"="+strconv.Itoa(3+len(files)))
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", u.exe, err)
	}
	pid := cmd.Process.Pid
	u.log.Info("binary upgrade: new process started; waiting until it serves", zap.Int("pid", pid))

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan error, 1)
	go func() {
		b := make([]byte, 16)
		n, err := readyR.Read(b)
		if n > 0 {
			err = nil
		} else if errors.Is(err, io.EOF) {
			err = errors.New("closed its readiness pipe without a word")
		}
		ready <- err
	}()
	timeout := time.NewTimer(u.timeout)
	defer timeout.Stop()
	select {
	case err := <-ready:
		if err == nil {
			return pid, nil
		}
		// The pipe closes when the process exits: say how it ended.
		select {
		case werr := <-exited:
			return 0, fmt.Errorf("new process %d exited before it served: %v", pid, werr)
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
			return 0, fmt.Errorf("new process %d: %w; killed", pid, err)
		}
	case err := <-exited:
		return 0, fmt.Errorf("new process %d exited before it served: %v", pid, err)
	case <-timeout.C:
		cmd.Process.Kill()
		<-exited
		return 0, fmt.Errorf("new process %d did not serve within %s; killed", pid, u.timeout)
	case <-u.stop:
		cmd.Process.Kill()
		<-exited
		return 0, fmt.Errorf("new process %d killed: this process is stopping", pid)
	}
}

func environWithout(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// handover is what a process started by an upgrade inherits: the
// listening sockets and the pipe to say that it serves. Both are nil in a
// process started otherwise.
type handover struct {
	listeners proxy.Inherited
	ready     *os.File
}

// takeHandover reads (and removes, so that nothing this process starts
// inherits it) the upgrade's environment.
func takeHandover() (handover, error) {
	fds, readyFD := os.Getenv(listenFDsEnv), os.Getenv(readyFDEnv)
	os.Unsetenv(listenFDsEnv)
	os.Unsetenv(readyFDEnv)
	var h handover
	if readyFD != "" {
		fd, err := strconv.Atoi(readyFD)
		if err != nil || fd < 3 {
			return h, fmt.Errorf("%s: %q is not a descriptor from 3 up", readyFDEnv, readyFD)
		}
		syscall.CloseOnExec(fd)
		h.ready = os.NewFile(uintptr(fd), "upgrade readiness pipe")
	}
	ls, err := inheritListeners(fds)
	if err != nil {
		return h, err
	}
	h.listeners = ls
	return h, nil
}

// served tells the old process, if any, that this one serves.
func (h handover) served() error {
	if h.ready == nil {
		return nil
	}
	defer h.ready.Close()
	_, err := h.ready.Write([]byte("ready\n"))
	return err
}
