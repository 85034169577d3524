package vrrp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"quill/config"
)

// Announcements on becoming master: this many gratuitous ARPs (or
// unsolicited neighbour advertisements) per address at once, and as many
// again announceRepeat later, for switches and hosts that missed the first.
const (
	announceCount  = 3
	announceRepeat = 2 * time.Second
	// srcRefresh is how often the advert source address is looked up again.
	srcRefresh = 5 * time.Second
)

// instance is one virtual router at run time: the Machine plus sockets,
// netlink, trackers, notify and metrics. The Machine is only touched by
// the run goroutine.
type instance struct {
	cfg      config.VRRPInstance
	name     string
	kind     Kind
	interval time.Duration
	log      *zap.Logger
	met      *metrics
	ifi      *net.Interface
	link     netlink.Link
	v6       bool
	group    netip.Addr
	// unicast: adverts go to peers, and only theirs are heard.
	unicast  bool
	peers    []netip.Addr
	dests    []netip.Addr // where adverts go: the group, or the peers
	fixedSrc netip.Addr   // unicast_source, when configured
	vips     []netip.Prefix
	addrs    []netip.Addr // the virtual addresses as adverts carry them
	set      *vipSet
	conn     advertConn
	ann      *announcer
	m        *Machine
	track    *tracker
	notify   *notifier
	heard    chan Heard
	vipGone  chan struct{} // a virtual address may have been deleted from outside
	limit    limiter
	authType uint8
	authData [8]byte
	counter  uint64

	src atomic.Pointer[netip.Addr] // the advert source, refreshed in the background

	// The hot path, every advert interval, does not allocate: a busy
	// garbage collector would make an allocating goroutine assist it, and
	// an advert that waits for that can cost a spurious failover.
	sent, recvd prometheus.Counter
	advPrio     int        // the priority advBytes holds; -1: none
	advSrc      netip.Addr // the source advBytes was computed for
	advBytes    [][]byte   // per destination: the VRRPv3 checksum covers it
	carpOut     [carpLen]byte
	txMAC       *carpMAC   // run goroutine
	rxMAC       *carpMAC   // receive goroutine
	rxAdvert    Advert     // receive goroutine
	rxCARP      CARPAdvert // receive goroutine

	announceAt time.Time // when the repeat announcement is due; zero: none
	retryAt    time.Time // a take-over waits for a queued advert to be read
	retries    int

	mu       sync.Mutex
	status   Status
	lastPeer netip.Addr
}

// Status is what /status shows of an instance.
type Status struct {
	Name      string    `json:"name"`
	Interface string    `json:"interface"`
	Protocol  string    `json:"protocol"`
	VRID      int       `json:"vrid"`
	State     string    `json:"state"`
	Priority  int       `json:"priority"`
	Addresses []string  `json:"addresses"`
	Since     time.Time `json:"since"`
	Reason    string    `json:"reason"`
	LastPeer  string    `json:"last_peer,omitempty"`
}

func kindOf(c config.VRRPInstance) Kind {
	switch {
	case c.Protocol == "carp":
		return CARP
	case c.Version == 2:
		return VRRPv2
	}
	return VRRPv3
}

// interfaceError says that an interface does not exist, and which do.
func interfaceError(name string) error {
	var have []string
	if list, err := net.Interfaces(); err == nil {
		for _, i := range list {
			have = append(have, i.Name)
		}
	}
	return fmt.Errorf("interface %q does not exist (this host has: %s)", name, strings.Join(have, ", "))
}

