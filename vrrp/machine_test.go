package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// lan is a fake segment with a fake clock: machines advertise into it,
// it delivers each advert to every other node after a fixed delay, and it
// runs the machines' timers in time order. Nothing sleeps.
type lan struct {
	t      *testing.T
	t0     time.Time
	now    time.Time
	delay  time.Duration
	nodes  []*node
	flight []packet
	trans  []transition
}

type packet struct {
	at   time.Time
	from *node
	prio uint8
}

type transition struct {
	at       time.Duration // since t0
	node     string
	from, to State
	why      string
}

func (tr transition) String() string {
	return fmt.Sprintf("%s %s %s->%s (%s)", tr.at, tr.node, tr.from, tr.to, tr.why)
}

// node is one router on the fake segment; it is the machine's Effects.
type node struct {
	name     string
	lan      *lan
	p        Params
	m        *Machine
	up       bool // link up: adverts go out and come in
	vip      bool // holds the virtual addresses
	sent     []uint8
	sentAt   []time.Duration
	prioLogs []string
}

func newLAN(t *testing.T) *lan {
	t0 := time.Unix(1_700_000_000, 0)
	return &lan{t: t, t0: t0, now: t0, delay: time.Millisecond}
}

func (l *lan) add(name, addr string, p Params) *node {
	p.Addr = netip.MustParseAddr(addr)
	n := &node{name: name, lan: l, p: p, up: true}
	n.m = NewMachine(p, n)
	l.nodes = append(l.nodes, n)
	return n
}

func (n *node) Advertise(prio uint8) {
	n.sent = append(n.sent, prio)
	n.sentAt = append(n.sentAt, n.lan.elapsed())
	if n.up {
		n.lan.flight = append(n.lan.flight, packet{at: n.lan.now.Add(n.lan.delay), from: n, prio: prio})
	}
}
func (n *node) Acquire() { n.vip = true }
func (n *node) Release() { n.vip = false }
func (n *node) Transition(from, to State, why string) {
	n.lan.trans = append(n.lan.trans, transition{n.lan.now.Sub(n.lan.t0), n.name, from, to, why})
}
func (n *node) PriorityChanged(from, to uint8, why string) {
	n.prioLogs = append(n.prioLogs, fmt.Sprintf("%s %d->%d %s", n.lan.elapsed(), from, to, why))
}

// heard is what a receiver's election sees of an advert from n.
func (n *node) heard(prio uint8) Heard {
	if n.p.Kind == CARP {
		base, skew := carpFields(prio, n.p.Interval)
		return heardCARP(n.p.Addr, &CARPAdvert{AdvBase: base, AdvSkew: skew})
	}
	return Heard{From: n.p.Addr, Priority: prio, Interval: n.p.Interval}
}

func (l *lan) elapsed() time.Duration { return l.now.Sub(l.t0) }

// at runs the segment until d after t0.
func (l *lan) at(d time.Duration) { l.runTo(l.t0.Add(d)) }

// after runs the segment for d more.
func (l *lan) after(d time.Duration) { l.runTo(l.now.Add(d)) }

func (l *lan) runTo(end time.Time) {
	for range 1_000_000 {
		next := end
		for _, p := range l.flight {
			if p.at.Before(next) {
				next = p.at
			}
		}
		for _, n := range l.nodes {
			if t := n.m.Next(); !t.IsZero() && t.Before(next) {
				next = t
			}
		}
		if next.Before(l.now) {
			next = l.now
		}
		l.now = next
		var due, later []packet
		for _, p := range l.flight {
			if p.at.After(l.now) {
				later = append(later, p)
			} else {
				due = append(due, p)
			}
		}
		l.flight = later
		for _, p := range due {
			for _, n := range l.nodes {
				if n != p.from && n.up {
					n.m.Receive(l.now, p.from.heard(p.prio))
				}
			}
		}
		ticked := false
		for _, n := range l.nodes {
			if t := n.m.Next(); !t.IsZero() && !t.After(l.now) {
				n.m.Tick(l.now)
				ticked = true
			}
		}
		if !ticked && len(due) == 0 && !l.now.Before(end) {
			return
		}
	}
	l.t.Fatal("the fake segment did not settle")
}

