package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"quill/config"
	"quill/vrrp"
)

// vrrpCmd runs the VRRP/CARP sidecar for the [[vrrp.instances]] of the
// config until TERM or INT; then masters resign (priority 0) and the
// virtual addresses quill added are removed. HUP reloads the instances.
func vrrpCmd(args []string) error {
	path, _, err := configArgs("vrrp", args)
	if err != nil {
		return err
	}
	// Only the schema is checked: the sidecar does not need the proxy's
	// certificates or logs, and must not refuse to move the address
	// because of them.
	cfg, err := config.Load(path)
	if err != nil {
		printErrors(os.Stderr, err)
		return errReported
	}
	if len(cfg.VRRP.Instances) == 0 {
		return fmt.Errorf("%s: no [[vrrp.instances]] to run", cfg.File)
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	vlog := log.Named("vrrp")
	sidecar, err := vrrp.Start(cfg.VRRP.Instances, vlog)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			sidecar.Stop()
			return nil
		case <-hup:
			reloadVRRP(path, sidecar, vlog)
		}
	}
}

// reloadVRRP reads the file again and applies its [[vrrp.instances]]; a
// file with errors, or instances that cannot be set up on this host,
// change nothing. The [log] section is read at start only.
func reloadVRRP(path string, sidecar *vrrp.Sidecar, log *zap.Logger) {
	cfg, err := config.Load(path)
	if err != nil {
		var lines strings.Builder
		printErrors(&lines, err)
		log.Error("reload refused: the config has errors; nothing changed",
			zap.String("file", path), zap.Strings("errors", strings.Split(strings.TrimSpace(lines.String()), "\n")))
		return
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	ch, err := sidecar.Reload(cfg.VRRP.Instances)
	if err != nil {
		log.Error("reload refused; nothing changed", zap.String("file", path), zap.Error(err))
		return
	}
	log.Info("reloaded", zap.String("file", path), zap.Strings("unchanged", ch.Unchanged), zap.Strings("restarted", ch.Changed),
		zap.Strings("removed", ch.Removed), zap.Strings("added", ch.Added))
}