// setup checks the instance against the host and opens what it needs;
// every error says what to fix.
func setup(c config.VRRPInstance, log *zap.Logger, met *metrics) (*instance, error) {
	in := &instance{
		cfg: c, name: c.Name, kind: kindOf(c), interval: c.AdvertInterval.Duration, met: met,
		log:   log.With(zap.String("instance", c.Name)),
		heard: make(chan Heard, 64), vipGone: make(chan struct{}, 1),
	}
	for _, a := range c.Addresses {
		p, err := config.ParsePrefix(a)
		if err != nil {
			return nil, err
		}
		in.vips = append(in.vips, p)
		in.addrs = append(in.addrs, p.Addr())
	}
	in.v6 = in.vips[0].Addr().Is6()
	in.group = GroupV4
	if in.v6 {
		in.group = GroupV6
	}
	for _, s := range c.UnicastPeers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("unicast_peers: %w", err)
		}
		in.peers = append(in.peers, ip.Unmap())
	}
	in.unicast = len(in.peers) > 0
	in.dests = []netip.Addr{in.group}
	if in.unicast {
		in.dests = in.peers
	}
	if c.UnicastSource != "" {
		ip, err := netip.ParseAddr(c.UnicastSource)
		if err != nil {
			return nil, fmt.Errorf("unicast_source: %w", err)
		}
		in.fixedSrc = ip.Unmap()
	}
	in.advBytes = make([][]byte, len(in.dests))
	if in.kind == VRRPv2 && c.Password != "" {
		in.authType, in.authData = AuthText, AuthPassword(c.Password)
	}
	var seed [8]byte
	rand.Read(seed[:])
	in.counter = binary.BigEndian.Uint64(seed[:])

	var err error
	if in.ifi, err = net.InterfaceByName(c.Interface); err != nil {
		return nil, interfaceError(c.Interface)
	}
	if in.link, err = netlink.LinkByName(c.Interface); err != nil {
		return nil, interfaceError(c.Interface)
	}
	in.track = newTracker(c.Interface, c.TrackInterfaces, c.TrackInterfaceWeight, c.TrackWeight)
	in.track.setLink(c.Interface, linkUp(in.link.Attrs()))
	for _, name := range c.TrackInterfaces {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("track_interfaces: %w", interfaceError(name))
		}
		in.track.setLink(name, linkUp(l.Attrs()))
	}
	src, err := in.lookupSource()
	if err != nil {
		return nil, err
	}
	in.src.Store(&src)
	if in.unicast {
		if err := checkPeersAreNotOwn(in.link, in.v6, in.peers); err != nil {
			return nil, err
		}
	}

	in.set = newVIPSet(in.link, in.vips)

	if in.v6 {
		in.conn, err = listen6(in.ifi, in.unicast)
	} else {
		in.conn, err = listen4(in.ifi, in.kind == CARP, in.unicast)
	}
	if err != nil {
		return nil, err
	}
	if in.ann, err = newAnnouncer(in.ifi); err != nil {
		in.conn.close()
		return nil, err
	}
	in.sent = met.sent.WithLabelValues(c.Name)
	in.recvd = met.received.WithLabelValues(c.Name)
	in.advPrio = -1
	if in.kind == CARP {
		in.txMAC, in.rxMAC = newCARPMAC(c.Password), newCARPMAC(c.Password)
	}
	in.m = NewMachine(Params{
		Kind: in.kind, Priority: uint8(c.Priority), Interval: in.interval, Preempt: *c.Preempt,
		Addr: src, Debounce: c.Debounce.Duration,
	}, in)
	in.notify = newNotifier(c.Notify, c.Name, in.log)
	in.status = Status{
		Name: c.Name, Interface: c.Interface, Protocol: in.kind.String(), VRID: c.VRID,
		State: Initialize.String(), Priority: c.Priority, Addresses: c.Addresses, Since: time.Now(),
	}
	return in, nil
}

// prepare readies the interface just before the instance runs (after the
// instance it replaces, if any, has removed its addresses): the address
// owner keeps the addresses there as its own; any other router removes
// copies an earlier run killed with SIGKILL left behind.
func (in *instance) prepare() error {
	in.met.setState(in.name, Initialize)
	in.met.priority.WithLabelValues(in.name).Set(float64(in.cfg.Priority))
	if in.cfg.Priority == 255 {
		// The address owner's addresses are its own: leave them, now and at exit.
		if n, _ := in.set.keepPresent(); n > 0 {
			in.log.Info("address owner: the virtual addresses already on the interface are the host's own and stay", zap.Int("count", n))
		}
		return nil
	}
	removed, err := in.set.removeStale()
	for _, a := range removed {
		in.log.Warn("removed a virtual address left on the interface by an earlier run", zap.String("address", a), zap.String("interface", in.cfg.Interface))
	}
	return err
}

// close releases what setup opened.
func (in *instance) close() {
	in.conn.close()
	in.ann.close()
	if err := in.set.remove(); err != nil {
		in.log.Error("could not remove virtual addresses", zap.Error(err))
	}
}

