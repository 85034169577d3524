package accesslog

import (
	"fmt"
	"io"
	"os"
)

// batchSize is how many bytes the file sink gathers before one write; the
// batch is written at the end of every flush in any case, so `tail -f`
// sees lines promptly.
const batchSize = 64 << 10

// openFunc opens the log file by path; tests substitute it.
type openFunc func(path string) (io.WriteCloser, error)

// openFile opens path for appending, creating it 0644 as logrotate and
// webalizer expect; "-" is standard output.
func openFile(path string) (io.WriteCloser, error) {
	if path == "-" {
		return stdout{}, nil
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
}

// stdout is standard output, which Close must leave open.
type stdout struct{}

func (stdout) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdout) Close() error                { return nil }

// fileSink owns the log file for the writer goroutine. When the file
// cannot be opened or written, it keeps what it could not write and tries
// again on the next flush, so a rotation gone wrong (a directory removed,
// a full disk) delays lines instead of losing them.
type fileSink struct {
	path string
	open openFunc
	// f is nil while the file is closed for a reopen or could not be opened.
	f io.WriteCloser
	// batch holds formatted lines not yet written; lines counts them.
	batch []byte
	lines int
}

// ready opens the file if needed and writes what an earlier failure left.
// The writer only moves lines out of the reorder heap once it succeeds, so
// unwritten lines stay within the Logger's Buffer limit.
func (s *fileSink) ready() (written int, err error) {
	if err := s.openNow(); err != nil {
		return 0, fmt.Errorf("access log %q: %w", s.path, err)
	}
	if len(s.batch) == 0 {
		return 0, nil
	}
	return s.write()
}

// add queues one formatted line, writing the batch when it is large.
func (s *fileSink) add(b []byte) (written int, err error) {
	s.batch = append(s.batch, b...)
	s.lines++
	if len(s.batch) < batchSize {
		return 0, nil
	}
	return s.write()
}

// write writes the batch; on failure it keeps the unwritten tail and
// closes the file so that the next attempt opens the path afresh.
func (s *fileSink) write() (written int, err error) {
	if s.f == nil {
		return 0, fmt.Errorf("access log %q: not open", s.path)
	}
	n, err := s.f.Write(s.batch)
	if err != nil {
		s.batch = s.batch[:copy(s.batch, s.batch[n:])]
		s.f.Close()
		s.f = nil
		return 0, fmt.Errorf("access log %q: write: %w", s.path, err)
	}
	written = s.lines
	s.batch = s.batch[:0]
	s.lines = 0
	if cap(s.batch) > 4*batchSize {
		s.batch = nil
	}
	return written, nil
}

// reopen closes the file and opens the path again, for logrotate's
// rename-then-signal rotation.
func (s *fileSink) reopen() error {
	if s.path == "-" {
		return nil
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if err := s.openNow(); err != nil {
		return fmt.Errorf("access log %q: reopen: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) openNow() error {
	if s.f != nil {
		return nil
	}
	f, err := s.open(s.path)
	if err != nil {
		return err
	}
	s.f = f
	return nil
}

func (s *fileSink) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("access log %q: close: %w", s.path, err)
	}
	return nil
}
