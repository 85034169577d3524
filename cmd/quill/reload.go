package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
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
		b, err := os.ReadFile(cfg.Global.PidFile)
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("reload: pid file %s: %w", cfg.Global.PidFile, err)
		}
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return fmt.Errorf("reload: signal pid %d: %w", pid, err)
		}
		fmt.Fprintf(out, "reload signalled to pid %d; without an [admin] listener the result is only in the process log\n", pid)
	default:
		return fmt.Errorf("reload: the config has neither [admin] nor global.pid_file; send SIGHUP to quill yourself")
	}
	return nil
}
