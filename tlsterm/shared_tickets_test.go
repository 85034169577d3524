package tlsterm

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"slices"
	"sync"
	"testing"
	"time"

	"quill/sticky"
)

// fakeClock is a wall clock the test sets, and timers the test fires.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers chan fakeTimer
}

// fakeTimer is one wait the rotation asked for.
type fakeTimer struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, timers: make(chan fakeTimer, 64)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	tm := fakeTimer{d: d, fire: make(chan time.Time, 1)}
	select {
	case c.timers <- tm:
	default: // nobody watches the timers of this test
	}
	return tm.fire
}

// nextTimer is the next wait the rotation asks for.
func (c *fakeClock) nextTimer(t *testing.T) fakeTimer {
	t.Helper()
	select {
	case tm := <-c.timers:
		return tm
	case <-time.After(5 * time.Second):
		t.Fatal("the rotation asked for no timer")
		return fakeTimer{}
	}
}

func newTerminatorAt(t testing.TB, o Options, clk clock) *Terminator {
	t.Helper()
	term, err := newWithClock(o, nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(term.Stop)
	return term
}

// keysOf is the ticket keys a Terminator has in force.
func keysOf(term *Terminator) [][32]byte {
	term.mu.Lock()
	defer term.mu.Unlock()
	return slices.Clone(term.tickets.keys)
}

func mustSource(t testing.TB, secret, vip string) ticketSource {
	t.Helper()
	s, err := newTicketSource([]byte(secret), vip)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func at(s string) time.Time {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return tm
}

// hkdfSHA256 is RFC 5869 written out for one block, to pin the derivation:
// hosts running different quill versions must still derive the same keys.
func hkdfSHA256(secret []byte, salt, info string) [32]byte {
	extract := hmac.New(sha256.New, []byte(salt))
	extract.Write(secret)
	expand := hmac.New(sha256.New, extract.Sum(nil))
	expand.Write([]byte(info))
	expand.Write([]byte{1})
	return [32]byte(expand.Sum(nil))
}

func TestSharedTicketKeyDerivation(t *testing.T) {
	const secret = "correct horse battery staple"
	base := mustSource(t, secret, "secure").sharedKeys(at("2026-12-01T12:00:00Z"))
	tests := []struct {
		name        string
		secret, vip string
		now         string
		// shared maps the index of each key also in the base set to its
		// index there; every other key must be new.
		shared map[int]int
	}{
		{name: "same secret, VIP and day", secret: secret, vip: "secure", now: "2026-12-01T12:00:00Z", shared: map[int]int{0: 0, 1: 1, 2: 2}},
		{name: "first instant of the day", secret: secret, vip: "secure", now: "2026-12-01T00:00:00Z", shared: map[int]int{0: 0, 1: 1, 2: 2}},
		{name: "last instant of the day", secret: secret, vip: "secure", now: "2026-12-01T23:59:59.999999999Z", shared: map[int]int{0: 0, 1: 1, 2: 2}},
		{name: "same UTC day in another zone", secret: secret, vip: "secure", now: "2026-12-02T00:30:00+02:00", shared: map[int]int{0: 0, 1: 1, 2: 2}},
		{name: "the day before", secret: secret, vip: "secure", now: "2026-11-30T12:00:00Z", shared: map[int]int{0: 1, 2: 0}},
		{name: "the day after", secret: secret, vip: "secure", now: "2026-12-02T12:00:00Z", shared: map[int]int{0: 2, 1: 0}},
		{name: "two days later", secret: secret, vip: "secure", now: "2026-12-03T12:00:00Z", shared: map[int]int{1: 2}},
		{name: "three days later", secret: secret, vip: "secure", now: "2026-12-04T12:00:00Z"},
		{name: "another secret", secret: secret + "!", vip: "secure", now: "2026-12-01T12:00:00Z"},
		{name: "another VIP", secret: secret, vip: "secure2", now: "2026-12-01T12:00:00Z"},
		{name: "a VIP named like a day", secret: secret, vip: "2026-12-01", now: "2026-12-01T12:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustSource(t, tt.secret, tt.vip).sharedKeys(at(tt.now))
			if len(got) != 3 {
				t.Fatalf("%d keys, want 3", len(got))
			}
			for i, k := range got {
				want, ok := tt.shared[i]
				if !ok {
					want = -1
				}
				if j := slices.Index(base, k); j != want {
					t.Errorf("key %d is base key %d, want %d", i, j, want)
				}
			}
		})
	}
}

// The keys are HKDF-SHA256 of the secret, in the order that makes today's
// key issue tickets and the neighbours' still decrypt them, and none is
// the sticky-cookie key the same secret gives any pool.
func TestSharedTicketKeysAreDays(t *testing.T) {
	const secret = "s3cret"
	got := mustSource(t, secret, "www").sharedKeys(at("2026-03-01T08:00:00Z"))
	want := [][32]byte{
		hkdfSHA256([]byte(secret), "quill session ticket keys", "quill session ticket key\x002026-03-01\x00www"),
		hkdfSHA256([]byte(secret), "quill session ticket keys", "quill session ticket key\x002026-02-28\x00www"),
		hkdfSHA256([]byte(secret), "quill session ticket keys", "quill session ticket key\x002026-03-02\x00www"),
	}
	if !slices.Equal(got, want) {
		t.Fatal("keys are not today's, yesterday's and tomorrow's HKDF-SHA256 keys")
	}
	for _, pool := range []string{"www", "", "app"} {
		cookieKey := sticky.DeriveSecret([]byte(secret), pool)
		for i, k := range got {
			if hmac.Equal(k[:], cookieKey) {
				t.Errorf("ticket key %d is the cookie key of pool %q", i, pool)
			}
		}
	}
}

// Shared keys follow the UTC day on a timer set for midnight; random keys
// are made anew every 12 hours.
func TestTicketRotationSchedule(t *testing.T) {
	pair := writePair(t, t.TempDir(), "a", leafSpec{names: []string{"quill.test"}})
	type step struct {
		now      string        // the clock when the timer fires
		wantWait time.Duration // the timer asked for after it fired
		rotated  bool
	}
	tests := []struct {
		name     string
		secret   string
		start    string
		wantWait time.Duration // the first timer
		steps    []step
	}{
		{
			name: "shared: at midnight", secret: "s", start: "2026-12-01T23:59:30Z", wantWait: 30 * time.Second,
			steps: []step{{now: "2026-12-02T00:00:00Z", wantWait: maxTicketWait, rotated: true}},
		},
		{
			name: "shared: a timer firing early changes nothing", secret: "s", start: "2026-12-01T23:59:30Z", wantWait: 30 * time.Second,
			steps: []step{
				{now: "2026-12-01T23:59:59.9Z", wantWait: 100 * time.Millisecond},
				{now: "2026-12-02T00:00:00.001Z", wantWait: maxTicketWait, rotated: true},
			},
		},
		{
			name: "shared: hourly checks in the day", secret: "s", start: "2026-12-01T10:00:00Z", wantWait: maxTicketWait,
			steps: []step{{now: "2026-12-01T11:00:00Z", wantWait: maxTicketWait}},
		},
		{
			name: "shared: a clock stepped a day ahead", secret: "s", start: "2026-12-01T10:00:00Z", wantWait: maxTicketWait,
			steps: []step{{now: "2026-12-02T23:30:00Z", wantWait: 30 * time.Minute, rotated: true}},
		},
		{
			name: "random: every 12 hours", start: "2026-12-01T10:00:00Z", wantWait: 12 * time.Hour,
			steps: []step{
				{now: "2026-12-01T22:00:00Z", wantWait: 12 * time.Hour, rotated: true},
				{now: "2026-12-02T09:00:00Z", wantWait: time.Hour},
				{now: "2026-12-02T10:00:00Z", wantWait: 12 * time.Hour, rotated: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(at(tt.start))
			o := Options{Certificates: []CertFile{pair}, TicketSecret: []byte(tt.secret), VIP: "secure"}
			term := newTerminatorAt(t, o, clk)
			addr := serve(t, term, viaListener)
			src := mustSource(t, tt.secret, "secure")
			tm := clk.nextTimer(t)
			if tm.d != tt.wantWait {
				t.Fatalf("first wait %s, want %s", tm.d, tt.wantWait)
			}
			for i, s := range tt.steps {
				before := keysOf(term)
				clk.set(at(s.now))
				tm.fire <- at(s.now)
				tm = clk.nextTimer(t)
				if tm.d != s.wantWait {
					t.Fatalf("step %d: waits %s, want %s", i, tm.d, s.wantWait)
				}
				after := keysOf(term)
				if rotated := !slices.Equal(before, after); rotated != s.rotated {
					t.Fatalf("step %d: keys rotated %v, want %v", i, rotated, s.rotated)
				}
				switch {
				case src.shared() && !slices.Equal(after, src.sharedKeys(at(s.now))):
					t.Fatalf("step %d: keys are not those of %s", i, s.now)
				case !src.shared() && s.rotated && (len(after) != min(len(before)+1, ticketKeysKept) || after[1] != before[0]):
					t.Fatalf("step %d: a rotation did not keep the previous key", i)
				}
				var dropped [][32]byte
				for _, k := range before {
					if !slices.Contains(after, k) {
						dropped = append(dropped, k)
					}
				}
				checkServed(t, term, addr, after, dropped)
			}
		})
	}
}

// checkServed proves with real tickets that the config serving addr
// issues tickets under inForce[0], decrypts those of every key of inForce
// and of none of dropped.
func checkServed(t *testing.T, term *Terminator, addr string, inForce, dropped [][32]byte) {
	t.Helper()
	cfg := clientConfig("quill.test")
	cfg.MinVersion = tls.VersionTLS13
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	get(t, c, "quill.test") // reads the ticket that follows the handshake
	c.Close()
	cs, _ := cfg.ClientSessionCache.Get("quill.test")
	ticket, state, err := cs.ResumptionState()
	if err != nil || ticket == nil {
		t.Fatalf("no ticket from the server: %v", err)
	}
	withKey := func(k [32]byte) *tls.Config {
		c := &tls.Config{}
		c.SetSessionTicketKeys([][32]byte{k})
		return c
	}
	if ss, _ := withKey(inForce[0]).DecryptTicket(ticket, tls.ConnectionState{}); ss == nil {
		t.Error("the ticket was not issued under the first key in force")
	}
	serving := term.cur.Load().config
	for i, k := range append(slices.Clone(inForce), dropped...) {
		sealed, err := withKey(k).EncryptTicket(tls.ConnectionState{}, state)
		if err != nil {
			t.Fatal(err)
		}
		ss, _ := serving.DecryptTicket(sealed, tls.ConnectionState{})
		if accepted, want := ss != nil, i < len(inForce); accepted != want {
			t.Errorf("ticket under key %d accepted: %v, want %v", i, accepted, want)
		}
	}
}

// Two Terminators stand for the two hosts of a pair: a session a client
// got from one resumes on the other when they share the secret and the
// VIP name, and their clocks are within a day of each other.
func TestResumeAcrossHosts(t *testing.T) {
	pair := writePair(t, t.TempDir(), "a", leafSpec{names: []string{"quill.test"}})
	const secret = "one secret for both hosts"
	type host struct {
		secret, vip, now string
	}
	a := host{secret: secret, vip: "secure", now: "2026-12-01T12:00:00Z"}
	tests := []struct {
		name       string
		a, b       host
		wantResume bool
	}{
		{name: "same secret", a: a, b: a, wantResume: true},
		{name: "another secret", a: a, b: host{secret: "another secret", vip: "secure", now: a.now}},
		{name: "no secret", a: host{vip: "secure", now: a.now}, b: host{vip: "secure", now: a.now}},
		{name: "secret on one host only", a: a, b: host{vip: "secure", now: a.now}},
		{name: "another VIP name", a: a, b: host{secret: secret, vip: "secure2", now: a.now}},
		{name: "B's clock past midnight", a: host{secret: secret, vip: "secure", now: "2026-12-01T23:00:00Z"}, b: host{secret: secret, vip: "secure", now: "2026-12-02T02:00:00Z"}, wantResume: true},
		{name: "B's clock before midnight", a: host{secret: secret, vip: "secure", now: "2026-12-02T01:00:00Z"}, b: host{secret: secret, vip: "secure", now: "2026-12-01T22:00:00Z"}, wantResume: true},
		{name: "B a day later", a: a, b: host{secret: secret, vip: "secure", now: "2026-12-02T12:00:00Z"}, wantResume: true},
		{name: "B two days later", a: a, b: host{secret: secret, vip: "secure", now: "2026-12-03T12:00:00Z"}},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tt := range tests {
			t.Run(tls.VersionName(version)+"/"+tt.name, func(t *testing.T) {
				start := func(h host) string {
					o := Options{Certificates: []CertFile{pair}, TicketSecret: []byte(h.secret), VIP: h.vip}
					return serve(t, newTerminatorAt(t, o, newFakeClock(at(h.now))), viaListener)
				}
				addrA, addrB := start(tt.a), start(tt.b)
				cfg := clientConfig("quill.test")
				cfg.MinVersion, cfg.MaxVersion = version, version
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				connect := func(addr string) bool {
					c, err := tls.Dial("tcp", addr, cfg)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					get(t, c, "quill.test") // reads the TLS 1.3 ticket
					return c.ConnectionState().DidResume
				}
				if connect(addrA) {
					t.Fatal("the first connection, to A, resumed")
				}
				if got := connect(addrB); got != tt.wantResume {
					t.Errorf("the session from A resumed on B: %v, want %v", got, tt.wantResume)
				}
			})
		}
	}
}

// A reload changes the ticket keys only when the secret or the VIP name
// changes; a reload that is prepared and not committed changes nothing,
// and neither does a certificate reload of Watch.
func TestReloadTicketSecret(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	now := at("2026-12-01T12:00:00Z")
	shared := func(secret, vip string) func(*testing.T, [][32]byte) bool {
		return func(t *testing.T, keys [][32]byte) bool {
			return slices.Equal(keys, mustSource(t, secret, vip).sharedKeys(now))
		}
	}
	random := func(t *testing.T, keys [][32]byte) bool { return len(keys) == 1 }
	tests := []struct {
		name         string
		from, to     string // the secrets before and after
		toVIP        string
		commit       bool
		wantChanged  bool
		wantKeysLike func(*testing.T, [][32]byte) bool
	}{
		{name: "same secret", from: "s1", to: "s1", commit: true, wantKeysLike: shared("s1", "secure")},
		{name: "changed secret", from: "s1", to: "s2", commit: true, wantChanged: true, wantKeysLike: shared("s2", "secure")},
		{name: "changed secret, not committed", from: "s1", to: "s2", wantKeysLike: shared("s1", "secure")},
		{name: "renamed VIP", from: "s1", to: "s1", toVIP: "renamed", commit: true, wantChanged: true, wantKeysLike: shared("s1", "renamed")},
		{name: "secret removed", from: "s1", commit: true, wantChanged: true, wantKeysLike: random},
		{name: "secret added", to: "s1", commit: true, wantChanged: true, wantKeysLike: shared("s1", "secure")},
		{name: "still no secret", commit: true, wantKeysLike: random},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(now)
			term := newTerminatorAt(t, Options{Certificates: []CertFile{pair}, TicketSecret: []byte(tt.from), VIP: "secure"}, clk)
			addr := serve(t, term, viaListener)
			before := keysOf(term)
			vip := cmp.Or(tt.toVIP, "secure")
			next, err := term.Prepare(Options{Certificates: []CertFile{pair}, TicketSecret: []byte(tt.to), VIP: vip})
			if err != nil {
				t.Fatal(err)
			}
			if tt.commit {
				next.Commit()
			}
			after := keysOf(term)
			if changed := !slices.Equal(before, after); changed != tt.wantChanged {
				t.Fatalf("keys changed: %v, want %v", changed, tt.wantChanged)
			}
			if !tt.wantKeysLike(t, after) {
				t.Fatal("the keys in force are not the expected ones")
			}
			var dropped [][32]byte
			for _, k := range before {
				if !slices.Contains(after, k) {
					dropped = append(dropped, k)
				}
			}
			checkServed(t, term, addr, after, dropped)
		})
	}
}

