package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"quill/config"
	"quill/vrrp"
)

// vrrpCmd runs the VRRP/CARP sidecar for the [[vrrp.instances]] of the
// config until TERM or INT; then masters resign (priority 0) and the
// virtual addresses quill added are removed.
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
	go func() {
		for range hup {
			log.Warn("SIGHUP: quill vrrp does not reload; restart it to apply a changed [[vrrp.instances]]")
		}
	}()
	return vrrp.Run(ctx, cfg.VRRP.Instances, log.Named("vrrp"))
}
