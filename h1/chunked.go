package h1

// Bounds of chunked framing, those of net/http's server so that a backend
// in Go never refuses what quill passed on.
const (
	// maxChunkLine bounds a chunk-size line, extensions included and its
	// CRLF not: the whole line fits net/http's 4096-byte read buffer.
	maxChunkLine = 4096 - 2
	// maxChunkExcess is how far chunk lines may outgrow the data they
	// carry: 16 bytes a chunk and twice its data are free, the rest adds
	// up (net/http/internal/chunked.go).
	maxChunkExcess = 16 << 10
	// maxTrailerBytes bounds the trailer section with its final CRLF,
	// which net/http looks for within its 4096-byte read buffer.
	maxTrailerBytes = 4096
	// maxTrailerFields bounds the trailer fields.
	maxTrailerFields = DefaultMaxFields
)

// chunkState is where a Chunked stands in the body.
type chunkState uint8

const (
	chSize         chunkState = iota // in the hex digits of a chunk-size line
	chSizeWS                         // in whitespace after the chunk size
	chExt                            // in a chunk extension
	chSizeLF                         // after the CR that ends a chunk-size line
	chData                           // in chunk data
	chDataCR                         // expecting the CR after chunk data
	chDataLF                         // expecting the LF after chunk data
	chTrailerStart                   // at a trailer line, or at the final CRLF
	chTrailerName                    // in a trailer field name
	chTrailerValue                   // in a trailer field value
	chTrailerLF                      // after the CR that ends a trailer field
	chEndLF                          // after the CR of the final CRLF
	chDone                           // past the final CRLF
)

// Chunked follows a chunked body (RFC 9112 §7.1) in a byte stream without
// copying it, so that the proxy can pass the bytes through unchanged while
// refusing malformed framing. Lines end in CRLF only: RFC 9112 §2.2's bare
// LF is for heads, never for chunked framing (erratum 7633), and a reader
// that took one here would see other chunks than the backend does. The
// zero Chunked is ready for a body's first byte.
type Chunked struct {
	state   chunkState
	digits  uint8
	size    uint64 // of the chunk line being read, then what is left of the chunk
	line    int    // bytes of the chunk line so far, its CRLF left out
	excess  int64
	trailer int // bytes of the trailer section so far
	fields  int
	data    int64
	err     *Error
}

// Reset makes c ready for the next body.
func (c *Chunked) Reset() {
	*c = Chunked{}
}

// DataBytes is how many bytes of chunk data the body has carried so far:
// its length once decoded.
func (c *Chunked) DataBytes() int64 {
	return c.data
}

// Scan consumes the bytes of p that belong to the body (chunk lines, data,
// the last chunk, the trailer section, the final CRLF). It returns how many
// were consumed and done when the body ended at p[n-1]; after that it
// consumes nothing and reports done until Reset. An error means malformed
// framing, and stays: the connection cannot be read further.
func (c *Chunked) Scan(p []byte) (n int, done bool, err error) {
	return c.scan(p, nil)
}

// scan is Scan, handing chunk data to sink when it is not nil.
func (c *Chunked) scan(p []byte, sink func([]byte)) (int, bool, error) {
	if c.err != nil {
		return 0, false, c.err
	}
	i := 0
	for i < len(p) {
		if c.state == chData {
			k := len(p) - i
			if uint64(k) > c.size {
				k = int(c.size)
			}
			if sink != nil {
				sink(p[i : i+k])
			}
			i += k
			c.size -= uint64(k)
			c.data += int64(k)
			if c.size == 0 {
				c.state = chDataCR
			}
			continue
		}
		if c.state == chDone {
			return i, true, nil
		}
		if e := c.step(p[i]); e != nil {
			c.err = e
			return i, false, e
		}
		i++
	}
	return i, c.state == chDone, nil
}

