//go:build !linux

package vrrp

import (
	"errors"

	"go.uber.org/zap"

	"quill/config"
)

var errLinuxOnly = errors.New("quill vrrp runs on Linux only")

// Sidecar needs Linux: raw sockets, netlink and packet sockets.
type Sidecar struct{}

// Start needs Linux.
func Start(instances []config.VRRPInstance, log *zap.Logger) (*Sidecar, error) {
	return nil, errLinuxOnly
}

// Reload needs Linux.
func (s *Sidecar) Reload(instances []config.VRRPInstance) (Changes, error) {
	return Changes{}, errLinuxOnly
}

// Stop needs Linux.
func (s *Sidecar) Stop() {}