func TestWatchKeepsSharedTicketKeys(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "live", leafSpec{names: []string{"quill.test"}})
	b := writePair(t, t.TempDir(), "next", leafSpec{names: []string{"quill.test"}})
	term := newTerminatorAt(t, Options{Certificates: []CertFile{a}, TicketSecret: []byte("s1"), VIP: "secure"}, newFakeClock(at("2026-12-01T12:00:00Z")))
	addr := serve(t, term, viaListener)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		term.Watch(ctx, 20*time.Millisecond)
	}()
	defer func() {
		cancel()
		<-done
	}()
	want := keysOf(term)
	replaceFile(t, a.Key, readFile(t, b.Key))
	replaceFile(t, a.Cert, readFile(t, b.Cert))
	leaf := leafOf(t, b.Cert).Raw
	eventually(t, 5*time.Second, "the replaced certificate is served", func() bool {
		return bytes.Equal(servedLeaf(t, addr, "quill.test"), leaf)
	})
	if !slices.Equal(keysOf(term), want) {
		t.Fatal("a certificate reload changed the shared ticket keys")
	}
	checkServed(t, term, addr, want, nil)
}

// A reload that gives or takes away the secret schedules the next rotation
// anew: shared keys must not wait out the 12 hours of random ones.
func TestReloadReschedulesRotation(t *testing.T) {
	pair := writePair(t, t.TempDir(), "a", leafSpec{names: []string{"quill.test"}})
	tests := []struct {
		name               string
		from, to           string
		wantFirst, wantNew time.Duration
	}{
		{name: "secret added", to: "s", wantFirst: randomTicketRotation, wantNew: 30 * time.Second},
		{name: "secret removed", from: "s", wantFirst: 30 * time.Second, wantNew: randomTicketRotation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(at("2026-12-01T23:59:30Z"))
			term := newTerminatorAt(t, Options{Certificates: []CertFile{pair}, TicketSecret: []byte(tt.from)}, clk)
			if tm := clk.nextTimer(t); tm.d != tt.wantFirst {
				t.Fatalf("first wait %s, want %s", tm.d, tt.wantFirst)
			}
			if err := term.Reload(Options{Certificates: []CertFile{pair}, TicketSecret: []byte(tt.to)}); err != nil {
				t.Fatal(err)
			}
			if tm := clk.nextTimer(t); tm.d != tt.wantNew {
				t.Fatalf("wait after the reload %s, want %s", tm.d, tt.wantNew)
			}
		})
	}
}
