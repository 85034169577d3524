package h1

import "sync"

// Buffers are lent from pools only while a request is in flight, so that an
// idle connection, client or backend, holds none.
const (
	smallBuf = 8 << 10  // a client connection's head and the start of its body
	copyBuf  = 32 << 10 // a backend connection: response head and body copies
	minRoom  = 4 << 10  // what must stay free after a request head for body reads
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	copyPool  = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}
	headPool  = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
)

// bufPool lends buffers of one size; large ones (for heads beyond the small
// buffer) come from a pool per size so that a changed limit never mixes them.
type bufPool struct {
	mu    sync.Mutex
	large map[int]*sync.Pool
}

var pools bufPool

func getBuf(size int) []byte {
	switch size {
	case smallBuf:
		return *smallPool.Get().(*[]byte)
	case copyBuf:
		return *copyPool.Get().(*[]byte)
	}
	pools.mu.Lock()
	if pools.large == nil {
		pools.large = map[int]*sync.Pool{}
	}
	p := pools.large[size]
	if p == nil {
		p = &sync.Pool{New: func() any { b := make([]byte, size); return &b }}
		pools.large[size] = p
	}
	pools.mu.Unlock()
	return *p.Get().(*[]byte)
}

func putBuf(b []byte) {
	b = b[:cap(b)]
	switch len(b) {
	case smallBuf:
		smallPool.Put(&b)
		return
	case copyBuf:
		copyPool.Put(&b)
		return
	}
	pools.mu.Lock()
	p := pools.large[len(b)]
	pools.mu.Unlock()
	if p != nil {
		p.Put(&b)
	}
}

// getHead lends a slice to build a head in; putHead takes it back unless it
// grew far beyond the usual size.
func getHead() []byte { return (*headPool.Get().(*[]byte))[:0] }

func putHead(b []byte) {
	if cap(b) <= 64<<10 {
		b = b[:0]
		headPool.Put(&b)
	}
}
