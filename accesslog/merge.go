package accesslog

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

const (
	// mergeReadSize is each input's read buffer; lines longer than this are
	// still handled, by copying them aside.
	mergeReadSize = 256 << 10
	// mergeWriteSize batches output into few large writes.
	mergeWriteSize = 1 << 20
)

// MergeStats counts what a merge wrote.
type MergeStats struct {
	// Lines is every line written, Unparsed included.
	Lines int
	// Unparsed counts lines without a readable [time] field; they are kept,
	// right after the line before them in their own input.
	Unparsed int
}

// Merge writes the lines of all inputs to w in time order, as `quill logs
// merge` and Debian's mergelog do.
//
// It is a streaming k-way merge: one current line per input sits in a
// min-heap keyed by its instant, so memory does not grow with the inputs.
// Equal instants keep input order (inputs in the order given, then lines
// in file order), which is also mergelog's order. Unlike mergelog, lines
// compare by absolute instant, so logs written with different UTC offsets
// interleave correctly; a line without a readable time is kept, taking the
// time of the line before it in its input (or sorting first when it opens
// its input), where mergelog aborts. gzip-compressed inputs are recognised
// by their magic bytes and read transparently, as zmergelog does. A last
// line without a newline gets one, so it cannot run into the next.
func Merge(w io.Writer, inputs []io.Reader) (MergeStats, error) {
	names := make([]string, len(inputs))
	for i := range names {
		names[i] = "input " + strconv.Itoa(i+1)
	}
	return merge(w, inputs, names)
}

// MergeFiles merges the named files as Merge does; "-" reads standard
// input. Each file may be plain or gzip, told apart by content, not name.
func MergeFiles(w io.Writer, paths []string) (MergeStats, error) {
	inputs := make([]io.Reader, len(paths))
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = strconv.Quote(p)
		if p == "-" {
			inputs[i] = os.Stdin
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return MergeStats{}, fmt.Errorf("merge %q: %w", p, err)
		}
		defer f.Close()
		inputs[i] = f
	}
	return merge(w, inputs, names)
}

// source is one input of a merge and its current line.
type source struct {
	name string
	idx  int
	r    *bufio.Reader
	gz   *gzip.Reader
	// line is the current line: a slice of r's buffer, valid until r is
	// read again, or of long for lines that do not fit the buffer.
	line []byte
	long []byte
	// sec is the instant of line, or of the last parsed line before it.
	sec int64
}

// next reads the following line; it returns false at the end of input.
func (s *source) next(st *MergeStats) (bool, error) {
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.long = append(s.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = s.r.ReadSlice('\n')
			s.long = append(s.long, line...)
		}
		line = s.long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("merge %s: %w", s.name, err)
	}
	if len(line) == 0 {
		return false, nil
	}
	s.line = line
	if sec, ok := parseStamp(line); ok {
		s.sec = sec
	} else {
		st.Unparsed++
	}
	return true, nil
}

func (s *source) close() {
	if s.gz != nil {
		s.gz.Close()
	}
}

func merge(w io.Writer, inputs []io.Reader, names []string) (MergeStats, error) {
	var st MergeStats
	h := make(sourceHeap, 0, len(inputs))
	defer func() {
		for _, s := range h {
			s.close()
		}
	}()
	for i, in := range inputs {
		s, err := openSource(in, i, names[i])
		if err != nil {
			return st, err
		}
		ok, err := s.next(&st)
		if err != nil {
			s.close()
			return st, err
		}
		if !ok {
			s.close()
			continue
		}
		h = append(h, s)
	}
	h.init()

	bw := bufio.NewWriterSize(w, mergeWriteSize)
	for len(h) > 0 {
		s := h[0]
		if _, err := bw.Write(s.line); err != nil {
			return st, fmt.Errorf("merge: write: %w", err)
		}
		if s.line[len(s.line)-1] != '\n' {
			bw.WriteByte('\n')
		}
		st.Lines++
		ok, err := s.next(&st)
		if err != nil {
			return st, err
		}
		if ok {
			h.down(0)
			continue
		}
		s.close()
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		h.down(0)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("merge: write: %w", err)
	}
	return st, nil
}

// openSource wraps in for line reading, decompressing it when it starts
// with the gzip magic bytes 1f 8b.
func openSource(in io.Reader, idx int, name string) (*source, error) {
	s := &source{name: name, idx: idx, sec: math.MinInt64}
	br := bufio.NewReaderSize(in, mergeReadSize)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("merge %s: %w", name, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("merge %s: gzip: %w", name, err)
		}
		s.gz = gz
		br = bufio.NewReaderSize(gz, mergeReadSize)
	}
	s.r = br
	return s, nil
}

// sourceHeap orders inputs by (instant, input index); the index makes
// equal instants come out in input order.
type sourceHeap []*source

func (h sourceHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	return a.sec < b.sec || a.sec == b.sec && a.idx < b.idx
}

func (h sourceHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h sourceHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
