package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addrList lists a link's addresses, retrying a dump the kernel
// interrupted (the address list changed while it was read).
func addrList(link netlink.Link, family int) ([]netlink.Addr, error) {
	var err error
	for range 5 {
		var list []netlink.Addr
		list, err = netlink.AddrList(link, family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return list, err
		}
	}
	return nil, err
}

func addrOf(a netlink.Addr) netip.Addr {
	ip, _ := netip.AddrFromSlice(a.IP)
	return ip.Unmap()
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD // usable at once: no duplicate address detection
	}
	return a
}

// vipSet is an instance's virtual addresses on its interface. It removes
// only what it added: an address owner's own addresses, there before quill
// started, stay.
type vipSet struct {
	link  netlink.Link
	vips  []netip.Prefix
	added map[netip.Prefix]bool
	keep  map[netip.Addr]bool // the owner's own addresses
}

func newVIPSet(link netlink.Link, vips []netip.Prefix) *vipSet {
	return &vipSet{link: link, vips: vips, added: map[netip.Prefix]bool{}, keep: map[netip.Addr]bool{}}
}

// keepPresent marks the virtual addresses on the interface now as the
// host's own, never to be removed; it returns how many there are.
func (v *vipSet) keepPresent() (int, error) {
	have, err := v.present()
	for _, a := range have {
		v.keep[addrOf(a)] = true
	}
	return len(have), err
}

