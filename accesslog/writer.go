package accesslog

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultWindow = time.Second
	defaultBuffer = 65536
	minTick       = 10 * time.Millisecond
)

var errClosed = errors.New("access log closed")

// Options configures one access log.
type Options struct {
	// Path is the log file, opened for appending and created 0644; "-" is
	// standard output and "" writes no file (syslog only).
	Path string
	// Syslog also ships every line to syslog as an RFC 3164 message with
	// facility local0, severity info and tag "quill": "udp://host:port",
	// "unix:///dev/log" or "unixgram:///path". "" sends nothing.
	Syslog string
	// Format is Common (default) or Combined.
	Format Format
	// Window holds each line this long after its request arrived so that
	// lines come out in arrival order although requests finish out of
	// order. Zero means one second.
	Window time.Duration
	// Buffer bounds the lines held in memory (queued, waiting out the
	// window, or waiting for the file to come back). Zero means 65536.
	Buffer int
	// Drop decides what Log does when Buffer lines are held: false blocks
	// the request until the writer catches up, so no line is lost; true
	// drops the line and counts it in Stats.Dropped, so a stuck disk
	// cannot stall the proxy.
	Drop bool
}

// Stats are a Logger's counters since Open.
type Stats struct {
	// Lines counts lines written to the file, or sent to syslog when
	// there is no file.
	Lines uint64
	// Dropped counts lines refused because the buffer was full (Drop).
	Dropped uint64
	// WriteErrors counts failed opens and writes of the file and failed
	// syslog sends.
	WriteErrors uint64
}

// Logger writes one access log. Log may be called from any number of
// goroutines; one writer goroutine owns the file.
type Logger struct {
	format Format
	window time.Duration
	max    int
	drop   bool
	now    func() time.Time

	// closedFlag lets Log skip formatting after Close without the lock.
	closedFlag atomic.Bool

	mu     sync.Mutex
	space  sync.Cond // broadcast when held falls or the Logger closes
	queue  []*line   // lines logged since the writer last collected
	held   int       // lines queued or in the reorder heap
	seq    uint64
	closed bool

	wake    chan struct{}
	reopenc chan chan error
	stop    chan struct{}
	done    chan struct{}
	// closeErr is set by the writer before done is closed.
	closeErr error

	lines, dropped, writeErrors atomic.Uint64

	// Owned by the writer goroutine.
	heap  reorder
	spare []*line
	file  *fileSink
	sys   *syslogSink
}

// Open starts an access log. The file must open now, so that a wrong path
// fails at start rather than at the first request.
func Open(o Options) (*Logger, error) {
	return open(o, openFile, time.Now)
}

func open(o Options, of openFunc, now func() time.Time) (*Logger, error) {
	switch {
	case o.Path == "" && o.Syslog == "":
		return nil, errors.New("access log: no path and no syslog target")
	case o.Format != Common && o.Format != Combined:
		return nil, fmt.Errorf("access log %q: unknown format %v", o.Path, o.Format)
	case o.Window < 0:
		return nil, fmt.Errorf("access log %q: negative window %v", o.Path, o.Window)
	case o.Buffer < 0:
		return nil, fmt.Errorf("access log %q: negative buffer %d", o.Path, o.Buffer)
	}
	l := &Logger{
		format:  o.Format,
		window:  o.Window,
		max:     o.Buffer,
		drop:    o.Drop,
		now:     now,
		wake:    make(chan struct{}, 1),
		reopenc: make(chan chan error),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	l.space.L = &l.mu
	if l.window == 0 {
		l.window = defaultWindow
	}
	if l.max == 0 {
		l.max = defaultBuffer
	}
	if o.Path != "" {
		l.file = &fileSink{path: o.Path, open: of}
		if err := l.file.openNow(); err != nil {
			return nil, fmt.Errorf("access log %q: %w", o.Path, err)
		}
	}
	if o.Syslog != "" {
		s, err := newSyslog(o.Syslog)
		if err != nil {
			if l.file != nil {
				l.file.close()
			}
			return nil, err
		}
		l.sys = s
	}
	go l.run(max(l.window/4, minTick))
	return l, nil
}

// Log queues one entry. It formats in the caller, into a pooled buffer,
// and returns at once unless the buffer is full and Drop is false.
// After Close it does nothing.
func (l *Logger) Log(e *Entry) {
	if l.closedFlag.Load() {
		return
	}
	ln := getLine()
	ln.buf = AppendCLF(ln.buf, e, l.format)
	ln.at = sortKey(e.Time)

	l.mu.Lock()
	for l.held >= l.max && !l.closed {
		if l.drop {
			l.mu.Unlock()
			l.dropped.Add(1)
			putLine(ln)
			return
		}
		// Lines that are already due can make room before the next tick.
		select {
		case l.wake <- struct{}{}:
		default:
		}
		l.space.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		putLine(ln)
		return
	}
	l.seq++
	ln.seq = l.seq
	l.queue = append(l.queue, ln)
	l.held++
	l.mu.Unlock()
}

// Reopen closes the file and opens its path again; quill calls it on
// SIGUSR1 after logrotate renamed the file. When the path cannot be
// opened, it returns the error and the writer keeps trying on every
// flush, holding lines in memory (up to Buffer) until it succeeds.
func (l *Logger) Reopen() error {
	reply := make(chan error, 1)
	select {
	case l.reopenc <- reply:
		return <-reply
	case <-l.stop:
		return errClosed
	}
}

// Close writes every held line at once, without waiting out the reorder
// window, and closes the file. If the file cannot be opened even then, the
// held lines are lost and the error says how many. Later calls to Log do
// nothing.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	l.closedFlag.Store(true)
	l.space.Broadcast()
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return l.closeErr
}

