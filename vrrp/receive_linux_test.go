package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"quill/config"
)

// receiver is an instance with only what the receive checks use.
func receiver(kind Kind, vrid int, password string, log *strings.Builder) *instance {
	in := &instance{
		cfg:  config.VRRPInstance{Name: "www", VRID: vrid, Password: password, Interface: "eth0"},
		name: "www", kind: kind, interval: time.Second, met: newMetrics(),
		log: zap.New(zapcoreFor(log)), group: GroupV4, addrs: []netip.Addr{vip4},
	}
	if kind == VRRPv2 && password != "" {
		in.authType, in.authData = AuthText, AuthPassword(password)
	}
	if kind == CARP {
		in.txMAC, in.rxMAC = newCARPMAC(password), newCARPMAC(password)
	}
	in.advPrio = -1
	in.dests = []netip.Addr{GroupV4}
	in.advBytes = make([][]byte, 1)
	own := netip.MustParseAddr("10.77.0.2")
	in.src.Store(&own)
	return in
}

func TestReceiveChecks(t *testing.T) {
	vs := adverts(t)
	peer := netip.MustParseAddr("10.77.0.1")
	v3 := vs["v3-prio150"].b
	mk := func(a *Advert) []byte {
		b, err := a.Marshal(peer, GroupV4)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	carp42 := vs["carp-ucarp"].b
	carp77 := func() []byte {
		c := &CARPAdvert{VHID: 77, AdvBase: 1}
		c.Sign("pw", vip4)
		b, _ := c.MarshalBinary()
		return b
	}()
	tests := []struct {
		name     string
		kind     Kind
		vrid     int
		password string
		r        received
		want     *Heard
		drop     string // reason counted
		conflict string // kind counted
		log      string // in the log
	}{
		{"keepalived v3 advert", VRRPv3, 77, "", received{v3, peer, GroupV4, 255}, &Heard{peer, 150, time.Second}, "", "", ""},
		{"ttl 254", VRRPv3, 77, "", received{v3, peer, GroupV4, 254}, nil, "ttl", "", "TTL 254, not 255"},
		{"unicast", VRRPv3, 77, "", received{v3, peer, netip.MustParseAddr("10.77.0.2"), 255}, nil, "destination", "", ""},
		{"our own", VRRPv3, 77, "", received{v3, netip.MustParseAddr("10.77.0.2"), GroupV4, 255}, nil, "", "", ""},
		{"bad checksum", VRRPv3, 77, "", received{append([]byte{0x31, 77, 1}, v3[3:]...), peer, GroupV4, 255}, nil, "checksum", "", ""},
		{"truncated", VRRPv3, 77, "", received{v3[:9], peer, GroupV4, 255}, nil, "short", "", ""},
		{"another VRID", VRRPv3, 78, "", received{v3, peer, GroupV4, 255}, nil, "", "", ""},
		{"v2 on our v3 VRID", VRRPv3, 51, "", received{vs["v2-pass"].b, peer, GroupV4, 255}, nil, "", "version",
			"a VRRPv2 router uses VRID 51 on this segment, and we speak VRRPv3"},
		{"CARP on our VRID", VRRPv3, 77, "", received{carp77, peer, GroupV4, 255}, nil, "", "protocol", "a CARP router uses vhid 77"},
		{"other addresses", VRRPv3, 77, "", received{mk(&Advert{Version: 3, VRID: 77, Priority: 100, Interval: time.Second,
			Addresses: []netip.Addr{netip.MustParseAddr("10.77.0.101")}}), peer, GroupV4, 255}, nil, "", "addresses", `"its_addresses":["10.77.0.101"]`},
		{"keepalived v2 pass", VRRPv2, 51, "s3cr3t", received{vs["v2-pass"].b, peer, GroupV4, 255}, &Heard{peer, 150, time.Second}, "", "", ""},
		{"v2 wrong password", VRRPv2, 51, "secret", received{vs["v2-pass"].b, peer, GroupV4, 255}, nil, "auth", "", "password does not match"},
		{"v2 no password", VRRPv2, 51, "", received{vs["v2-pass"].b, peer, GroupV4, 255}, nil, "auth", "", ""},
		{"v2 other interval", VRRPv2, 51, "s3cr3t", received{mk(&Advert{Version: 2, VRID: 51, Priority: 100, Interval: 2 * time.Second,
			AuthType: AuthText, AuthData: AuthPassword("s3cr3t"), Addresses: []netip.Addr{vip4}}), peer, GroupV4, 255}, nil, "interval", "", "advert interval 2s, ours 1s"},
		{"v3 on our v2 VRID", VRRPv2, 77, "", received{v3, peer, GroupV4, 255}, nil, "", "version", ""},
		{"ucarp advert", CARP, 42, "s3cr3t", received{carp42, peer, GroupV4, 255}, &Heard{peer, 255, time.Second}, "", "", ""},
		{"ucarp wrong password", CARP, 42, "other", received{carp42, peer, GroupV4, 255}, nil, "auth", "", "CARP digest does not match"},
		{"VRRP on our vhid", CARP, 77, "pw", received{v3, peer, GroupV4, 255}, nil, "", "version", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			in := receiver(tt.kind, tt.vrid, tt.password, &log)
			h, ok := in.check(tt.r)
			if ok != (tt.want != nil) || (ok && h != *tt.want) {
				t.Fatalf("got %+v %v, want %+v", h, ok, tt.want)
			}
			if tt.drop != "" {
				if n := testutil.ToFloat64(in.met.dropped.WithLabelValues("www", tt.drop)); n != 1 {
					t.Fatalf("dropped{reason=%q} = %v", tt.drop, n)
				}
			}
			if tt.conflict != "" {
				if n := testutil.ToFloat64(in.met.conflicts.WithLabelValues("www", tt.conflict)); n != 1 {
					t.Fatalf("conflicts{kind=%q} = %v", tt.conflict, n)
				}
				if !strings.Contains(log.String(), `"level":"error"`) || !strings.Contains(log.String(), `"peer":"10.77.0.1"`) {
					t.Fatalf("a conflict is not logged as an error naming the peer:\n%s", log.String())
				}
			}
			if !strings.Contains(log.String(), tt.log) {
				t.Fatalf("log lacks %q:\n%s", tt.log, log.String())
			}
			if tt.drop == "" && tt.conflict == "" && log.Len() > 0 {
				t.Fatalf("logged:\n%s", log.String())
			}
		})
	}
}

