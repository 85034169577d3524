package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"quill/config"
	"quill/proxy"
)

func runCmd(args []string) error {
	path, _, err := configArgs("run", args)
	if err != nil {
		return err
	}
	// Inherited sockets are taken before anything else can fail, so that
	// a process that exits early leaves no descriptor unexplained.
	h, err := takeHandover()
	if err != nil {
		return fmt.Errorf("binary upgrade: %w", err)
	}
	up, err := newUpgrader(os.Args[0], os.Args[1:])
	if err != nil {
		return err
	}
	cfg, err := load(path)
	if err != nil {
		printErrors(os.Stderr, err)
		return errReported
	}
	return serve(cfg, func() (*config.Config, error) { return load(path) }, nil, &runOptions{handover: h, upgrader: up})
}

// runOptions are what `quill run` adds to serve: a binary upgrade on USR2,
// and the sockets it was handed if an upgrade started it.
type runOptions struct {
	handover handover
	upgrader *upgrader
}

// serve runs the proxy for cfg until TERM or INT; reload reads the config
// again on HUP. ready, if set, is called once every listener is bound.
// With run set, USR2 upgrades the binary.
func serve(cfg *config.Config, reload func() (*config.Config, error), ready func(), run *runOptions) error {
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if run == nil {
		run = &runOptions{}
	}
	p, err := proxy.NewInheriting(cfg, log, run.handover.listeners)
	if err != nil {
		return err
	}
	if cfg.Global.PidFile != "" {
		if err := os.WriteFile(cfg.Global.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			p.Shutdown(context.Background())
			return fmt.Errorf("pid file: %w", err)
		}
		defer removePidFile(cfg.Global.PidFile)
	}
	doReload := func() error {
		next, err := reload()
		if err == nil {
			err = p.Reload(next)
		} else {
			p.RefuseReload(err)
		}
		if err != nil {
			log.Error("reload refused; the running config stays", zap.Error(err))
			return err
		}
		for _, w := range next.Warnings {
			log.Warn(w)
		}
		log.Info("config reloaded", zap.String("file", next.File))
		return nil
	}
	// Signals are caught before anything serves, so that an early HUP
	// reloads instead of killing the process.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	// The proxy owns the admin listener, which follows [admin] listen on
	// reload like any other listener.
	p.SetAdminHandler(proxy.NewAdmin(p, doReload))
	p.SetVersion(fmt.Sprintf("%s (commit %s, %s)", version, buildCommit(), runtime.Version()))
	p.Serve()
	if cfg.Global.Watch {
		if err := watchConfig(cfg.File, doReload, log); err != nil {
			p.Shutdown(context.Background())
			return fmt.Errorf("watch %s: %w", cfg.File, err)
		}
	}
	log.Info("quill started", zap.String("config", cfg.File), zap.Int("vips", len(cfg.VIPs)), zap.Int("pools", len(cfg.Pools)))
	if ready != nil {
		ready()
	}
	// systemd first, then the old process: the unit must know its new
	// main process before the old one exits.
	if err := notifyServing(); err != nil {
		log.Warn("systemd notification failed", zap.Error(err))
	}
	if err := run.handover.served(); err != nil {
		log.Error("binary upgrade: telling the old process failed; it stops when its upgrade times out", zap.Error(err))
	}
	var upgraded <-chan int
	if run.upgrader != nil {
		run.upgrader.log = log
		upgraded = run.upgrader.upgraded
	}

	for {
		var s os.Signal
		select {
		case s = <-sig:
		case pid := <-upgraded:
			log.Info("binary upgraded: the new process serves; this one finishes its requests in flight and exits",
				zap.Int("pid", pid), zap.Duration("timeout", p.Config().Global.ShutdownTimeout.Duration))
			stop(p.HandOff, p, log)
			return nil
		}
		switch s {
		case syscall.SIGUSR2:
			if run.upgrader == nil {
				log.Warn("USR2 ignored: binary upgrades are for quill run")
			} else {
				run.upgrader.start(p)
			}
		case syscall.SIGHUP:
			doReload()
		case syscall.SIGUSR1:
			if err := p.ReopenLogs(); err != nil {
				log.Error("access log reopen failed; lines are kept and the file is retried", zap.Error(err))
			} else {
				log.Info("access logs reopened")
			}
		default:
			log.Info("stopping: finishing requests in flight", zap.Stringer("signal", s), zap.Duration("timeout", p.Config().Global.ShutdownTimeout.Duration))
			if run.upgrader != nil {
				run.upgrader.abort()
			}
			stop(p.Shutdown, p, log)
			return nil
		}
	}
}

// stop stops the proxy gracefully with shutdown (Shutdown or HandOff):
// requests in flight finish, for at most global.shutdown_timeout.
func stop(shutdown func(context.Context) error, p *proxy.Proxy, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), p.Config().Global.ShutdownTimeout.Duration)
	err := shutdown(ctx)
	cancel()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("stopped with errors", zap.Error(err))
	} else if err != nil {
		log.Warn("stopped: shutdown timeout cut requests in flight")
	} else {
		log.Info("stopped")
	}
}

// removePidFile removes the pid file unless another process has written
// its pid there since: after a binary upgrade the file is the new one's.
func removePidFile(path string) {
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		os.Remove(path)
	}
}

func newLogger(c config.Log) (*zap.Logger, error) {
	level := zapLevel(c.Level)
	zc := zap.NewProductionConfig()
	if c.Format == config.Console {
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil
	zc.OutputPaths = []string{"stderr"}
	return zc.Build()
}
