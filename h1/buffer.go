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
	smallPool = sync.Pool{New: func() any { return new([smallBuf]byte) }}
	copyPool  = sync.Pool{New: func() any { return new([copyBuf]byte) }}
	headPool  = sync.Pool{New: func() any { return &HeadWriter{b: make([]byte, 0, 2048)} }}
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
		return smallPool.Get().(*[smallBuf]byte)[:]
	case copyBuf:
		return copyPool.Get().(*[copyBuf]byte)[:]
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
		// A pointer to the array, not to a slice header, so that giving
		// the buffer back allocates nothing.
		smallPool.Put((*[smallBuf]byte)(b))
		return
	case copyBuf:
		copyPool.Put((*[copyBuf]byte)(b))
		return
	}
	putLarge(b)
}

// putLarge is apart from putBuf because &b moves b to the heap, which
// putBuf must not pay for on the common sizes.
func putLarge(b []byte) {
	pools.mu.Lock()
	p := pools.large[len(b)]
	pools.mu.Unlock()
	if p != nil {
		p.Put(&b)
	}
}

// getHead lends a HeadWriter to build a head in; putHead takes it back
// unless it grew far beyond the usual size.
func getHead() *HeadWriter {
	w := headPool.Get().(*HeadWriter)
	w.b = w.b[:0]
	return w
}

func putHead(w *HeadWriter) {
	if cap(w.b) <= 64<<10 {
		headPool.Put(w)
	}
}
