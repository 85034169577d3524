package vrrp

import (
	"reflect"

	"quill/config"
)

// Changes is what a reload does to the running instances, by name.
type Changes struct {
	// Unchanged instances keep running untouched: no transition, no gap
	// in their adverts.
	Unchanged []string
	// Changed instances restart: the old one resigns (a master sends
	// priority 0 and removes its addresses), the new one starts anew.
	Changed []string
	// Removed instances resign and remove their addresses.
	Removed []string
	// Added instances start.
	Added []string
}

// planReload compares the running instances with the file's, by name. An
// instance whose keys are all equal, listen aside (it only moves the
// metrics listener), is unchanged.
func planReload(running, next []config.VRRPInstance) Changes {
	var c Changes
	old := map[string]config.VRRPInstance{}
	for _, in := range running {
		old[in.Name] = in
	}
	seen := map[string]bool{}
	for _, in := range next {
		seen[in.Name] = true
		prev, ok := old[in.Name]
		switch {
		case !ok:
			c.Added = append(c.Added, in.Name)
		case sameInstance(prev, in):
			c.Unchanged = append(c.Unchanged, in.Name)
		default:
			c.Changed = append(c.Changed, in.Name)
		}
	}
	for _, in := range running {
		if !seen[in.Name] {
			c.Removed = append(c.Removed, in.Name)
		}
	}
	return c
}

// sameInstance tells whether two instances elect alike: every key but
// listen is equal (an empty list equals an absent one).
func sameInstance(a, b config.VRRPInstance) bool {
	preempt := func(p *bool) bool { return p == nil || *p }
	if preempt(a.Preempt) != preempt(b.Preempt) {
		return false
	}
	for _, in := range []*config.VRRPInstance{&a, &b} {
		in.Listen, in.Preempt = "", nil
		for _, list := range []*[]string{&in.Addresses, &in.TrackInterfaces, &in.UnicastPeers} {
			if len(*list) == 0 {
				*list = nil
			}
		}
	}
	return reflect.DeepEqual(a, b)
}
