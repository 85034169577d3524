package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"quill/config"
)

// reloadCmd validates the file, then asks the running proxy to apply it:
// through the admin API when there is one (so it can say whether the proxy
// took it), else with SIGHUP to the pid in pid_file.
func reloadCmd(args []string, out io.Writer) error {
	path, _, err := configArgs("reload", args)
	if err != nil {
		return err
	}
	cfg, err := load(path)
	if err != nil {
		printErrors(os.Stderr, err)
		fmt.Fprintln(os.Stderr, "reload: not sent; the running config stays")
		return errReported
	}
	switch {
	case cfg.Admin != nil:
		b, err := callAdmin(cfg, http.MethodPost, "/api/reload", time.Minute)
		if errors.Is(err, syscall.ECONNREFUSED) && cfg.Global.PidFile != "" {
			// Nothing listens on the file's admin address: the file may
			// move [admin] listen, which only the reload itself opens.
			return reloadMovingAdmin(cfg, out)
		}
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		var res struct {
			Applied bool   `json:"applied"`
			Error   string `json:"error"`
		}
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("reload: admin answered %q", b)
		}
		if !res.Applied {
			fmt.Fprintf(os.Stderr, "reload rejected; the running config stays:\n%s\n", res.Error)
			return errReported
		}
		fmt.Fprintf(out, "reload applied: %s\n", cfg.File)
	case cfg.Global.PidFile != "":
		pid, err := signalReload(cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "reload signalled to pid %d; without an [admin] listener the result is only in the process log\n", pid)
	default:
		return fmt.Errorf("reload: the config has neither [admin] nor global.pid_file; send SIGHUP to quill yourself")
	}
	return nil
}

// signalReload sends SIGHUP to the pid in global.pid_file.
func signalReload(cfg *config.Config) (int, error) {
	b, err := os.ReadFile(cfg.Global.PidFile)
	if err != nil {
		return 0, fmt.Errorf("reload: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("reload: pid file %s: %w", cfg.Global.PidFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return 0, fmt.Errorf("reload: signal pid %d: %w", pid, err)
	}
	return pid, nil
}

// reloadMovingAdmin reloads a file whose admin address nothing listens on
// yet: SIGHUP, then the new address must answer, which it does only once
// the running proxy has applied the file. When it does not within
// moveWait, the reload was refused (the process log says why).
func reloadMovingAdmin(cfg *config.Config, out io.Writer) error {
	pid, err := signalReload(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(moveWait)
	for time.Now().Before(deadline) {
		if _, err := callAdmin(cfg, http.MethodGet, "/healthz", time.Second); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			fmt.Fprintf(out, "reload applied: %s (admin now on %s)\n", cfg.File, cfg.Admin.Listen)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "reload signalled to pid %d, but the new admin address %s does not answer after %s: "+
		"the reload was refused and the running config stays; the process log says why\n", pid, cfg.Admin.Listen, moveWait)
	return errReported
}

// moveWait is how long reloadMovingAdmin waits for the new admin address.
const moveWait = 10 * time.Second
