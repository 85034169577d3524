package proxy

import (
	"sync/atomic"
	"time"

	"quill/config"
	"quill/h1"
	"quill/sticky"
)

// Administrative modes of a server, set through the runtime API.
const (
	modeReady int32 = iota // takes new and sticky clients
	modeDrain              // keeps sticky clients, takes no new ones
	modeMaint              // takes no traffic
)

var modeNames = [...]string{"ready", "drain", "maint"}

// server is one backend of a pool in one config generation. What the file
// says of it (address, backup, the weight written there) belongs to the
// generation and never changes; what it lives through (health, counters,
// requests in flight, the state and weight set through the API) is its
// serverState, which a reload that keeps the server (same pool, same
// identity) hands to the next generation by pointer. A reload thus never
// writes to the objects the running generation serves with.
type server struct {
	*serverState
	addr   string
	id     string // stable identity, named by sticky cookies
	hashID uint64 // sticky.ServerID(id), for rendezvous hashing and the ip table
	backup bool
	// fileWeight is the weight the config file gives; the one in force is
	// serverState.weight.
	fileWeight int32
	// upstream holds the keep-alive connections to the server; a reload
	// keeps it while the address and the pool's connect timeout stay.
	upstream *h1.Upstream

	// current is the smooth weighted round-robin state, guarded by the
	// balancer's mutex; it starts over with each generation.
	current int
}

// serverState is the state of a server that outlives config generations.
type serverState struct {
	// weight is the weight in force: the file's, or one set through the
	// API, which a reload keeps unless it changes the file's weight.
	weight atomic.Int32

	mode      atomic.Int32
	downUntil atomic.Int64 // unix nanoseconds; set by a failed connect (passive check)
	checkDown atomic.Bool  // set by the active health check
	check     checkState

	active   atomic.Int64 // requests in flight
	requests atomic.Uint64
	failures atomic.Uint64

	track   serverTrack  // when and why the state last changed
	traffic trafficStats // answers, bytes and response times
}

func newServer(c config.Server) *server {
	return carryServer(c, nil, nil)
}

// carryServer makes the server of c for a new generation. prev is the
// server of the same identity in the running generation, or nil; its
// state is carried over untouched. A weight the file changed is put in
// force by later, which the reload runs once it has committed, so that a
// refused reload leaves the running weights as they were.
func carryServer(c config.Server, prev *server, later *onCommit) *server {
	s := &server{addr: c.Address, id: c.ID(), hashID: sticky.ServerID(c.ID()), backup: c.Backup, fileWeight: int32(c.Weight)}
	if prev == nil {
		s.serverState = &serverState{}
		s.track.born = time.Now().UnixNano()
		s.traffic.take(s.track.born, 0)
		s.weight.Store(s.fileWeight)
		return s
	}
	s.serverState = prev.serverState
	if prev.fileWeight != s.fileWeight {
		rt, w := s.serverState, s.fileWeight
		later.add(func() { rt.weight.Store(w) })
	}
	return s
}

// up reports whether the health checks, passive and active, let the
// server take traffic at now (unix nanoseconds).
func (s *server) up(now int64) bool {
	return !s.checkDown.Load() && s.downUntil.Load() <= now
}

// takesNew reports whether a new client may be sent to the server.
func (s *server) takesNew(now int64) bool {
	return s.mode.Load() == modeReady && s.up(now)
}

// takesSticky reports whether a client pinned to the server may stay.
func (s *server) takesSticky(now int64) bool {
	return s.mode.Load() != modeMaint && s.up(now)
}

// markDown takes the server out until the fail timeout has passed; err
// is why its connect failed.
func (s *server) markDown(now int64, d time.Duration, err error) {
	s.noteConnectFailure(now, s.up(now), err)
	s.downUntil.Store(now + int64(d))
	s.failures.Add(1)
}

// state names the server's state for the status page and the API. A
// server back from a failed connect's fail timeout is "retrying", not
// "up", until an answer or a passing check shows it alive.
func (s *server) state(now int64) string {
	switch {
	case s.mode.Load() != modeReady:
		return modeNames[s.mode.Load()]
	case !s.up(now):
		return "down"
	case s.retrying():
		return "retrying"
	}
	return "up"
}