// run elects until ctx ends, then resigns, removes the addresses it added
// and runs the notify command with STOP.
func (in *instance) run(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			// A bug: do not leave the VIP behind while the process dies.
			in.set.remove()
			panic(r)
		}
	}()
	children, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.receive()
	}()
	go watchLinks(children, append([]string{in.cfg.Interface}, in.cfg.TrackInterfaces...), in.linkChanged, func(err error) {
		if in.limit.allow("netlink", time.Minute) {
			in.log.Error("watching links", zap.Error(err))
		}
	})
	go in.refreshSource(children)
	go watchRemovals(children, in.link.Attrs().Index, in.vips, func() {
		select {
		case in.vipGone <- struct{}{}:
		default:
		}
	}, func(err error) {
		if in.limit.allow("netlink addresses", time.Minute) {
			in.log.Error("watching addresses", zap.Error(err))
		}
	})
	if in.cfg.TrackURL != "" {
		every := max(in.interval, 100*time.Millisecond)
		target := in.cfg.TrackURL
		check := newURLCheck(target, every, in.track.setURL, func(ok bool) {
			v := 0.0
			if ok {
				v = 1
			}
			in.met.trackUp.WithLabelValues(in.name, target).Set(v)
		})
		go check.run(children)
	}
	in.log.Info("starting", zap.String("protocol", in.kind.String()), zap.Int("vrid", in.cfg.VRID), zap.Int("priority", in.cfg.Priority),
		zap.Duration("advert_interval", in.interval), zap.Strings("addresses", in.cfg.Addresses), zap.String("interface", in.cfg.Interface),
		zap.Stringer("source", in.src.Load()), zap.Stringers("to", in.dests), zap.Bool("preempt", *in.cfg.Preempt), zap.Duration("debounce", in.cfg.Debounce.Duration))
	now := time.Now()
	in.m.Observe(now, in.track.health())
	in.m.Start(now)

	timer := time.NewTimer(time.Hour)
	announce := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer announce.Stop()
	for {
		var wake, again <-chan time.Time
		next := in.m.Next()
		if !in.retryAt.IsZero() {
			next = in.retryAt
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			wake = timer.C
		}
		if !in.announceAt.IsZero() {
			announce.Reset(time.Until(in.announceAt))
			again = announce.C
		}
		select {
		case <-ctx.Done():
			in.m.Stop(time.Now())
			cancel()
			in.close()
			wg.Wait()
			in.notify.close(5 * time.Second)
			return
		case h := <-in.heard:
			in.m.Receive(time.Now(), h)
		case <-in.track.changed:
			in.m.Observe(time.Now(), in.track.health())
		case <-in.vipGone:
			if in.m.State() == Master {
				in.repair()
			}
		case <-wake:
			in.retryAt = time.Time{}
			now := time.Now()
			if in.m.DownDue(now) && in.advertWaiting() {
				continue
			}
			in.retries = 0
			in.m.Tick(now)
		case <-again:
			in.announceAt = time.Time{}
			if in.m.State() == Master {
				in.announce()
			}
		}
	}
}

func (in *instance) linkChanged(name string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	if name != in.cfg.Interface {
		in.met.trackUp.WithLabelValues(in.name, "interface "+name).Set(v)
	}
	in.track.setLink(name, up)
}

// source is the address adverts leave from.
func (in *instance) source() netip.Addr { return *in.src.Load() }

// lookupSource finds the advert source on the interface now.
func (in *instance) lookupSource() (netip.Addr, error) {
	if in.unicast {
		return unicastSource(in.link, in.v6, in.vips, in.fixedSrc)
	}
	return primaryAddr(in.link, in.v6, in.vips)
}

// refreshSource looks the source address up again now and then (a DHCP
// renewal may change it), away from the run goroutine: netlink allocates.
func (in *instance) refreshSource(ctx context.Context) {
	tick := time.NewTicker(srcRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if src, err := in.lookupSource(); err == nil && src != in.source() {
			in.log.Info("advert source address changed", zap.Stringer("from", in.src.Load()), zap.Stringer("to", src))
			in.src.Store(&src)
		}
	}
}

// advertWaiting is checked when a backup's master-down timer runs out: if
// an advert has arrived but was not handled yet (the process was starved
// of CPU), handle it first, or give the receiver a moment to read it,
// rather than take over from a master that is alive. It reports whether
// the take-over is put off.
func (in *instance) advertWaiting() bool {
	handled := false
	for {
		select {
		case h := <-in.heard:
			in.m.Receive(time.Now(), h)
			handled = true
			continue
		default:
		}
		break
	}
	if handled {
		return true // the machine decides again, with its timers re-armed
	}
	if in.retries < 50 && in.conn.pending() {
		in.retries++
		in.retryAt = time.Now().Add(2 * time.Millisecond)
		return true
	}
	return false
}

