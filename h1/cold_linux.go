package h1

import (
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// The parking of idle connections. A connection that waited hotWait for
// its next request on its own goroutine hands its descriptor to one epoll
// instance of the process and lets the goroutine end, so that an idle
// keep-alive connection costs its few small objects and no stack (a
// goroutine's stack, 4 KiB or more once a request went through it, is
// most of what an idle connection would hold otherwise). When the client
// sends, a new goroutine serves it; when it stays quiet past the idle
// timeout, the connection is closed.
var cold struct {
	once  sync.Once
	epfd  int
	mu    sync.Mutex
	conns map[int]*conn // by descriptor
	// parked counts the connections parked since memory was last given
	// back to the system (see giveBack).
	parked   int
	lastGive time.Time
}

func coldParking() bool {
	cold.once.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			cold.epfd = -1
			return
		}
		cold.epfd = fd
		cold.conns = map[int]*conn{}
		go coldLoop()
	})
	return cold.epfd >= 0
}

// parkCold registers c, in state stCold, for its next request. It reports
// false when the system refused, and c goes on waiting on its goroutine.
func parkCold(c *conn) bool {
	cold.mu.Lock()
	cold.conns[c.fd] = c
	cold.parked++
	cold.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(cold.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		cold.mu.Lock()
		delete(cold.conns, c.fd)
		cold.mu.Unlock()
		return false
	}
	return true
}

// epollOneShot is EPOLLONESHOT, which package syscall types apart.
const epollOneShot = 1 << 30

// unparkCold forgets a parked connection that is being closed; closing
// its descriptor takes it out of the epoll set.
func unparkCold(c *conn) {
	cold.mu.Lock()
	if cold.conns[c.fd] == c {
		delete(cold.conns, c.fd)
	}
	cold.mu.Unlock()
}

func coldLoop() {
	events := make([]syscall.EpollEvent, 128)
	lastSweep := time.Now()
	for {
		n, err := syscall.EpollWait(cold.epfd, events, 1000)
		if err != nil && err != syscall.EINTR {
			return
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			cold.mu.Lock()
			c := cold.conns[fd]
			delete(cold.conns, fd)
			cold.mu.Unlock()
			if c == nil {
				continue
			}
			syscall.EpollCtl(cold.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
			if c.state.CompareAndSwap(stCold, stIdle) {
				go c.serve()
			} else if c.state.CompareAndSwap(stBody, stActive) {
				go c.run(true)
			}
		}
		if now := time.Now(); now.Sub(lastSweep) >= time.Second {
			lastSweep = now
			sweepCold(now)
			giveBack(now)
		}
	}
}

// sweepCold closes the parked connections idle past their timeout, and
// hands those whose request body stopped coming to their handler, which
// answers 408.
func sweepCold(now time.Time) {
	var expired []*conn
	cold.mu.Lock()
	for fd, c := range cold.conns {
		if now.After(c.coldEnd) {
			expired = append(expired, c)
			delete(cold.conns, fd)
		}
	}
	cold.mu.Unlock()
	for _, c := range expired {
		if c.state.CompareAndSwap(stCold, stClosed) {
			c.close()
			c.s.untrack(c)
		} else if c.state.CompareAndSwap(stBody, stActive) {
			syscall.EpollCtl(cold.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
			c.x.holdErr = c.x.bodyError(ErrBodyTimeout)
			go c.run(true)
		}
	}
}

// Memory is given back to the system when this many connections were
// parked since the last time, at most once per giveBackEvery.
const (
	giveBackAfter = 1024
	giveBackEvery = 10 * time.Second
)

// giveBack returns to the system the stacks of the goroutines that parked
// connections let go. Go keeps freed stacks until a collection and returns
// their pages lazily; without this, a wave of connections going idle
// would keep the memory of their goroutines in the process's RSS until
// traffic triggered a collection. It is rare: after a thousand parked
// connections and at most every ten seconds.
func giveBack(now time.Time) {
	cold.mu.Lock()
	due := cold.parked >= giveBackAfter && now.Sub(cold.lastGive) >= giveBackEvery
	if due {
		cold.parked = 0
		cold.lastGive = now
	}
	cold.mu.Unlock()
	if due {
		debug.FreeOSMemory()
	}
}
