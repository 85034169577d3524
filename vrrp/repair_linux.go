package vrrp

import (
	"context"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
)

// repair puts back virtual addresses deleted from outside (`ip addr del`)
// while this router is master, and announces them again. The netlink
// notice arrives at once, so the address is back well within an advert
// interval, and nothing is polled while nobody touches the addresses.
func (in *instance) repair() {
	gone, err := in.set.missing()
	if err != nil {
		in.log.Error("could not list the interface's addresses", zap.Error(err))
		return
	}
	if len(gone) == 0 {
		return
	}
	names := make([]string, len(gone))
	for i, p := range gone {
		names[i] = p.String()
	}
	if err := in.set.add(); err != nil {
		in.log.Error("a virtual address was removed from outside while master and could not be put back", zap.Strings("addresses", names), zap.Error(err))
		return
	}
	in.log.Warn("a virtual address was removed from outside while master: put back", zap.Strings("addresses", names), zap.String("interface", in.cfg.Interface))
	in.announce()
}

// missing lists the virtual addresses this set should hold and the
// interface does not have now.
func (v *vipSet) missing() ([]netip.Prefix, error) {
	have, err := v.present()
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, p := range v.vips {
		if !slices.ContainsFunc(have, func(a netlink.Addr) bool { return addrOf(a) == p.Addr() }) {
			out = append(out, p)
		}
	}
	return out, nil
}

// watchRemovals calls removed when an address of the link may have been
// deleted: on every RTM_DELADDR for one of vips, and after each
// (re)subscription, since a deletion may have gone unseen meanwhile. It
// runs until ctx ends.
func watchRemovals(ctx context.Context, linkIndex int, vips []netip.Prefix, removed func(), onError func(error)) {
	ours := func(ip net.IP) bool {
		a, _ := netip.AddrFromSlice(ip)
		return slices.ContainsFunc(vips, func(p netip.Prefix) bool { return p.Addr() == a.Unmap() })
	}
	watch(ctx, func(ch chan netlink.AddrUpdate, done chan struct{}, cb func(error)) error {
		return netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{ErrorCallback: cb})
	}, removed, func(u netlink.AddrUpdate) {
		if !u.NewAddr && u.LinkIndex == linkIndex && ours(u.LinkAddress.IP) {
			removed()
		}
	}, onError)
}
