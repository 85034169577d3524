package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"quill/config"
)

// TestActiveActiveExamples: the files of configs/active-active/ are what
// the README's "Active-active" says they are. With N hosts there are N
// VIPs; host i is the master of VIP i (the highest priority of its
// instance) and every host holds a distinct priority for every VIP, so the
// order in which survivors take a dead host's VIP is fixed, and the first
// of them is the next host, so that each VIP goes to another; a master whose
// proxy fails drops below every healthy backup; every host listens on
// every VIP; and the files differ in nothing but the VRRP priorities, so
// the secret (cookie tokens) and the pools (rendezvous hashing) are the
// same on every host.
func TestActiveActiveExamples(t *testing.T) {
	for _, tt := range []struct {
		dir   string
		hosts int
	}{
		{"two", 2},
		{"three", 3},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			var cfgs []*config.Config
			for i := 1; i <= tt.hosts; i++ {
				path := filepath.Join("../../configs/active-active", tt.dir, fmt.Sprintf("lb%d.toml", i))
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := config.Parse(path, string(src))
				if err != nil {
					t.Fatal(err)
				}
				cfgs = append(cfgs, cfg)
			}
			if extra, _ := filepath.Glob(filepath.Join("../../configs/active-active", tt.dir, fmt.Sprintf("lb%d.toml", tt.hosts+1))); len(extra) > 0 {
				t.Fatalf("%s has more than %d hosts", tt.dir, tt.hosts)
			}
			if problems := activeActiveProblems(cfgs); len(problems) > 0 {
				t.Errorf("%s:\n%s", tt.dir, strings.Join(problems, "\n"))
			}
		})
	}
}

// TestActiveActiveProblemsFindsBreaches: each rule of activeActiveProblems
// catches a file that breaks it.
func TestActiveActiveProblemsFindsBreaches(t *testing.T) {
	read := func(t *testing.T, edit func(host int, src string) string) []*config.Config {
		t.Helper()
		var cfgs []*config.Config
		for i := 1; i <= 3; i++ {
			path := fmt.Sprintf("../../configs/active-active/three/lb%d.toml", i)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(path, edit(i, string(src)))
			if err != nil {
				t.Fatal(err)
			}
			cfgs = append(cfgs, cfg)
		}
		return cfgs
	}
	tests := []struct {
		name string
		edit func(host int, src string) string
		want string
	}{
		{"unchanged", func(_ int, src string) string { return src }, ""},
		{"another secret on one host", func(host int, src string) string {
			if host == 2 {
				return strings.Replace(src, `secret = "change me`, `secret = "other`, 1)
			}
			return src
		}, "differs from lb1's beyond the VRRP priorities"},
		{"another server on one host", func(host int, src string) string {
			if host == 3 {
				return strings.Replace(src, "192.168.0.2:8180", "192.168.0.9:8180", 1)
			}
			return src
		}, "differs from lb1's beyond the VRRP priorities"},
		{"one VIP not listened on", func(_ int, src string) string {
			return strings.Replace(src, `, "192.168.0.5:443"`, "", 1)
		}, `vip "www-https" does not listen on 192.168.0.5`},
		{"a host master of another's VIP", func(host int, src string) string {
			if host == 1 {
				// lb1 outbids lb2 on the second VIP.
				return strings.Replace(src, "priority = 50 ", "priority = 200", 1)
			}
			return src
		}, "www2 (192.168.0.4/24): the master is lb1, want lb2"},
		{"one survivor first for two VIPs", func(host int, src string) string {
			// lb3 outbids lb2 for lb1's VIP, and is first for lb2's already.
			if host == 3 {
				return strings.Replace(src, "priority = 50 ", "priority = 120", 1)
			}
			return src
		}, "www1 (192.168.0.3/24): the first backup is lb3, want lb2"},
		{"two hosts with one priority", func(host int, src string) string {
			if host == 3 {
				return strings.Replace(src, "priority = 50 ", "priority = 100", 1)
			}
			return src
		}, "two hosts share priority 100"},
		{"a failing master stays above a backup", func(_ int, src string) string {
			return strings.ReplaceAll(src, "track_weight = 120", "track_weight = 90 ")
		}, "a failing master (150-90) does not drop below the lowest backup (50)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(activeActiveProblems(read(t, tt.edit)), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("problems:\n%s\nwant one with %q", got, tt.want)
			}
		})
	}
}

// activeActiveProblems checks that cfgs[i] is host lb(i+1) of an
// active-active set and says what breaks the rules.
func activeActiveProblems(cfgs []*config.Config) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	n := len(cfgs)
	for i, cfg := range cfgs {
		name := fmt.Sprintf("lb%d", i+1)
		if cfg.Global.Secret == "" {
			bad("%s: no [global] secret", name)
		}
		if len(cfg.VRRP.Instances) != n {
			bad("%s: %d VRRP instances, want one per host (%d)", name, len(cfg.VRRP.Instances), n)
			return out
		}
		if !reflect.DeepEqual(withoutPriorities(cfg), withoutPriorities(cfgs[0])) {
			bad("%s: the file differs from lb1's beyond the VRRP priorities", name)
		}
		for _, in := range cfg.VRRP.Instances {
			for _, a := range in.Addresses {
				addr := netip.MustParsePrefix(a).Addr().String()
				for vname, v := range cfg.VIPs {
					if !slices.ContainsFunc(v.Listen, func(l string) bool { return strings.HasPrefix(l, addr+":") }) {
						bad("%s: vip %q does not listen on %s, the address of instance %s", name, vname, addr, in.Name)
					}
				}
			}
		}
	}
	for k := range n {
		in := cfgs[0].VRRP.Instances[k]
		master, prios := -1, map[int]bool{}
		lowest := 256
		for i, cfg := range cfgs {
			p := cfg.VRRP.Instances[k].Priority
			if prios[p] {
				bad("%s (%s): two hosts share priority %d", in.Name, in.Addresses[0], p)
			}
			prios[p] = true
			if master < 0 || p > cfgs[master].VRRP.Instances[k].Priority {
				master = i
			}
			lowest = min(lowest, p)
		}
		if master != k {
			bad("%s (%s): the master is lb%d, want lb%d", in.Name, in.Addresses[0], master+1, k+1)
		}
		// The first backup of VIP k is the next host, so that each host's
		// VIP goes to a different survivor.
		next, second := (k+1)%n, -1
		for i, cfg := range cfgs {
			if i != master && (second < 0 || cfg.VRRP.Instances[k].Priority > cfgs[second].VRRP.Instances[k].Priority) {
				second = i
			}
		}
		if second != next {
			bad("%s (%s): the first backup is lb%d, want lb%d", in.Name, in.Addresses[0], second+1, next+1)
		}
		top := cfgs[master].VRRP.Instances[k]
		if top.TrackURL == "" || top.Priority-top.TrackWeight >= lowest {
			bad("%s: a failing master (%d-%d) does not drop below the lowest backup (%d)", in.Name, top.Priority, top.TrackWeight, lowest)
		}
	}
	return out
}

// withoutPriorities is cfg with its VRRP priorities and file identity
// cleared, to compare what must be the same on every host.
func withoutPriorities(cfg *config.Config) config.Config {
	c := *cfg
	c.File, c.Hash = "", ""
	c.VRRP.Instances = slices.Clone(cfg.VRRP.Instances)
	for i := range c.VRRP.Instances {
		c.VRRP.Instances[i].Priority = 0
	}
	return c
}