// Advertise sends one advert (Effects): to the group, or to each unicast
// peer.
func (in *instance) Advertise(prio uint8) {
	src := in.source()
	for i, dst := range in.dests {
		b, err := in.advert(prio, src, i)
		if err == nil {
			err = in.conn.send(b, src, dst)
		}
		if err != nil {
			in.met.sendErrors.WithLabelValues(in.name).Inc()
			if in.limit.allow("send", 10*time.Second) {
				in.log.Warn("could not send an advert", zap.Stringer("to", dst), zap.Error(err))
			}
			continue
		}
		in.sent.Inc()
	}
}

// advert encodes an advert to in.dests[dest], from a cache for VRRP (it
// only changes with the priority or the source) and into a kept buffer
// for CARP (its counter changes every time).
func (in *instance) advert(prio uint8, src netip.Addr, dest int) ([]byte, error) {
	if in.kind == CARP {
		base, skew := carpFields(prio, in.interval)
		c := CARPAdvert{VHID: uint8(in.cfg.VRID), AdvBase: base, AdvSkew: skew, Counter: in.counter}
		in.counter++
		c.Digest = in.txMAC.digest(c.VHID, in.addrs[0], c.Counter)
		c.marshalTo(in.carpOut[:])
		return in.carpOut[:], nil
	}
	if int(prio) == in.advPrio && src == in.advSrc {
		return in.advBytes[dest], nil
	}
	a := &Advert{Version: uint8(in.kind), VRID: uint8(in.cfg.VRID), Priority: prio, Interval: in.interval,
		AuthType: in.authType, AuthData: in.authData, Addresses: in.addrs}
	checksumSrc := src
	if in.v6 {
		checksumSrc = netip.Addr{} // the kernel fills the checksum
	}
	for i, dst := range in.dests {
		// A unicast VRRPv3 advert's checksum covers the peer's address,
		// as keepalived's does (1.3.6 and earlier put the group there).
		b, err := a.Marshal(checksumSrc, dst)
		if err != nil {
			in.advPrio = -1
			return nil, err
		}
		in.advBytes[i] = b
	}
	in.advPrio, in.advSrc = int(prio), src
	return in.advBytes[dest], nil
}

// Acquire adds the virtual addresses and announces them (Effects).
func (in *instance) Acquire() {
	if err := in.set.add(); err != nil {
		in.log.Error("could not add the virtual addresses", zap.Error(err))
	}
	in.announce()
	in.announceAt = time.Now().Add(announceRepeat)
}

func (in *instance) announce() {
	for range announceCount {
		for _, ip := range in.addrs {
			if err := in.ann.announce(ip); err != nil {
				in.met.sendErrors.WithLabelValues(in.name).Inc()
				if in.limit.allow("announce", 10*time.Second) {
					in.log.Warn("could not announce a virtual address", zap.Stringer("address", ip), zap.Error(err))
				}
			}
		}
	}
}

// Release removes the virtual addresses (Effects).
func (in *instance) Release() {
	in.announceAt = time.Time{}
	if err := in.set.remove(); err != nil {
		in.log.Error("could not remove the virtual addresses", zap.Error(err))
	}
}

// Transition logs, counts and notifies a change of state (Effects).
func (in *instance) Transition(from, to State, why string) {
	prio := in.m.Priority()
	fields := []zap.Field{zap.Stringer("from", from), zap.Stringer("to", to), zap.String("reason", why), zap.Uint8("priority", prio)}
	msg := fmt.Sprintf("%s -> %s", from, to)
	if to == Fault {
		in.log.Warn(msg, fields...)
	} else {
		in.log.Info(msg, fields...)
	}
	in.met.transitions.WithLabelValues(in.name, from.String(), to.String()).Inc()
	in.met.setState(in.name, to)
	in.mu.Lock()
	in.status.State, in.status.Since, in.status.Reason = to.String(), time.Now(), why
	in.mu.Unlock()
	state := to.String()
	if to == Initialize {
		state = "STOP"
	}
	in.notify.notify(state, prio)
}

// PriorityChanged logs the advertised priority (Effects).
func (in *instance) PriorityChanged(from, to uint8, why string) {
	fields := []zap.Field{zap.Uint8("from", from), zap.Uint8("to", to), zap.String("reason", why)}
	if to < from {
		in.log.Warn("priority lowered", fields...)
	} else {
		in.log.Info("priority restored", fields...)
	}
	in.met.priority.WithLabelValues(in.name).Set(float64(to))
	in.mu.Lock()
	in.status.Priority = int(to)
	in.mu.Unlock()
}

// Status is a snapshot for /status.
func (in *instance) Status() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	st := in.status
	if in.lastPeer.IsValid() {
		st.LastPeer = in.lastPeer.String()
	}
	return st
}
