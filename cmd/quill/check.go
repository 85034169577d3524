package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"quill/config"
	"quill/proxy"
	"quill/tlsterm"
)

// errReported means the command already printed why it failed.
var errReported = errors.New("reported")

func configFlag(fs *flag.FlagSet) *string {
	return fs.String("c", defaultConfig, "config file")
}

func checkCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	path := configFlag(fs)
	fs.Parse(args)
	cfg, err := load(*path)
	if err != nil {
		printErrors(os.Stderr, err)
		return errReported
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	summarize(out, cfg)
	return nil
}

// load reads and validates a config file, including what config alone
// cannot check: that certificate files load.
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
		sticky := "none"
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
