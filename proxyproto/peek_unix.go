//go:build unix

package proxyproto

import (
	"io"
	"syscall"
)

// peek waits until the socket has bytes to read and copies as many as fit
// in p without taking them from it.
func peek(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var serr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, _, serr = syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK)
			if serr != syscall.EINTR {
				return serr != syscall.EAGAIN
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case serr != nil:
		return 0, serr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
