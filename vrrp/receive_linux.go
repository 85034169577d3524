package vrrp

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// receive reads adverts until the socket closes, checks them and passes
// the good ones to the run goroutine.
func (in *instance) receive() {
	buf := make([]byte, 9216)
	for {
		r, err := in.conn.recv(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, errNotIPv4) {
				in.drop("malformed", netip.Addr{}, err)
				continue
			}
			if in.limit.allow("recv", 10*time.Second) {
				in.log.Warn("reading adverts", zap.Error(err))
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if h, ok := in.check(r); ok {
			in.recvd.Inc()
			select {
			case in.heard <- h:
			default:
				in.drop("backlog", r.src, nil)
			}
		}
	}
}

func (in *instance) drop(reason string, from netip.Addr, err error) {
	in.met.dropped.WithLabelValues(in.name, reason).Inc()
	if in.limit.allow("drop "+reason, 10*time.Second) {
		in.log.Warn("dropped a packet", zap.String("reason", reason), zap.Stringer("from", from), zap.Error(err))
	}
}

// conflict reports, loudly, another router using this VRID differently.
func (in *instance) conflict(kind string, from netip.Addr, msg string, fields ...zap.Field) {
	in.met.conflicts.WithLabelValues(in.name, kind).Inc()
	if in.limit.allow("conflict "+kind+" "+from.String(), time.Minute) {
		in.log.Error(msg, append([]zap.Field{zap.Stringer("peer", from), zap.Int("vrid", in.cfg.VRID)}, fields...)...)
	}
}

// check applies the receive checks of RFC 5798 section 7.1 (and RFC 3768,
// and ucarp's) to one packet.
func (in *instance) check(r received) (Heard, bool) {
	if r.src == *in.src.Load() {
		return Heard{}, false // our own, looped back
	}
	if in.unicast {
		// Only the configured peers are heard. The TTL is not checked,
		// as keepalived does not in unicast mode: a peer may be beyond a
		// router, and keepalived sends IPv6 unicast adverts with the
		// kernel's default hop limit.
		if !slices.Contains(in.peers, r.src) {
			in.drop("peer", r.src, errors.New("not one of unicast_peers"))
			return Heard{}, false
		}
	} else {
		if r.ttl != 255 {
			in.drop("ttl", r.src, fmt.Errorf("TTL %d, not 255: sent from beyond this segment", r.ttl))
			return Heard{}, false
		}
		if r.dst != in.group {
			in.drop("destination", r.src, fmt.Errorf("sent to %s, not %s", r.dst, in.group))
			return Heard{}, false
		}
	}
	var msg Message
	if isCARP(r.payload) {
		if err := in.rxCARP.UnmarshalBinary(r.payload); err != nil {
			in.drop(DropReason(err), r.src, err)
			return Heard{}, false
		}
		msg = &in.rxCARP
	} else {
		err := in.rxAdvert.parse(r.payload, r.src, r.dst)
		if err != nil && in.unicast && errors.Is(err, ErrChecksum) {
			// keepalived 1.3.6 and earlier computed a unicast VRRPv3
			// checksum over the multicast group as destination.
			err = in.rxAdvert.parse(r.payload, r.src, in.group)
		}
		if err != nil {
			in.drop(DropReason(err), r.src, err)
			return Heard{}, false
		}
		msg = &in.rxAdvert
	}
	if int(msg.ID()) != in.cfg.VRID {
		return Heard{}, false // another virtual router
	}
	switch msg := msg.(type) {
	case *CARPAdvert:
		if in.kind != CARP {
			in.conflict("protocol", r.src, fmt.Sprintf("a CARP router uses vhid %d, our VRID, on this segment: both will be master; give one of them another ID", in.cfg.VRID),
				zap.String("ours", in.kind.String()))
			return Heard{}, false
		}
		d := in.rxMAC.digest(msg.VHID, in.addrs[0], msg.Counter)
		if !hmac.Equal(d[:], msg.Digest[:]) {
			in.drop("auth", r.src, errors.New("CARP digest does not match: check the vhid, password and virtual address on both routers"))
			return Heard{}, false
		}
		in.mu.Lock()
		in.lastPeer = r.src
		in.mu.Unlock()
		return heardCARP(r.src, msg), true
	case *Advert:
		if in.kind == CARP || int(msg.Version) != int(in.kind) {
			in.conflict("version", r.src, fmt.Sprintf("a VRRPv%d router uses VRID %d on this segment, and we speak %s: both will be master; use the same version or another VRID", msg.Version, in.cfg.VRID, in.kind),
				zap.Stringers("its_addresses", msg.Addresses))
			return Heard{}, false
		}
		if in.kind == VRRPv2 {
			if msg.AuthType != in.authType || msg.AuthData != in.authData {
				in.drop("auth", r.src, fmt.Errorf("authentication type %d or password does not match ours", msg.AuthType))
				return Heard{}, false
			}
			if msg.Interval != in.interval {
				in.drop("interval", r.src, fmt.Errorf("advert interval %s, ours %s: VRRPv2 needs the same on both routers", msg.Interval, in.interval))
				return Heard{}, false
			}
		}
		if !sameAddresses(msg.Addresses, in.addrs) {
			in.conflict("addresses", r.src, fmt.Sprintf("another router advertises VRID %d with other addresses: two virtual routers share one VRID on this segment; give one another VRID", in.cfg.VRID),
				zap.Stringers("its_addresses", slices.Clone(msg.Addresses)), zap.Stringers("our_addresses", in.addrs))
			return Heard{}, false
		}
		in.mu.Lock()
		in.lastPeer = r.src
		in.mu.Unlock()
		return Heard{From: r.src, Priority: msg.Priority, Interval: msg.Interval}, true
	}
	return Heard{}, false
}

// sameAddresses compares two short address lists as sets, without
// allocating.
func sameAddresses(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, y := range b {
		if !slices.Contains(a, y) {
			return false
		}
	}
	return true
}

// limiter lets a repeated log line through once per period per key.
type limiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *limiter) allow(key string, every time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[key]; ok && time.Since(t) < every {
		return false
	}
	l.last[key] = time.Now()
	return true
}
