package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"quill/config"
	"quill/proxy"
	"quill/tlsterm"
)

// errReported means the command already printed why it failed.
var errReported = errors.New("reported")

func checkCmd(args []string, out, errw io.Writer) error {
	path, _, err := configArgs("check", args)
	if err != nil {
		return err
	}
	cfg, err := load(path)
	if err != nil {
		printErrors(errw, err)
		return errReported
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(errw, "warning:", w)
	}
	summarize(out, cfg)
	return nil
}

// load reads and validates a config file, and checks what config alone
// cannot: that certificate files load, and that the access logs and the
// pid file can be written. run, check and reload (by signal, API or file
// watch) all read the file through it, so check refuses what run would.
func load(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range sortedKeys(cfg.VIPs) {
		if cfg.VIPs[name].TLS == nil {
			continue
		}
		o, err := proxy.TLSOptions(cfg, name)
		if err != nil {
			errs = append(errs, cfg.Errorf("vips."+name+".tls", "vip %q: %v", name, err))
			continue
		}
		warnings, err := tlsterm.Check(o, time.Now())
		if err != nil {
			errs = append(errs, cfg.Errorf("vips."+name+".tls.certificates", "vip %q: %v", name, err))
		}
		for _, w := range warnings {
			cfg.Warnings = append(cfg.Warnings, cfg.Errorf("vips."+name+".tls.certificates", "vip %q: %s", name, w).Error())
		}
	}
	if err := cfg.CheckFiles(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// printErrors writes one line per error of a joined error.
func printErrors(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			printErrors(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}

// summarize prints what a config serves, on one screen.
func summarize(w io.Writer, c *config.Config) {
	fmt.Fprintf(w, "%s: ok\n", c.File)
	for _, name := range sortedKeys(c.VIPs) {
		v := c.VIPs[name]
		kind := "http"
		if v.TLS != nil {
			kind = "https"
		}
		fmt.Fprintf(w, "vip %s (%s) on %s\n", name, kind, strings.Join(v.Listen, ", "))
		if v.RedirectHTTPS {
			fmt.Fprintf(w, "  redirect to https\n")
		}
		for _, r := range v.Routes {
			host := r.Host
			if host == "" {
				host = "*"
			}
			fmt.Fprintf(w, "  route %s%s -> pool %s\n", host, r.Path, r.Pool)
		}
	}
	for _, name := range sortedKeys(c.Pools) {
		p := c.Pools[name]
		sticky := config.StickyNone
		if p.Sticky != nil {
			sticky = p.Sticky.Mode
		}
		fmt.Fprintf(w, "pool %s: balance %s, sticky %s\n", name, p.Balance, sticky)
		for _, s := range p.Servers {
			extra := ""
			if s.Backup {
				extra = ", backup"
			}
			fmt.Fprintf(w, "  server %s (weight %d%s)\n", s.Address, s.Weight, extra)
		}
	}
	for _, in := range c.VRRP.Instances {
		fmt.Fprintf(w, "vrrp %s: %s v%d vrid %d on %s, priority %d, %s\n", in.Name, in.Protocol, in.Version, in.VRID, in.Interface, in.Priority, strings.Join(in.Addresses, ", "))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
