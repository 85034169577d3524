package h1

import (
	"syscall"
	"unsafe"
)

// readSocket and writeSocket are read(2) and write(2) on a non-blocking
// socket, made without telling the scheduler that a system call began.
// syscall.Read and syscall.Write tell it, and when a call takes longer
// than the scheduler's tick (a loopback write runs the receiver's TCP
// processing and wakes it, some tens of microseconds on a busy virtual
// machine), it hands the goroutine's processor to another thread, which
// costs two thread switches and wake-ups more than the call itself. These
// calls never wait: a socket that has nothing to give or no room answers
// EAGAIN at once, and the engine then parks the goroutine in Go's poller.
func readSocket(fd int, p []byte) (int, syscall.Errno) { return sockCall(syscall.SYS_READ, fd, p) }

func writeSocket(fd int, p []byte) (int, syscall.Errno) { return sockCall(syscall.SYS_WRITE, fd, p) }

func sockCall(trap uintptr, fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// writeAll writes p with writeSocket until all of it went, the socket has
// no room (EAGAIN) or the write failed, and reports how much went.
func writeAll(fd int, p []byte) (int, syscall.Errno) {
	sent := 0
	for sent < len(p) {
		n, err := writeSocket(fd, p[sent:])
		switch err {
		case 0:
			sent += n
		case syscall.EINTR:
		default:
			return sent, err
		}
	}
	return sent, 0
}