// Stats returns the counters.
func (l *Logger) Stats() Stats {
	return Stats{
		Lines:       l.lines.Load(),
		Dropped:     l.dropped.Load(),
		WriteErrors: l.writeErrors.Load(),
	}
}

// run is the writer goroutine: it collects queued lines, writes those
// whose window has passed on every tick, and serves Reopen and Close.
func (l *Logger) run(tick time.Duration) {
	defer close(l.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.wake:
		case reply := <-l.reopenc:
			// Lines already due belong to the file being rotated away.
			l.collect()
			l.flush(false)
			var err error
			if l.file != nil {
				err = l.file.reopen()
			}
			reply <- err
		case <-l.stop:
			l.collect()
			l.flush(true)
			l.closeErr = l.finish()
			return
		}
		l.collect()
		l.flush(false)
	}
}

// collect moves the queue into the reorder heap.
func (l *Logger) collect() {
	l.mu.Lock()
	q := l.queue
	l.queue = l.spare[:0]
	l.mu.Unlock()
	for i, ln := range q {
		l.heap.push(ln)
		q[i] = nil
	}
	l.spare = q
}

// flush writes the lines whose window has passed, or all of them. While
// the file cannot be opened it writes nothing, so the lines stay held.
func (l *Logger) flush(all bool) {
	if l.file != nil {
		n, err := l.file.ready()
		l.lines.Add(uint64(n))
		if err != nil {
			l.writeErrors.Add(1)
			return
		}
	}
	now := l.now()
	cutoff := int64(math.MaxInt64)
	if !all {
		cutoff = sortKey(now.Add(-l.window))
	}
	released := 0
	for {
		ln := l.heap.ready(cutoff)
		if ln == nil {
			break
		}
		released++
		if l.sys != nil {
			if err := l.sys.send(ln.buf, now); err != nil {
				l.writeErrors.Add(1)
			} else if l.file == nil {
				l.lines.Add(1)
			}
		}
		if l.file != nil {
			n, err := l.file.add(ln.buf)
			l.lines.Add(uint64(n))
			if err != nil {
				l.writeErrors.Add(1)
				putLine(ln)
				break
			}
		}
		putLine(ln)
	}
	if l.file != nil && l.file.lines > 0 && l.file.f != nil {
		n, err := l.file.write()
		l.lines.Add(uint64(n))
		if err != nil {
			l.writeErrors.Add(1)
		}
	}
	if released > 0 {
		l.mu.Lock()
		l.held -= released
		l.space.Broadcast()
		l.mu.Unlock()
	}
}

// finish closes the outputs after the final flush and reports lines that
// could not be written because the file never came back.
func (l *Logger) finish() error {
	var errs []error
	lost := len(l.heap)
	for _, ln := range l.heap {
		putLine(ln)
	}
	l.heap = nil
	if l.file != nil {
		lost += l.file.lines
		if lost > 0 {
			errs = append(errs, fmt.Errorf("access log %q: %d lines not written", l.file.path, lost))
		}
		errs = append(errs, l.file.close())
	}
	if l.sys != nil {
		errs = append(errs, l.sys.close())
	}
	return errors.Join(errs...)
}

// sortKey is t in Unix nanoseconds, clamped where that overflows.
func sortKey(t time.Time) int64 {
	const limit = math.MaxInt64/int64(time.Second) - 1
	switch s := t.Unix(); {
	case s < -limit:
		return math.MinInt64
	case s > limit:
		return math.MaxInt64
	}
	return t.UnixNano()
}