// The paths run every advert interval do not allocate: with the garbage
// collector busy, an allocation can make the goroutine assist it and the
// advert late.
func TestHotPathsDoNotAllocate(t *testing.T) {
	vs := adverts(t)
	peer := netip.MustParseAddr("10.77.0.1")
	for _, tc := range []struct {
		name     string
		kind     Kind
		vrid     int
		password string
		msg      []byte
	}{
		{"v3", VRRPv3, 77, "", vs["v3-prio150"].b},
		{"v2", VRRPv2, 51, "s3cr3t", vs["v2-pass"].b},
		{"carp", CARP, 42, "s3cr3t", vs["carp-ucarp"].b},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			in := receiver(tc.kind, tc.vrid, tc.password, &log)
			r := received{tc.msg, peer, GroupV4, 255}
			if _, ok := in.check(r); !ok {
				t.Fatalf("refused:\n%s", log.String())
			}
			if n := testing.AllocsPerRun(100, func() { in.check(r) }); n != 0 {
				t.Errorf("receive checks: %v allocations per advert", n)
			}
			src := netip.MustParseAddr("10.77.0.2")
			in.advert(100, src, 0)
			if n := testing.AllocsPerRun(100, func() { in.advert(100, src, 0) }); n != 0 {
				t.Errorf("encoding an advert: %v allocations", n)
			}
		})
	}
	t.Run("machine", func(t *testing.T) {
		m := NewMachine(v3(100, 100*time.Millisecond), nopEffects{})
		now := time.Unix(1000, 0)
		m.Start(now)
		h := Heard{From: peer, Priority: 150, Interval: 100 * time.Millisecond}
		if n := testing.AllocsPerRun(100, func() {
			now = now.Add(100 * time.Millisecond)
			m.Receive(now, h)
			m.Tick(now)
		}); n != 0 {
			t.Errorf("a backup hearing its master: %v allocations per advert", n)
		}
		m = NewMachine(v3(255, 100*time.Millisecond), nopEffects{})
		m.Start(now)
		if n := testing.AllocsPerRun(100, func() {
			now = now.Add(100 * time.Millisecond)
			m.Tick(now)
		}); n != 0 || m.State() != Master {
			t.Errorf("a master advertising: %v allocations per advert", n)
		}
	})
}

type nopEffects struct{}

func (nopEffects) Advertise(uint8)                      {}
func (nopEffects) Acquire()                             {}
func (nopEffects) Release()                             {}
func (nopEffects) Transition(State, State, string)      {}
func (nopEffects) PriorityChanged(uint8, uint8, string) {}
