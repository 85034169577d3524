//go:build !unix

package proxyproto

import (
	"errors"
	"syscall"
)

// peek needs MSG_PEEK, which only Unix sockets offer here.
func peek(rc syscall.RawConn, p []byte) (int, error) { return 0, errors.ErrUnsupported }
