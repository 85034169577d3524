//go:build !linux

package vrrp

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"quill/config"
)

// Run needs Linux: raw sockets, netlink and packet sockets.
func Run(ctx context.Context, instances []config.VRRPInstance, log *zap.Logger) error {
	return errors.New("quill vrrp runs on Linux only")
}
