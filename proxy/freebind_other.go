//go:build !linux

package proxy

import "syscall"

// freebind is Linux-only; elsewhere a VIP must be present to be bound.
func freebind(network, address string, c syscall.RawConn) error { return nil }
