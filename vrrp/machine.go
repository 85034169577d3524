package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// Kind is the protocol an instance speaks.
type Kind int

// The protocols.
const (
	VRRPv2 Kind = iota + 2 // RFC 3768, IPv4, whole-second intervals
	VRRPv3                 // RFC 5798, IPv4 or IPv6
	CARP                   // as ucarp speaks it
)

func (k Kind) String() string {
	switch k {
	case VRRPv2:
		return "VRRPv2"
	case VRRPv3:
		return "VRRPv3"
	case CARP:
		return "CARP"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// State is a router's state. Initialize, Backup and Master are the RFC's;
// Fault is keepalived's: the router neither advertises nor holds the
// addresses until its interface (or a tracked one) is back.
type State int

// The states.
const (
	Initialize State = iota
	Backup
	Master
	Fault
)

func (s State) String() string {
	switch s {
	case Initialize:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Params configures a Machine.
type Params struct {
	Kind     Kind
	Priority uint8         // the configured priority, 1..255; 255 owns the addresses (VRRP)
	Interval time.Duration // this router's advertisement interval
	Preempt  bool          // a better backup takes over from a worse master
	Addr     netip.Addr    // this router's primary address: it breaks ties
	// Debounce is how long a health signal must stay good before a
	// lowered priority is restored or a FAULT is left.
	Debounce time.Duration
}

// Heard is an advert from a peer, as the election sees it.
type Heard struct {
	From netip.Addr
	// Priority is the VRRP priority, 0 when the master resigns. A CARP
	// advert maps to 255 - advskew, and to 0 when it resigns (advbase
	// and advskew 255).
	Priority uint8
	// Interval is the advertisement interval the peer announces; for
	// CARP, advbase.
	Interval time.Duration
}

// Health is what the trackers see now, before debouncing.
type Health struct {
	Fault   string // why the router must not serve ("" when it may)
	Penalty int    // how much to take off the priority
	Why     string // what the penalty is for
}

// Effects is what a Machine does to the world. The runtime sends packets
// and changes addresses; tests record the calls.
type Effects interface {
	// Advertise sends one advert with this priority; 0 resigns.
	Advertise(priority uint8)
	// Acquire adds the virtual addresses and announces them.
	Acquire()
	// Release removes the virtual addresses.
	Release()
	// Transition reports a change of state and why.
	Transition(from, to State, reason string)
	// PriorityChanged reports a change of the advertised priority and why.
	PriorityChanged(from, to uint8, reason string)
}

// Machine is the election of one virtual router: RFC 5798 section 6.4
// (with RFC 3768's timers for version 2, and ucarp's rules for CARP), plus
// health tracking. It does no I/O and reads no clock: every input carries
// the time, Next says when Tick is due, and effects go through Effects.
// It is not safe for concurrent use.
type Machine struct {
	p     Params
	fx    Effects
	state State

	masterInterval time.Duration // VRRPv3: learned from the master's adverts
	adverAt        time.Time     // Master: the next advert
	downAt         time.Time     // Backup: the master is deemed down
	downWhy        downReason    // why downAt was set, for the log
	lower          Heard         // Backup: a worse master we are preempting,
	preempting     bool          // when this is set

	fault   hold // 0/1
	penalty hold
	health  Health // last observed
}

// NewMachine returns a machine in Initialize; Start begins the election.
func NewMachine(p Params, fx Effects) *Machine {
	return &Machine{p: p, fx: fx, masterInterval: p.Interval}
}

// State is the current state.
func (m *Machine) State() State { return m.state }

// Priority is the priority in effect: the configured one less the
// debounced health penalty, never below 1.
func (m *Machine) Priority() uint8 {
	p := int(m.p.Priority) - m.penalty.eff
	if p < 1 {
		p = 1
	}
	return uint8(p)
}

// MasterDown is how long a backup waits for an advert before it takes
// over: 3 intervals plus the skew time.
func (m *Machine) MasterDown() time.Duration {
	switch m.p.Kind {
	case CARP:
		return 3*m.p.Interval + m.carpSkew(m.Priority())
	case VRRPv3:
		return 3*m.masterInterval + m.skew()
	default:
		return 3*m.p.Interval + m.skew()
	}
}

// skew is the VRRP skew time: a better backup waits less.
func (m *Machine) skew() time.Duration {
	prio := time.Duration(256 - int(m.Priority()))
	if m.p.Kind == VRRPv3 {
		return prio * m.masterInterval / 256
	}
	return prio * time.Second / 256
}

func (m *Machine) carpSkew(prio uint8) time.Duration {
	return time.Duration(255-int(prio)) * time.Second / 256
}

// carpPeriod is how often a CARP router advertises: advbase + advskew/256.
func (m *Machine) carpPeriod(interval time.Duration, prio uint8) time.Duration {
	return interval + m.carpSkew(prio)
}

// Next is when Tick must run; zero when nothing is scheduled.
func (m *Machine) Next() time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	switch m.state {
	case Master:
		earliest(m.adverAt)
	case Backup:
		earliest(m.downAt)
	}
	earliest(m.fault.due(m.p.Debounce))
	earliest(m.penalty.due(m.p.Debounce))
	return next
}

// Start leaves Initialize: the address owner becomes Master at once, any
// other router Backup, waiting one master-down interval for a master.
func (m *Machine) Start(now time.Time) {
	if m.state != Initialize {
		return
	}
	m.enter(now, "start-up")
}

// enter leaves Initialize or Fault.
func (m *Machine) enter(now time.Time, why string) {
	switch {
	case m.fault.eff > 0:
		m.setState(Fault, fmt.Sprintf("%s: %s", why, m.health.Fault))
	case m.p.Kind != CARP && m.Priority() == 255:
		m.becomeMaster(now, why+": address owner (priority 255)")
	default:
		m.masterInterval = m.p.Interval
		m.armDown(now, m.MasterDown(), downReason{kind: noMaster, wait: m.MasterDown()})
		m.preempting = false
		m.setState(Backup, fmt.Sprintf("%s: waiting %s for a master", why, m.MasterDown().Round(time.Millisecond)))
	}
}

// Stop resigns: a master sends priority 0 (CARP: advbase and advskew 255)
// so that the backup takes over after its skew time, then removes the
// addresses.
func (m *Machine) Stop(now time.Time) {
	if m.state == Master {
		m.fx.Advertise(0)
		m.fx.Release()
	}
	m.adverAt, m.downAt = time.Time{}, time.Time{}
	if m.state != Initialize {
		m.setState(Initialize, "stopping")
	}
}

// Tick runs the timers due at now.
func (m *Machine) Tick(now time.Time) {
	m.settle(now)
	switch m.state {
	case Backup:
		if !m.downAt.IsZero() && !now.Before(m.downAt) {
			why := m.downWhy.String()
			if m.preempting {
				why = fmt.Sprintf("preempting %s (priority %d < %d)", m.lower.From, m.lower.Priority, m.Priority())
			}
			m.becomeMaster(now, why)
		}
	case Master:
		if !m.adverAt.IsZero() && !now.Before(m.adverAt) {
			m.fx.Advertise(m.Priority())
			m.adverAt = m.adverAt.Add(m.p.Interval)
			if !m.adverAt.After(now) {
				// Late (a stalled process): keep the cadence from now.
				m.adverAt = now.Add(m.p.Interval)
			}
		}
	}
}

// Observe takes the trackers' current view and debounces it.
func (m *Machine) Observe(now time.Time, h Health) {
	m.health = h
	fault := 0
	if h.Fault != "" {
		fault = 1
	}
	oldPrio := m.Priority()
	fc := m.fault.observe(now, fault, m.p.Debounce)
	pc := m.penalty.observe(now, h.Penalty, m.p.Debounce)
	m.apply(now, fc, pc, oldPrio)
}

// settle applies debounced recoveries that have come due.
func (m *Machine) settle(now time.Time) {
	oldPrio := m.Priority()
	fc := m.fault.settle(now, m.p.Debounce)
	pc := m.penalty.settle(now, m.p.Debounce)
	m.apply(now, fc, pc, oldPrio)
}

func (m *Machine) apply(now time.Time, faultChanged, penaltyChanged bool, oldPrio uint8) {
	if penaltyChanged && m.Priority() != oldPrio {
		why := m.health.Why
		if m.Priority() > oldPrio {
			why = fmt.Sprintf("health good for %s", m.p.Debounce)
		}
		m.fx.PriorityChanged(oldPrio, m.Priority(), why)
		if m.state == Master {
			// Tell the backups now rather than at the next advert.
			m.fx.Advertise(m.Priority())
			m.adverAt = now.Add(m.p.Interval)
		}
	}
	if !faultChanged {
		return
	}
	switch {
	case m.fault.eff > 0 && (m.state == Master || m.state == Backup):
		if m.state == Master {
			m.fx.Advertise(0) // lost if the link is down; harmless
			m.fx.Release()
		}
		m.adverAt, m.downAt = time.Time{}, time.Time{}
		m.setState(Fault, m.health.Fault)
	case m.fault.eff == 0 && m.state == Fault:
		m.enter(now, fmt.Sprintf("fault cleared for %s", m.p.Debounce))
	}
}

// Receive handles a valid advert for this router's ID from a peer.
func (m *Machine) Receive(now time.Time, h Heard) {
	if m.p.Kind == CARP {
		m.receiveCARP(now, h)
		return
	}
	prio := m.Priority()
	switch m.state {
	case Backup:
		switch {
		case h.Priority == 0:
			m.armDown(now, m.skew(), downReason{kind: resigned, from: h.From})
			m.preempting = false
		case !m.p.Preempt || h.Priority >= prio:
			m.learn(h)
			m.armDown(now, m.MasterDown(), downReason{kind: silent, from: h.From, wait: m.MasterDown()})
			m.preempting = false
		default:
			// A worse master: let the down timer run out and preempt it.
			m.lower, m.preempting = h, true
		}
	case Master:
		switch {
		case h.Priority == 0:
			// A backup that was master resigns: keep it from
			// deeming us down by advertising now.
			m.fx.Advertise(prio)
			m.adverAt = now.Add(m.p.Interval)
		case h.Priority > prio || (h.Priority == prio && h.From.Compare(m.p.Addr) > 0):
			m.fx.Release()
			m.learn(h)
			m.adverAt = time.Time{}
			m.armDown(now, m.MasterDown(), downReason{kind: silent, from: h.From, wait: m.MasterDown()})
			m.preempting = false
			m.setState(Backup, fmt.Sprintf("advert from %s with priority %d, ours %d", h.From, h.Priority, prio))
		}
	}
}

// learn adopts the master's interval (VRRPv3 Master_Adver_Interval).
func (m *Machine) learn(h Heard) {
	if m.p.Kind == VRRPv3 && h.Interval > 0 {
		m.masterInterval = h.Interval
	}
}

// receiveCARP follows ucarp: the router advertising most often wins; a
// backup that would preempt, or whose master announces a period beyond
// its dead interval (a resigning master), takes over at once.
func (m *Machine) receiveCARP(now time.Time, h Heard) {
	ours := m.carpPeriod(m.p.Interval, m.Priority())
	theirs := m.carpPeriod(h.Interval, h.Priority)
	switch m.state {
	case Backup:
		switch {
		case m.p.Preempt && ours < theirs:
			m.becomeMaster(now, fmt.Sprintf("preempting %s (period %s > ours %s)", h.From, theirs, ours))
		case 3*m.p.Interval+m.carpSkew(m.Priority()) < theirs:
			m.becomeMaster(now, fmt.Sprintf("master %s resigned (period %s)", h.From, theirs.Round(time.Millisecond)))
		default:
			m.armDown(now, m.MasterDown(), downReason{kind: silent, from: h.From, wait: m.MasterDown()})
		}
	case Master:
		if ours > theirs || (ours == theirs && carpLess(h.From, m.p.Addr)) {
			m.fx.Release()
			m.adverAt = time.Time{}
			m.armDown(now, m.MasterDown(), downReason{kind: silent, from: h.From, wait: m.MasterDown()})
			m.setState(Backup, fmt.Sprintf("advert from %s with period %s, ours %s", h.From, theirs, ours))
		}
	}
}

// carpLess breaks a CARP tie the way ucarp does on a little-endian host:
// it compares the addresses as the 32-bit integers their network-order
// bytes make in memory, which is not numeric order.
func carpLess(a, b netip.Addr) bool {
	if !a.Is4() || !b.Is4() {
		return a.Less(b)
	}
	x, y := a.As4(), b.As4()
	le := func(v [4]byte) uint32 { return uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16 | uint32(v[3])<<24 }
	return le(x) < le(y)
}

// downReason says why a backup's down timer was set. It is kept as data
// and formatted only when the timer runs out: a backup re-arms the timer
// on every advert and must not allocate there (see instance_linux.go).
type downReason struct {
	kind int
	from netip.Addr
	wait time.Duration
}

const (
	noMaster = iota // at start-up or after FAULT
	silent          // the master stopped advertising
	resigned        // the master sent priority 0
)

func (r downReason) String() string {
	switch r.kind {
	case resigned:
		return fmt.Sprintf("master %s resigned (priority 0)", r.from)
	case silent:
		return fmt.Sprintf("no advert from master %s for %s", r.from, r.wait.Round(time.Millisecond))
	}
	return fmt.Sprintf("no master advertised within %s", r.wait.Round(time.Millisecond))
}

func (m *Machine) armDown(now time.Time, d time.Duration, why downReason) {
	m.downAt, m.downWhy = now.Add(d), why
}

// DownDue tells whether a backup's master-down timer has run out at now.
func (m *Machine) DownDue(now time.Time) bool {
	return m.state == Backup && !m.downAt.IsZero() && !now.Before(m.downAt)
}

func (m *Machine) becomeMaster(now time.Time, why string) {
	m.fx.Advertise(m.Priority())
	m.fx.Acquire()
	m.adverAt = now.Add(m.p.Interval)
	m.downAt, m.preempting = time.Time{}, false
	m.setState(Master, why)
}

func (m *Machine) setState(s State, why string) {
	from := m.state
	m.state = s
	m.fx.Transition(from, s, why)
}

// carpFields is what a CARP router with this priority and interval puts
// in its advert: advskew = 255 - priority, and advbase = advskew = 255
// to resign (priority 0).
func carpFields(prio uint8, interval time.Duration) (advbase, advskew uint8) {
	if prio == 0 {
		return 255, 255
	}
	return uint8(interval / time.Second), 255 - prio
}

// heardCARP is the election's view of a CARP advert.
func heardCARP(from netip.Addr, c *CARPAdvert) Heard {
	return Heard{From: from, Priority: 255 - c.AdvSkew, Interval: time.Duration(c.AdvBase) * time.Second}
}