func (v *vipSet) family() int {
	if v.vips[0].Addr().Is6() {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

// present lists which virtual addresses the interface has now.
func (v *vipSet) present() ([]netlink.Addr, error) {
	list, err := addrList(v.link, v.family())
	if err != nil {
		return nil, err
	}
	var out []netlink.Addr
	for _, a := range list {
		for _, p := range v.vips {
			if addrOf(a) == p.Addr() {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// removeStale deletes copies of the virtual addresses that an earlier run
// killed with SIGKILL left behind, before the election starts. It returns
// what it removed.
func (v *vipSet) removeStale() ([]string, error) {
	stale, err := v.present()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, a := range stale {
		if err := netlink.AddrDel(v.link, &a); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return removed, permissionHint(err, fmt.Sprintf("remove stale %s from %s", a.IPNet, v.link.Attrs().Name))
		}
		removed = append(removed, a.IPNet.String())
	}
	return removed, nil
}

// add puts every virtual address on the interface (idempotent).
func (v *vipSet) add() error {
	var errs []error
	for _, p := range v.vips {
		if err := netlink.AddrReplace(v.link, nlAddr(p)); err != nil {
			errs = append(errs, permissionHint(err, fmt.Sprintf("add %s to %s", p, v.link.Attrs().Name)))
			continue
		}
		if !v.keep[p.Addr()] {
			v.added[p] = true
		}
	}
	return errors.Join(errs...)
}

// remove deletes the addresses this process added.
func (v *vipSet) remove() error {
	var errs []error
	for _, p := range v.vips {
		if !v.added[p] {
			continue
		}
		err := netlink.AddrDel(v.link, nlAddr(p))
		if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENODEV) {
			errs = append(errs, permissionHint(err, fmt.Sprintf("remove %s from %s", p, v.link.Attrs().Name)))
			continue
		}
		delete(v.added, p)
	}
	return errors.Join(errs...)
}

// primaryAddr is the address adverts leave from: the interface's first
// IPv4 address that is not secondary and not virtual, or its IPv6
// link-local address.
func primaryAddr(link netlink.Link, v6 bool, vips []netip.Prefix) (netip.Addr, error) {
	family := netlink.FAMILY_V4
	if v6 {
		family = netlink.FAMILY_V6
	}
	list, err := addrList(link, family)
	if err != nil {
		return netip.Addr{}, err
	}
	virtual := func(ip netip.Addr) bool {
		for _, p := range vips {
			if p.Addr() == ip {
				return true
			}
		}
		return false
	}
	for _, a := range list {
		ip := addrOf(a)
		if v6 && !ip.IsLinkLocalUnicast() || !v6 && a.Flags&unix.IFA_F_SECONDARY != 0 || virtual(ip) {
			continue
		}
		return ip, nil
	}
	if v6 {
		return netip.Addr{}, fmt.Errorf("interface %s has no IPv6 link-local address to advertise from", link.Attrs().Name)
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address to advertise from (VRRP needs one besides the virtual addresses)", link.Attrs().Name)
}

// linkUp tells whether a link is administratively up and running.
func linkUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING != 0
}

// watchLinks reports the state of the named links now and on every
// change, until ctx ends.
func watchLinks(ctx context.Context, names []string, report func(name string, up bool), onError func(error)) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	watch(ctx, func(ch chan netlink.LinkUpdate, done chan struct{}, cb func(error)) error {
		return netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{ListExisting: true, ErrorCallback: cb})
	}, nil, func(u netlink.LinkUpdate) {
		if a := u.Attrs(); want[a.Name] {
			report(a.Name, u.Header.Type != unix.RTM_DELLINK && linkUp(a))
		}
	}, onError)
}

// watch keeps a netlink subscription until ctx ends, giving each update to
// handle, and subscribes again a second after it fails; started runs after
// each subscription, for what may have gone unseen meanwhile.
func watch[U any](ctx context.Context, subscribe func(ch chan U, done chan struct{}, cb func(error)) error,
	started func(), handle func(U), onError func(error)) {
	for ctx.Err() == nil {
		ch := make(chan U, 64)
		done := make(chan struct{})
		failed := make(chan struct{}, 1)
		var last atomic.Pointer[error] // the library's last error, for when it stops
		err := subscribe(ch, done, func(err error) {
			last.Store(&err)
			if subscriptionBroken(err) {
				select {
				case failed <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			onError(err)
		} else {
			if started != nil {
				started()
			}
			func() {
				defer close(done)
				for {
					select {
					case <-ctx.Done():
						return
					case <-failed:
						onError(fmt.Errorf("subscribing again: %v", lastError(&last)))
						return
					case u, ok := <-ch:
						if !ok {
							if ctx.Err() == nil {
								onError(fmt.Errorf("updates stopped: %v", lastError(&last)))
							}
							return
						}
						handle(u)
					}
				}
			}()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// unicastSource is the source of unicast adverts: the configured
// unicast_source, which must be one of the interface's addresses, or by
// default the interface's primary address: for IPv4 as multicast uses,
// for IPv6 its first global address (peers elsewhere on the network
// cannot answer a link-local one), else its link-local address.
func unicastSource(link netlink.Link, v6 bool, vips []netip.Prefix, configured netip.Addr) (netip.Addr, error) {
	family := netlink.FAMILY_V4
	if v6 {
		family = netlink.FAMILY_V6
	}
	list, err := addrList(link, family)
	if err != nil {
		return netip.Addr{}, err
	}
	if configured.IsValid() {
		var have []string
		for _, a := range list {
			if addrOf(a) == configured {
				return configured, nil
			}
			have = append(have, addrOf(a).String())
		}
		return netip.Addr{}, fmt.Errorf("unicast_source %s is not an address of interface %s (it has: %s)", configured, link.Attrs().Name, strings.Join(have, ", "))
	}
	if v6 {
		for _, a := range list {
			ip := addrOf(a)
			if ip.IsGlobalUnicast() && !ip.IsLinkLocalUnicast() && !slices.ContainsFunc(vips, func(p netip.Prefix) bool { return p.Addr() == ip }) {
				return ip, nil
			}
		}
	}
	return primaryAddr(link, v6, vips)
}

// checkPeersAreNotOwn refuses a unicast peer that is an address of this
// host's interface: the adverts would go to this router itself.
func checkPeersAreNotOwn(link netlink.Link, v6 bool, peers []netip.Addr) error {
	family := netlink.FAMILY_V4
	if v6 {
		family = netlink.FAMILY_V6
	}
	list, err := addrList(link, family)
	if err != nil {
		return err
	}
	for _, a := range list {
		if ip := addrOf(a); slices.Contains(peers, ip) {
			return fmt.Errorf("unicast peer %s is an address of this host's interface %s: list the other routers' addresses", ip, link.Attrs().Name)
		}
	}
	return nil
}

// subscriptionBroken tells which of the errors the netlink library passes
// to a subscription's callback call for subscribing again. It goes on
// after most (a message from an unexpected sender, which a sidecar of
// several instances sees at start, or one it cannot parse) and closes the
// channel when it cannot receive at all, which the watch loops see; an
// interrupted dump leaves the list of existing links or addresses
// incomplete, so the loop starts over to get it whole.
func subscriptionBroken(err error) bool { return errors.Is(err, netlink.ErrDumpInterrupted) }

func lastError(p *atomic.Pointer[error]) error {
	if e := p.Load(); e != nil {
		return *e
	}
	return nil
}