// masters lists the nodes holding the addresses.
func (l *lan) masters() string {
	var s []string
	for _, n := range l.nodes {
		if n.vip {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// became is when name last entered state to, since t0; -1 if never.
func (l *lan) became(name string, to State) time.Duration {
	d := time.Duration(-1)
	for _, tr := range l.trans {
		if tr.node == name && tr.to == to {
			d = tr.at
		}
	}
	return d
}

// moves counts how often the addresses changed hands after t.
func (l *lan) moves(after time.Duration) int {
	n := 0
	for _, tr := range l.trans {
		if tr.at > after && tr.to == Master {
			n++
		}
	}
	return n
}

func (l *lan) dump() string {
	var b strings.Builder
	for _, tr := range l.trans {
		fmt.Fprintln(&b, tr)
	}
	return b.String()
}

func v3(prio uint8, interval time.Duration) Params {
	return Params{Kind: VRRPv3, Priority: prio, Interval: interval, Preempt: true, Debounce: 10 * interval}
}

// frac is n/256 of d, the unit of the RFCs' skew time.
func frac(n int, d time.Duration) time.Duration { return time.Duration(n) * d / 256 }

func TestMasterDownInterval(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		want time.Duration
	}{
		{"v2 priority 100", Params{Kind: VRRPv2, Priority: 100, Interval: time.Second}, 3*time.Second + frac(156, time.Second)},
		{"v2 priority 254", Params{Kind: VRRPv2, Priority: 254, Interval: 3 * time.Second}, 9*time.Second + frac(2, time.Second)},
		{"v3 priority 100, 1s", v3(100, time.Second), 3*time.Second + frac(156, time.Second)},
		{"v3 priority 150, 100ms", v3(150, 100*time.Millisecond), 300*time.Millisecond + frac(106, 100*time.Millisecond)},
		{"carp advskew 100", Params{Kind: CARP, Priority: 155, Interval: time.Second}, 3*time.Second + frac(100, time.Second)},
		{"carp advskew 0", Params{Kind: CARP, Priority: 255, Interval: 2 * time.Second}, 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewMachine(tt.p, nil).MasterDown(); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestElection(t *testing.T) {
	l := newLAN(t)
	l.add("a", "10.0.0.1", v3(150, time.Second))
	l.add("b", "10.0.0.2", v3(100, time.Second))
	for _, n := range l.nodes {
		n.m.Start(l.now)
	}
	l.at(10 * time.Second)
	if got := l.masters(); got != "a" {
		t.Fatalf("masters %q\n%s", got, l.dump())
	}
	// Both start as backups; the better one times out first (its skew
	// is shorter) and the other hears it before its own timer runs out.
	if got, want := l.became("a", Master), 3*time.Second+frac(106, time.Second); got != want {
		t.Fatalf("a master after %s, want %s", got, want)
	}
	if l.became("b", Master) != -1 {
		t.Fatalf("b was master\n%s", l.dump())
	}
}

func TestOwnerTakesOverAtOnce(t *testing.T) {
	l := newLAN(t)
	l.add("a", "10.0.0.1", v3(255, time.Second))
	b := l.add("b", "10.0.0.2", v3(100, time.Second))
	b.m.Start(l.now)
	l.at(5 * time.Second)
	if l.masters() != "b" {
		t.Fatalf("masters %q", l.masters())
	}
	l.nodes[0].m.Start(l.now)
	l.after(10 * time.Millisecond)
	if l.masters() != "a" || l.became("a", Master) != 5*time.Second {
		t.Fatalf("masters %q\n%s", l.masters(), l.dump())
	}
}

func TestPreemption(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("preempt=%v", preempt), func(t *testing.T) {
			l := newLAN(t)
			pa := v3(150, time.Second)
			pa.Preempt = preempt
			a := l.add("a", "10.0.0.1", pa)
			b := l.add("b", "10.0.0.2", v3(100, time.Second))
			b.m.Start(l.now)
			l.at(10 * time.Second)
			if l.masters() != "b" {
				t.Fatalf("masters %q", l.masters())
			}
			a.m.Start(l.now)
			l.at(30 * time.Second)
			if !preempt {
				if l.masters() != "b" || l.became("a", Master) != -1 {
					t.Fatalf("a preempted with preempt off\n%s", l.dump())
				}
				return
			}
			if l.masters() != "a" {
				t.Fatalf("masters %q\n%s", l.masters(), l.dump())
			}
			// a ignores b's worse adverts and takes over when its
			// master-down timer runs out.
			if got, want := l.became("a", Master), 10*time.Second+a.m.MasterDown(); got != want {
				t.Fatalf("a master at %s, want %s", got, want)
			}
			if got := l.became("b", Backup); got != l.became("a", Master)+l.delay {
				t.Fatalf("b backup at %s\n%s", got, l.dump())
			}
			if !strings.Contains(l.dump(), "preempting 10.0.0.2 (priority 100 < 150)") {
				t.Fatalf("no preemption reason\n%s", l.dump())
			}
		})
	}
}

// A master that stops sends priority 0: the backup takes over after its
// skew time instead of the whole master-down interval.
func TestResignPriorityZero(t *testing.T) {
	tests := []struct {
		name string
		a, b Params
		want time.Duration // from the stop to the backup's take-over
	}{
		{"v3 1s", v3(150, time.Second), v3(100, time.Second), frac(156, time.Second)},
		{"v3 100ms", v3(150, 100*time.Millisecond), v3(100, 100*time.Millisecond), frac(156, 100*time.Millisecond)},
		{"v2 1s", Params{Kind: VRRPv2, Priority: 150, Interval: time.Second, Preempt: true}, Params{Kind: VRRPv2, Priority: 100, Interval: time.Second, Preempt: true}, frac(156, time.Second)},
		// CARP has no priority 0: advbase = advskew = 255 says "I will time out", and the backup takes over at once.
		{"carp", Params{Kind: CARP, Priority: 255, Interval: time.Second, Preempt: true}, Params{Kind: CARP, Priority: 155, Interval: time.Second, Preempt: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLAN(t)
			a := l.add("a", "10.0.0.1", tt.a)
			l.add("b", "10.0.0.2", tt.b)
			for _, n := range l.nodes {
				n.m.Start(l.now)
			}
			l.at(10*time.Second + 123*time.Millisecond)
			if l.masters() != "a" {
				t.Fatalf("masters %q\n%s", l.masters(), l.dump())
			}
			stop := l.elapsed()
			a.m.Stop(l.now)
			if a.vip || a.sent[len(a.sent)-1] != 0 || a.m.State() != Initialize {
				t.Fatalf("a still holds the address or did not resign: %v", a.sent)
			}
			l.after(10 * time.Second)
			if got := l.became("b", Master) - stop; got != l.delay+tt.want {
				t.Fatalf("b took over %s after the stop, want %s\n%s", got, l.delay+tt.want, l.dump())
			}
			if l.masters() != "b" {
				t.Fatalf("masters %q", l.masters())
			}
		})
	}
}

func TestStopInBackupIsSilent(t *testing.T) {
	l := newLAN(t)
	b := l.add("b", "10.0.0.2", v3(100, time.Second))
	b.m.Start(l.now)
	l.after(time.Second)
	b.m.Stop(l.now)
	if len(b.sent) != 0 || b.vip {
		t.Fatalf("a stopping backup sent %v", b.sent)
	}
}

// Without a master, the better of two backups wins on its shorter skew.
func TestSkew(t *testing.T) {
	l := newLAN(t)
	l.add("low", "10.0.0.9", v3(100, time.Second))
	l.add("high", "10.0.0.1", v3(200, time.Second))
	for _, n := range l.nodes {
		n.m.Start(l.now)
	}
	l.at(10 * time.Second)
	if l.masters() != "high" || l.became("high", Master) != 3*time.Second+frac(56, time.Second) {
		t.Fatalf("masters %q\n%s", l.masters(), l.dump())
	}
}

// Equal priorities: the higher primary address stays master.
func TestEqualPriorityTie(t *testing.T) {
	l := newLAN(t)
	l.add("a", "10.0.0.1", v3(100, time.Second))
	l.add("b", "10.0.0.2", v3(100, time.Second))
	for _, n := range l.nodes {
		n.m.Start(l.now)
	}
	l.at(10 * time.Second)
	if l.masters() != "b" {
		t.Fatalf("masters %q\n%s", l.masters(), l.dump())
	}
}

// A VRRPv3 backup times the master with the master's interval.
func TestV3LearnsTheMasterInterval(t *testing.T) {
	l := newLAN(t)
	a := l.add("a", "10.0.0.1", v3(150, 100*time.Millisecond))
	l.add("b", "10.0.0.2", v3(100, time.Second))
	for _, n := range l.nodes {
		n.m.Start(l.now)
	}
	l.at(5 * time.Second)
	if l.masters() != "a" {
		t.Fatalf("masters %q\n%s", l.masters(), l.dump())
	}
	a.up = false
	last := a.sentAt[len(a.sentAt)-1]
	l.after(5 * time.Second)
	want := last + l.delay + 300*time.Millisecond + frac(156, 100*time.Millisecond)
	if got := l.became("b", Master); got != want {
		t.Fatalf("b master at %s, want %s\n%s", got, want, l.dump())
	}
}

// A failing health check lowers the priority at once; the peer preempts.
// Recovery waits for the debounce period.
func TestTrackFailureLowersPriority(t *testing.T) {
	l := newLAN(t)
	a := l.add("a", "10.0.0.1", v3(150, time.Second))
	b := l.add("b", "10.0.0.2", v3(100, time.Second))
	for _, n := range l.nodes {
		n.m.Start(l.now)
	}
	l.at(10*time.Second + 500*time.Millisecond)
	lastGood := a.sentAt[len(a.sentAt)-1]
	a.m.Observe(l.now, Health{Penalty: 100, Why: "track_url failing"})
	if a.m.Priority() != 50 || a.sent[len(a.sent)-1] != 50 {
		t.Fatalf("priority %d, sent %v: the lowered priority is not advertised at once", a.m.Priority(), a.sent)
	}
	if len(a.prioLogs) != 1 || !strings.Contains(a.prioLogs[0], "150->50 track_url failing") {
		t.Fatalf("priority log %q", a.prioLogs)
	}
	l.after(10 * time.Second)
	if l.masters() != "b" {
		t.Fatalf("masters %q\n%s", l.masters(), l.dump())
	}
	// b's timer was last reset by a's last advert with priority 150.
	if got, want := l.became("b", Master), lastGood+l.delay+b.m.MasterDown(); got != want {
		t.Fatalf("b master at %s, want %s", got, want)
	}
	// Healthy again at 21s: the priority comes back at 21s + debounce (10s),
	// then a preempts after its master-down interval.
	l.at(21 * time.Second)
	a.m.Observe(l.now, Health{})
	l.at(30 * time.Second)
	if a.m.Priority() != 50 || l.masters() != "b" {
		t.Fatalf("recovered before the debounce period: priority %d, masters %q", a.m.Priority(), l.masters())
	}
	l.at(50 * time.Second)
	if a.m.Priority() != 150 || l.masters() != "a" {
		t.Fatalf("priority %d, masters %q\n%s", a.m.Priority(), l.masters(), l.dump())
	}
	// a's down timer was last reset by an advert of b before 31s.
	if got := l.became("a", Master); got <= 31*time.Second || got > 32*time.Second+a.m.MasterDown()+frac(100, time.Second) {
		t.Fatalf("a master again at %s\n%s", got, l.dump())
	}
}

// The debounce rule: a check flapping every 300ms for 5s moves the address
// away once and back once, after the check has been good for the period.
func TestDebounceFlappingCheck(t *testing.T) {
	const adv = 100 * time.Millisecond
	l := newLAN(t)
	a := l.add("a", "10.0.0.1", v3(150, adv)) // debounce 1s
	l.add("b", "10.0.0.2", v3(100, adv))
	for _, n := range l.nodes {
		n.m.Start(l.now)
	}
	l.at(2 * time.Second)
	if l.masters() != "a" {
		t.Fatalf("masters %q", l.masters())
	}
	start := l.elapsed()
	for i := range 17 {
		h := Health{}
		if i%2 == 0 {
			h = Health{Penalty: 100, Why: "track_url failing"}
		}
		a.m.Observe(l.now, h)
		l.after(300 * time.Millisecond)
	}
	a.m.Observe(l.now, Health{})
	l.after(5 * time.Second)
	if l.masters() != "a" {
		t.Fatalf("masters %q\n%s", l.masters(), l.dump())
	}
	if got := l.moves(start); got != 2 {
		t.Fatalf("%d moves of the address, want 2 (away and back)\n%s", got, l.dump())
	}
}

// A flapping link: FAULT at once, left only after the link has been up for
// the debounce period.
func TestDebounceFlappingLink(t *testing.T) {
	const adv = 100 * time.Millisecond
	l := newLAN(t)
	a := l.add("a", "10.0.0.1", v3(150, adv))
	l.add("b", "10.0.0.2", v3(100, adv))
	for _, n := range l.nodes {
		n.m.Start(l.now)
	}
	l.at(2 * time.Second)
	start := l.elapsed()
	for i := range 17 {
		down := i%2 == 0
		a.up = !down
		h := Health{}
		if down {
			h.Fault = "interface eth0 down"
		}
		a.m.Observe(l.now, h)
		l.after(300 * time.Millisecond)
	}
	a.up = true
	a.m.Observe(l.now, Health{})
	l.after(5 * time.Second)
	if l.masters() != "a" {
		t.Fatalf("masters %q\n%s", l.masters(), l.dump())
	}
	t.Logf("transitions:\n%s", l.dump())
	if got := l.moves(start); got != 2 {
		t.Fatalf("%d moves, want 2\n%s", got, l.dump())
	}
	var faults int
	for _, tr := range l.trans {
		if tr.node == "a" && tr.to == Fault {
			faults++
		}
	}
	if faults != 1 {
		t.Fatalf("%d FAULT transitions, want 1\n%s", faults, l.dump())
	}
}

func TestFaultNeverAdvertises(t *testing.T) {
	l := newLAN(t)
	a := l.add("a", "10.0.0.1", v3(255, time.Second))
	a.m.Observe(l.now, Health{Fault: "interface eth0 down"})
	a.m.Start(l.now)
	l.after(10 * time.Second)
	if a.m.State() != Fault || len(a.sent) != 0 || a.vip {
		t.Fatalf("state %s, sent %v, vip %v", a.m.State(), a.sent, a.vip)
	}
	// A master going to FAULT resigns first, and releases the address.
	a.m.Observe(l.now, Health{})
	l.after(time.Minute)
	if a.m.State() != Master {
		t.Fatalf("state %s\n%s", a.m.State(), l.dump())
	}
	n := len(a.sent)
	a.m.Observe(l.now, Health{Fault: "tracked interface eth1 down"})
	l.after(time.Minute)
	if a.m.State() != Fault || a.vip || len(a.sent) != n+1 || a.sent[n] != 0 {
		t.Fatalf("state %s, vip %v, sent after the fault %v", a.m.State(), a.vip, a.sent[n:])
	}
}

func TestCARP(t *testing.T) {
	carp := func(prio uint8) Params {
		return Params{Kind: CARP, Priority: prio, Interval: time.Second, Preempt: true, Debounce: 10 * time.Second}
	}
	t.Run("election by period", func(t *testing.T) {
		l := newLAN(t)
		l.add("a", "10.0.0.1", carp(255)) // advskew 0
		l.add("b", "10.0.0.2", carp(155)) // advskew 100
		for _, n := range l.nodes {
			n.m.Start(l.now)
		}
		l.at(10 * time.Second)
		if l.masters() != "a" || l.became("a", Master) != 3*time.Second {
			t.Fatalf("masters %q\n%s", l.masters(), l.dump())
		}
	})
	t.Run("preemption is immediate", func(t *testing.T) {
		l := newLAN(t)
		a := l.add("a", "10.0.0.1", carp(255))
		b := l.add("b", "10.0.0.2", carp(155))
		b.m.Start(l.now)
		l.at(10*time.Second + 100*time.Millisecond)
		a.m.Start(l.now)
		l.after(5 * time.Second)
		if l.masters() != "a" {
			t.Fatalf("masters %q\n%s", l.masters(), l.dump())
		}
		// b advertises every 1+100/256 s; a takes over on the first one it hears.
		if got := l.became("a", Master) - 10*time.Second - 100*time.Millisecond; got > time.Second+frac(100, time.Second)+l.delay {
			t.Fatalf("a took over after %s\n%s", got, l.dump())
		}
	})
	t.Run("ucarp tie break", func(t *testing.T) {
		tests := []struct {
			a, b string
			less bool
		}{
			{"10.77.0.1", "10.77.0.2", true},
			{"10.0.0.2", "11.0.0.1", false}, // the last byte weighs most on x86
			{"11.0.0.1", "10.0.0.2", true},
		}
		for _, tt := range tests {
			if got := carpLess(netip.MustParseAddr(tt.a), netip.MustParseAddr(tt.b)); got != tt.less {
				t.Errorf("carpLess(%s, %s) = %v", tt.a, tt.b, got)
			}
		}
		l := newLAN(t)
		l.add("a", "10.0.0.2", carp(200))
		l.add("b", "11.0.0.1", carp(200))
		for _, n := range l.nodes {
			n.m.Start(l.now)
		}
		l.at(10 * time.Second)
		if l.masters() != "b" {
			t.Fatalf("masters %q\n%s", l.masters(), l.dump())
		}
	})
	t.Run("fields", func(t *testing.T) {
		if b, s := carpFields(155, time.Second); b != 1 || s != 100 {
			t.Errorf("priority 155: advbase %d advskew %d", b, s)
		}
		if b, s := carpFields(0, time.Second); b != 255 || s != 255 {
			t.Errorf("resign: advbase %d advskew %d", b, s)
		}
	})
}