// step takes one byte outside chunk data.
func (c *Chunked) step(b byte) *Error {
	switch c.state {
	case chSize, chSizeWS, chExt:
		if b != '\r' && b != '\n' {
			c.line++
			if c.line > maxChunkLine {
				return errChunkLine
			}
		}
		return c.sizeLine(b)
	case chSizeLF:
		if b != '\n' {
			return errBareCR
		}
		return c.endSizeLine()
	case chDataCR:
		if b != '\r' {
			return errChunkDataEnd
		}
		c.state = chDataLF
	case chDataLF:
		if b != '\n' {
			return errChunkDataEnd
		}
		c.state, c.digits, c.size, c.line = chSize, 0, 0, 0
	default:
		c.trailer++
		if c.trailer > maxTrailerBytes {
			return errTrailerSize
		}
		return c.trailerByte(b)
	}
	return nil
}

// sizeLine takes a byte of `chunk-size [chunk-ext] CRLF`. Like net/http,
// whitespace may follow the size, but not come before a ';' ("5 ;x").
func (c *Chunked) sizeLine(b byte) *Error {
	switch c.state {
	case chSize:
		if d, ok := hexValue(b); ok {
			if c.digits == 16 {
				return errChunkSizeLong
			}
			c.size = c.size<<4 | d
			c.digits++
			return nil
		}
		if c.digits == 0 {
			return errChunkSize
		}
		switch b {
		case ';':
			c.state = chExt
		case ' ', '\t':
			c.state = chSizeWS
		case '\r':
			c.state = chSizeLF
		case '\n':
			return errChunkBareLF
		default:
			return errChunkSize
		}
	case chSizeWS:
		switch b {
		case ' ', '\t':
		case '\r':
			c.state = chSizeLF
		case '\n':
			return errChunkBareLF
		default:
			return errChunkSize
		}
	case chExt:
		// Extensions are passed on, not read: any visible bytes, but no
		// control that a backend might take as a line end.
		switch {
		case b == '\r':
			c.state = chSizeLF
		case b == '\n':
			return errChunkBareLF
		case !valueByte[b]:
			return errChunkExt
		}
	}
	return nil
}

// endSizeLine ends a chunk-size line: data follows, or the trailer section
// after the last chunk.
func (c *Chunked) endSizeLine() *Error {
	c.excess += int64(c.line) + 2
	c.excess -= 16 + 2*int64(min(c.size, 1<<40))
	c.excess = max(c.excess, 0)
	if c.excess > maxChunkExcess {
		return errChunkOverhead
	}
	if c.size == 0 {
		c.state = chTrailerStart
		return nil
	}
	c.state = chData
	return nil
}

// trailerByte takes a byte of the trailer section (RFC 9112 §7.1.2), whose
// fields follow the rules of a head's, but end in CRLF only.
func (c *Chunked) trailerByte(b byte) *Error {
	switch c.state {
	case chTrailerStart:
		switch {
		case b == '\r':
			c.state = chEndLF
		case b == '\n':
			return errChunkBareLF
		case b == ' ' || b == '\t':
			return errFolded
		case b == ':':
			return errEmptyName
		case !tokenByte[b]:
			return errNameByte
		default:
			c.fields++
			if c.fields > maxTrailerFields {
				return errTrailerCount
			}
			c.state = chTrailerName
		}
	case chTrailerName:
		switch {
		case tokenByte[b]:
		case b == ':':
			c.state = chTrailerValue
		case b == ' ' || b == '\t':
			return errNameSpace
		case b == '\r' || b == '\n':
			return errNoColon
		default:
			return errNameByte
		}
	case chTrailerValue:
		switch {
		case b == '\r':
			c.state = chTrailerLF
		case b == '\n':
			return errChunkBareLF
		case !valueByte[b]:
			return errValueByte
		}
	case chTrailerLF:
		if b != '\n' {
			return errBareCR
		}
		c.state = chTrailerStart
	case chEndLF:
		if b != '\n' {
			return errBareCR
		}
		c.state = chDone
	}
	return nil
}

func hexValue(b byte) (uint64, bool) {
	switch {
	case '0' <= b && b <= '9':
		return uint64(b - '0'), true
	case 'a' <= b && b <= 'f':
		return uint64(b - 'a' + 10), true
	case 'A' <= b && b <= 'F':
		return uint64(b - 'A' + 10), true
	}
	return 0, false
}
