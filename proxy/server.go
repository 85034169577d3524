package proxy

import (
	"sync/atomic"
	"time"

	"quill/config"
	"quill/sticky"
)

// Administrative modes of a server, set through the runtime API.
const (
	modeReady int32 = iota // takes new and sticky clients
	modeDrain              // keeps sticky clients, takes no new ones
	modeMaint              // takes no traffic
)

var modeNames = [...]string{"ready", "drain", "maint"}

// server is one backend of a pool. Its state outlives config generations:
// a reload that keeps the server (same pool, same identity) keeps its
// health, counters and sticky clients.
type server struct {
	addr   string
	id     string // stable identity, named by sticky cookies
	hashID uint64 // sticky.ServerID(id), for rendezvous hashing and the ip table
	backup bool
	weight atomic.Int32

	mode      atomic.Int32
	downUntil atomic.Int64 // unix nanoseconds; set by a failed connect (passive check)
	checkDown atomic.Bool  // set by the active health check
	check     checkState

	active   atomic.Int64 // requests in flight
	requests atomic.Uint64
	failures atomic.Uint64

	// current is the smooth weighted round-robin state, guarded by the
	// balancer's mutex.
	current int
}

func newServer(c config.Server) *server {
	s := &server{addr: c.Address, id: c.ID(), hashID: sticky.ServerID(c.ID())}
	s.update(c)
	return s
}

// update applies a reloaded config to a server that stays.
func (s *server) update(c config.Server) {
	s.addr = c.Address
	s.backup = c.Backup
	s.weight.Store(int32(c.Weight))
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

// markDown takes the server out until the fail timeout has passed.
func (s *server) markDown(now int64, d time.Duration) {
	s.downUntil.Store(now + int64(d))
	s.failures.Add(1)
}

// state names the server's state for the status page and the API.
func (s *server) state(now int64) string {
	switch {
	case s.mode.Load() != modeReady:
		return modeNames[s.mode.Load()]
	case !s.up(now):
		return "down"
	}
	return "up"
}
