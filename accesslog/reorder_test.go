package accesslog

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReorderWindow drives the writer with a fake clock: lines are held
// for the window after their arrival and come out sorted.
func TestReorderWindow(t *testing.T) {
	const window = 40 * time.Millisecond // ticks every 10ms of real time
	t0 := time.Date(2024, 10, 10, 13, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type step struct {
		log     []time.Time // arrival times logged, URI "/<index>" in logging order
		advance time.Time   // then the clock moves here
		want    []string    // and the file holds these URIs
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "out of order within the window comes out sorted",
			steps: []step{
				{log: []time.Time{ms(12), ms(4), ms(8), ms(0)}, advance: ms(52), want: []string{"/3", "/1", "/2", "/0"}},
			},
		},
		{
			name: "held until the window has passed",
			steps: []step{
				{log: []time.Time{ms(0), ms(20)}, advance: ms(39), want: nil},
				{advance: ms(40), want: []string{"/0"}},
				{advance: ms(60), want: []string{"/0", "/1"}},
			},
		},
		{
			name: "equal times keep the order of Log calls",
			steps: []step{
				{log: []time.Time{ms(5), ms(5), ms(1), ms(5)}, advance: ms(80), want: []string{"/2", "/0", "/1", "/3"}},
			},
		},
		{
			name: "older than the window comes out when it arrives",
			steps: []step{
				{log: []time.Time{ms(-200)}, advance: ms(0), want: []string{"/0"}},
			},
		},
		{
			name: "slower than the window is written after newer lines",
			steps: []step{
				{log: []time.Time{ms(-20)}, advance: ms(24), want: []string{"/0"}},
				// Its request arrived before /0 but took longer than the window.
				{log: []time.Time{ms(-32)}, advance: ms(24), want: []string{"/0", "/1"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: t0}
			path := filepath.Join(t.TempDir(), "access.log")
			l, err := open(Options{Path: path, Window: window}, openFile, clock.now)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			n := 0
			for i, s := range tt.steps {
				for _, at := range s.log {
					l.Log(entry(fmt.Sprintf("/%d", n), at))
					n++
				}
				clock.set(s.advance)
				waitFor(t, fmt.Sprintf("step %d: %d lines", i, len(s.want)), func() bool { return l.Stats().Lines >= uint64(len(s.want)) })
				// A few more ticks: nothing else may come out at this time.
				time.Sleep(3 * window / 4)
				if got := uris(t, readLines(t, path)); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: file holds %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

// TestCloseFlushes checks that Close writes held lines sorted without
// waiting out the window, and that the Logger is inert afterwards.
func TestCloseFlushes(t *testing.T) {
	tests := []struct {
		name  string
		lines int
	}{
		{name: "one line", lines: 1},
		{name: "many lines in reverse", lines: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			l, err := Open(Options{Path: path, Window: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			var want []string
			for i := tt.lines - 1; i >= 0; i-- {
				l.Log(entry(fmt.Sprintf("/%04d", i), now.Add(time.Duration(i)*time.Millisecond)))
			}
			for i := range tt.lines {
				want = append(want, fmt.Sprintf("/%04d", i))
			}
			start := time.Now()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Close took %v", d)
			}
			if got := uris(t, readLines(t, path)); !slices.Equal(got, want) {
				t.Fatalf("file holds %q, want %q", got, want)
			}
			l.Log(entry("/after-close", now))
			if err := l.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := l.Reopen(); err == nil {
				t.Fatal("Reopen after Close succeeded")
			}
			if got := readLines(t, path); len(got) != tt.lines {
				t.Fatalf("Log after Close wrote: %d lines", len(got))
			}
			if st := l.Stats(); st != (Stats{Lines: uint64(tt.lines)}) {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// stuckFile blocks every write until released, like a hung disk.
type stuckFile struct {
	entered chan struct{} // receives when a write starts
	release chan struct{} // closed to let writes through
	mu      sync.Mutex
	data    []byte
}

func (f *stuckFile) Write(p []byte) (int, error) {
	select {
	case f.entered <- struct{}{}:
	default:
	}
	<-f.release
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = append(f.data, p...)
	return len(p), nil
}

func (f *stuckFile) Close() error { return nil }

func (f *stuckFile) lines() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Count(string(f.data), "\n")
}

// TestFullBuffer fills the buffer while the writer is stuck in a write:
// Drop counts what it refuses, blocking mode holds the caller instead.
func TestFullBuffer(t *testing.T) {
	tests := []struct {
		name        string
		drop        bool
		wantDropped uint64
		wantLines   int
	}{
		// One line is in the stuck write; the buffer of 4 takes 4 more
		// (the stuck line is still counted until its write returns).
		{name: "drop counts", drop: true, wantDropped: 7, wantLines: 4},
		{name: "block loses nothing", drop: false, wantDropped: 0, wantLines: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &stuckFile{entered: make(chan struct{}, 1), release: make(chan struct{})}
			of := func(string) (io.WriteCloser, error) { return f, nil }
			l, err := open(Options{Path: "stuck", Window: 10 * time.Millisecond, Buffer: 4, Drop: tt.drop}, of, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Minute)
			l.Log(entry("/first", old))
			select {
			case <-f.entered:
			case <-time.After(5 * time.Second):
				t.Fatal("writer never wrote")
			}
			var returned atomic.Int32
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := range 10 {
					l.Log(entry(fmt.Sprintf("/%d", i), old))
					returned.Add(1)
				}
			}()
			if tt.drop {
				<-done
			} else {
				time.Sleep(50 * time.Millisecond)
				if n := returned.Load(); n != 3 {
					t.Fatalf("%d Log calls returned while the buffer was full, want 3", n)
				}
			}
			close(f.release)
			<-done
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if n := f.lines(); n != tt.wantLines {
				t.Fatalf("%d lines written, want %d", n, tt.wantLines)
			}
			st := l.Stats()
			if st.Dropped != tt.wantDropped || st.Lines != uint64(tt.wantLines) {
				t.Fatalf("stats = %+v, want %d dropped, %d lines", st, tt.wantDropped, tt.wantLines)
			}
		})
	}
}

// TestNoLoss logs from many goroutines in blocking mode and finds every
// line exactly once in the file.
func TestNoLoss(t *testing.T) {
	tests := []struct {
		name       string
		buffer     int
		goroutines int
		each       int
	}{
		{name: "small buffer keeps callers waiting", buffer: 64, goroutines: 16, each: 250},
		{name: "default buffer", buffer: 0, goroutines: 8, each: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			l, err := Open(Options{Path: path, Window: 20 * time.Millisecond, Buffer: tt.buffer})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range tt.goroutines {
				wg.Go(func() {
					for i := range tt.each {
						// Arrival times up to 40ms back: some lines are due at once.
						at := time.Now().Add(-time.Duration(i%40) * time.Millisecond)
						l.Log(entry(fmt.Sprintf("/g%d/%d", g, i), at))
					}
				})
			}
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got := uris(t, readLines(t, path))
			total := tt.goroutines * tt.each
			seen := make(map[string]int, total)
			for _, u := range got {
				seen[u]++
			}
			if len(got) != total || len(seen) != total {
				t.Fatalf("%d lines, %d distinct, want %d", len(got), len(seen), total)
			}
			if st := l.Stats(); st != (Stats{Lines: uint64(total)}) {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// failingFile fails writes once room bytes are used, as a full disk does.
type failingFile struct {
	mu   sync.Mutex
	room int
	data []byte
}

func (f *failingFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := min(len(p), f.room)
	f.data = append(f.data, p[:n]...)
	f.room -= n
	if n < len(p) {
		return n, errors.New("no space left on device")
	}
	return n, nil
}

func (f *failingFile) Close() error { return nil }

// TestWriteErrorKeepsTail checks that a partial write is finished later
// without duplicating or losing bytes.
func TestWriteErrorKeepsTail(t *testing.T) {
	f := &failingFile{room: 100}
	var opens atomic.Int32
	of := func(string) (io.WriteCloser, error) { opens.Add(1); return f, nil }
	l, err := open(Options{Path: "full", Window: 10 * time.Millisecond}, of, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	for i := range 5 {
		l.Log(entry(fmt.Sprintf("/%d", i), old.Add(time.Duration(i)*time.Second)))
	}
	waitFor(t, "a write error", func() bool { return l.Stats().WriteErrors > 0 })
	// The writer reopens and retries; once room is made, all gets through.
	f.mu.Lock()
	f.room = 1 << 20
	f.mu.Unlock()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 5 {
		want.WriteString(fmt.Sprintf("/%d\n", i))
	}
	got := strings.Join(uris(t, strings.Split(strings.TrimSuffix(string(f.data), "\n"), "\n")), "\n") + "\n"
	if got != want.String() {
		t.Fatalf("file holds %q, want %q", got, want.String())
	}
	if st := l.Stats(); st.Lines != 5 || st.WriteErrors == 0 {
		t.Fatalf("stats = %+v", st)
	}
	if opens.Load() < 2 {
		t.Fatalf("file opened %d times, want a reopen after the error", opens.Load())
	}
}
