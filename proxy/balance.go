package proxy

import (
	"fmt"
	"sync"
	"sync/atomic"

	"quill/config"
	"quill/sticky"
)

// A balancer chooses a server for a new client among set, skipping the
// servers c rejects. It never allocates: it runs for every request.
type balancer interface {
	pick(set []*server, c candidate, client uint64) *server
}

// candidate decides which servers a pick may return: those that take new
// clients now and were not tried already for this request. It is passed by
// value so that a pick does not allocate.
type candidate struct {
	now   int64
	tried []*server
}

func (c candidate) ok(s *server) bool {
	if !s.takesNew(c.now) {
		return false
	}
	for _, t := range c.tried {
		if t == s {
			return false
		}
	}
	return true
}

func newBalancer(b config.Balance) (balancer, error) {
	switch b {
	case config.RoundRobin:
		return &roundRobin{}, nil
	case config.Weighted:
		return &smoothWeighted{}, nil
	case config.LeastConn:
		return &leastConn{}, nil
	case config.Hash:
		return clientHash{}, nil
	}
	return nil, fmt.Errorf("unknown balance %q", b)
}

// roundRobin takes the servers in turn (pen -r).
type roundRobin struct{ next atomic.Uint64 }

func (b *roundRobin) pick(set []*server, c candidate, _ uint64) *server {
	n := uint64(len(set))
	start := b.next.Add(1) - 1
	for i := uint64(0); i < n; i++ {
		if s := set[(start+i)%n]; c.ok(s) {
			return s
		}
	}
	return nil
}

// smoothWeighted is nginx's smooth weighted round-robin: each pick adds
// every server's weight to its current value, takes the largest, and
// subtracts the total from it. Weights 5:1:1 give a a b a c a a, not a
// burst of five.
type smoothWeighted struct{ mu sync.Mutex }

func (b *smoothWeighted) pick(set []*server, c candidate, _ uint64) *server {
	b.mu.Lock()
	defer b.mu.Unlock()
	var best *server
	total := 0
	for _, s := range set {
		if !c.ok(s) {
			continue
		}
		w := int(s.weight.Load())
		s.current += w
		total += w
		if best == nil || s.current > best.current {
			best = s
		}
	}
	if best != nil {
		best.current -= total
	}
	return best
}

// leastConn takes the server with the fewest requests in flight relative
// to its weight; ties go round in turn so that an idle pool still spreads.
type leastConn struct{ next atomic.Uint64 }

func (b *leastConn) pick(set []*server, c candidate, _ uint64) *server {
	n := uint64(len(set))
	start := b.next.Add(1)
	var best *server
	var bestActive, bestWeight int64
	for i := uint64(0); i < n; i++ {
		s := set[(start+i)%n]
		if !c.ok(s) {
			continue
		}
		a, w := s.active.Load(), int64(s.weight.Load())
		// a/w < bestActive/bestWeight, without division.
		if best == nil || a*bestWeight < bestActive*w {
			best, bestActive, bestWeight = s, a, w
		}
	}
	return best
}

// clientHash sends a client IP to the same server every time (pen -h), by
// sticky's rendezvous hashing over the servers that may take it: removing
// a server moves only its own clients, and two quill hosts with the same
// servers agree without sharing state.
type clientHash struct{}

func (clientHash) pick(set []*server, c candidate, client uint64) *server {
	r := sticky.NewRendezvous(client)
	var best *server
	for _, s := range set {
		if c.ok(s) && r.Offer(s.hashID) {
			best = s
		}
	}
	return best
}
