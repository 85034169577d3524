package accesslog

import "sync"

// line is one formatted entry on its way to the writer.
type line struct {
	// at is the request's arrival, in Unix nanoseconds: the sort key.
	at int64
	// seq breaks ties between equal times in the order Log was called.
	seq uint64
	buf []byte
}

// maxPooledLine keeps a rare huge line (a URI of many kilobytes) from
// pinning its buffer in the pool for ever.
const maxPooledLine = 16 << 10

var linePool = sync.Pool{New: func() any { return &line{buf: make([]byte, 0, 256)} }}

func getLine() *line { return linePool.Get().(*line) }

func putLine(ln *line) {
	if cap(ln.buf) > maxPooledLine {
		return
	}
	ln.buf = ln.buf[:0]
	linePool.Put(ln)
}

// reorder holds lines until their reorder window has passed, so that
// requests which finish out of order are still written in arrival order.
// It is a min-heap by (time, sequence) owned by the writer goroutine.
type reorder []*line

func (h reorder) less(i, j int) bool {
	a, b := h[i], h[j]
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (h *reorder) push(ln *line) {
	*h = append(*h, ln)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// ready pops the oldest line if it arrived at or before cutoff. A line
// older than lines already written (its request outlasted the window) is
// always ready, so it is written as soon as it comes, under its own
// arrival time, as Apache does.
func (h *reorder) ready(cutoff int64) *line {
	s := *h
	if len(s) == 0 || s[0].at > cutoff {
		return nil
	}
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	*h = s
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	return top
}
