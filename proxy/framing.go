package proxy

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
)

// Go's HTTP/1 server repairs ambiguous request framing instead of refusing
// it: given both Content-Length and Transfer-Encoding: chunked it drops the
// Content-Length, reads the chunked body and keeps the connection open for
// whatever follows; it merges identical duplicate Content-Length fields; it
// unfolds obsolete line folding; it ignores Transfer-Encoding in HTTP/1.0.
// A front proxy that framed the same bytes another way would make quill
// serve a request the front never saw (request smuggling). RFC 9112 §6.3
// says such messages ought to be handled as errors, but by the time a
// handler runs the evidence is gone from http.Request, so framingConn
// watches the raw bytes on their way into net/http and the handler asks it,
// by request number, whether the head it is serving was ambiguous.

// Reasons a request head is refused. They are constants so that recording
// one on the read path never allocates, and so that no client bytes end up
// in logs through them.
const (
	reasonCLAndTE      = "both Content-Length and Transfer-Encoding"
	reasonManyCL       = "more than one Content-Length field"
	reasonCLList       = "Content-Length holds a list"
	reasonCLSyntax     = "Content-Length is not a decimal number"
	reasonCLRange      = "Content-Length out of range"
	reasonManyTE       = "more than one Transfer-Encoding field"
	reasonTENotChunked = "Transfer-Encoding other than chunked"
	reasonTEHTTP10     = "Transfer-Encoding in an HTTP/1.0 request"
	reasonFolded       = "obsolete line folding"
	reasonNameSpace    = "whitespace in a header field name"
	reasonNoColon      = "header line without a colon"
	reasonChunked      = "malformed chunked body in the previous request"
)

const (
	clName        = "content-length"
	teName        = "transfer-encoding"
	chunkedCoding = "chunked"
	http10Proto   = "HTTP/1.0"
	// h2PriorKnowledge is the request line of HTTP/2 with prior knowledge; what
	// follows it is binary framing, not HTTP/1.
	h2PriorKnowledge = "PRI * HTTP/2.0"
	// maxChunkLine is net/http's limit on a chunk-size line without its
	// CRLF (maxLineLength in net/http/internal/chunked.go).
	maxChunkLine     = 4096
	maxContentLength = 1<<63 - 1 // net/http parses Content-Length with bitSize 63
)

// framingState is where the scanner stands in the request stream.
type framingState uint8

const (
	stStart        framingState = iota // before a request line; CR and LF are skipped
	stRequestLine                      // in the request line
	stLineStart                        // at the first byte of a header line
	stName                             // in a header field name
	stValue                            // in a Content-Length or Transfer-Encoding value
	stValueSkip                        // in any other value, up to its LF
	stBody                             // in a Content-Length body
	stChunkSize                        // in the hex digits of a chunk-size line
	stChunkSizeOWS                     // in whitespace after the chunk size
	stChunkExt                         // in a chunk extension
	stChunkLF                          // after the CR that ends a chunk-size line
	stChunkData                        // in chunk data
	stChunkDataCR                      // expecting the CR after chunk data
	stChunkDataLF                      // expecting the LF after chunk data
	stTrailerStart                     // at the first byte of a trailer line
	stTrailerCR                        // after a CR that opens a trailer line
	stTrailer                          // in a trailer line, up to its LF
	stOff                              // not scanning: framing was bad or the stream is not HTTP/1
)

// fieldKind says which framing field a header line carries.
type fieldKind uint8

const (
	fieldCL fieldKind = iota + 1
	fieldTE
)

// valueState is where the scanner stands inside a framing field's value.
type valueState uint8

const (
	valLead  valueState = iota // leading whitespace
	valWord                    // the digits, or the letters of "chunked"
	valTrail                   // trailing whitespace
	valJunk                    // anything else: the value is refused
)

// framingVerdict is the first request head on a connection whose framing
// was refused.
type framingVerdict struct {
	index  int
	reason string
}

// framingConn wraps a connection accepted by a plain-HTTP listener, or one
// whose TLS is already terminated, and scans the HTTP/1.x request stream as
// net/http reads it. It follows message framing exactly as net/http does for
// the requests it accepts (bodies by Content-Length or chunked encoding, no
// body otherwise), so it stays in step across keep-alive and pipelined
// requests, and it records the index of the first request head whose framing
// is ambiguous. Once it has found one it stops scanning, since the
// connection is closed after that request's 400.
//
// Being in step only matters for what net/http accepts: where net/http would
// refuse the bytes (a chunk-size line ending in a bare LF, a CR inside a
// header name, a missing Host), it answers with an error and closes the
// connection itself, so the scanner may be more lenient there. It is never
// stricter about body framing than net/http, since that would shift the
// request count.
//
// Read must not be called concurrently with itself, which net/http
// guarantees; BadRequest and Opaque may be called from any goroutine.
type framingConn struct {
	net.Conn

	opaque  atomic.Bool
	verdict atomic.Pointer[framingVerdict]
	served  atomic.Int64 // HTTP/1 requests passed to framingCheck

	// refused, if set, learns of requests net/http answered itself.
	refused func(c net.Conn, status int, requestLine string)

	// The scanner below is touched only by Read.
	state framingState
	cr    bool // a CR is held back: it belongs to the line unless LF follows
	heads int  // complete request heads so far, i.e. the index of the current one

	// request line
	reqLine  [maxLoggedLine]byte // its first bytes, for logging a refusal
	reqLen   int
	lineLen  int
	spaces   int
	protoLen int
	pri      bool // the line still matches h2PriorKnowledge
	http10   bool // the protocol still matches "HTTP/1.0"

	// header line
	nameLen int
	isCL    bool // the name still matches "content-length"
	isTE    bool // the name still matches "transfer-encoding"
	field   fieldKind
	val     valueState
	vpos    int    // digits read, or letters of "chunked" matched
	num     uint64 // the Content-Length value so far
	over    bool   // the Content-Length value passed maxContentLength
	comma   bool   // the value held a comma

	// head
	clCount int
	teCount int
	length  uint64 // Content-Length of the current head

	// left is what remains of a Content-Length body or of a chunk.
	left uint64
}

// newFramingConn starts scanning c at the beginning of its first request.
func newFramingConn(c net.Conn) *framingConn {
	return &framingConn{Conn: c}
}

// Read scans exactly the bytes the wrapped connection returns, whatever way
// they are split, before handing them to net/http: by the time a handler
// runs for request n, head n has been scanned.
func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.opaque.Load() {
		c.scan(p[:n])
	}
	return n, err
}

// CloseWrite reaches the wrapped connection's half-close, which net/http
// uses before it hangs up on a client that may still be sending, so that the
// client is not reset before it reads the error response.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// BadRequest reports whether request number n on this connection (0-based,
// in the order net/http hands requests to the handler) had ambiguous
// framing, and why. Requests after a bad one are reported bad too: the
// scanner has lost its place in the stream, so nothing after it can be
// trusted. Results are keyed by number because net/http reads ahead (a
// pipelined request, or its background read) and the scanner may be a head
// or two ahead of the handler.
func (c *framingConn) BadRequest(n int) (reason string, bad bool) {
	v := c.verdict.Load()
	if v == nil || n < v.index {
		return "", false
	}
	return v.reason, true
}

// Opaque stops scanning, for when the bytes that follow are no longer
// HTTP/1 requests: after a 101 Switching Protocols (WebSocket) or a hijack.
func (c *framingConn) Opaque() {
	c.opaque.Store(true)
}

// reject records the first bad head and stops scanning.
func (c *framingConn) reject(index int, reason string) {
	c.state = stOff
	c.verdict.CompareAndSwap(nil, &framingVerdict{index: index, reason: reason})
}

// scan advances the state machine over p. Bodies and uninteresting header
// values are skipped in bulk; everything else is taken a byte at a time.
func (c *framingConn) scan(p []byte) {
	for len(p) > 0 {
		switch c.state {
		case stOff:
			return
		case stBody, stChunkData:
			n := min(uint64(len(p)), c.left)
			c.left -= n
			p = p[n:]
			if c.left == 0 {
				if c.state == stBody {
					c.state = stStart
				} else {
					c.state = stChunkDataCR
				}
			}
		case stValueSkip, stTrailer:
			// A CR inside these lines changes nothing: net/http either
			// drops it before the LF or refuses the line.
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return
			}
			p = p[i+1:]
			if c.state == stValueSkip {
				c.state = stLineStart
			} else {
				c.state = stTrailerStart
			}
		case stRequestLine, stLineStart, stName, stValue:
			// Most names match neither framing field from their first
			// byte, and the target is of no interest: both run up to the
			// next byte that ends them.
			if !c.cr && (c.state == stName && !c.isCL && !c.isTE ||
				c.state == stRequestLine && c.spaces == 1 && !c.pri) {
				i := 0
				for i < len(p) && !headDelim[p[i]] {
					i++
				}
				if c.state == stRequestLine {
					c.reqLen += copy(c.reqLine[c.reqLen:], p[:i])
				}
				if i == len(p) {
					return
				}
				p = p[i:]
			}
			c.headByte(p[0])
			p = p[1:]
		default:
			c.step(p[0])
			p = p[1:]
		}
	}
}

// headByte applies net/http's line ending to the head: textproto ends a line
// at LF and drops one CR right before it; a CR anywhere else is part of the
// line. So a CR is held back until the next byte shows which it is.
func (c *framingConn) headByte(b byte) {
	if c.cr {
		c.cr = false
		if b != '\n' {
			c.head('\r')
		}
	}
	if b == '\r' {
		c.cr = true
		return
	}
	c.head(b)
}

// head takes one byte of the request head, line endings already resolved.
func (c *framingConn) head(b byte) {
	switch c.state {
	case stRequestLine:
		c.requestLineByte(b)
	case stLineStart:
		switch b {
		case '\n':
			c.endHead()
		case ' ', '\t':
			// net/http would join this line to the previous one; a front
			// proxy may not.
			c.reject(c.heads, reasonFolded)
		default:
			c.state = stName
			c.nameLen = 0
			c.isCL, c.isTE = true, true
			c.nameByte(b)
		}
	case stName:
		c.nameByte(b)
	case stValue:
		c.valueByte(b)
	}
}

func (c *framingConn) requestLineByte(b byte) {
	if b != '\n' && c.reqLen < len(c.reqLine) {
		c.reqLine[c.reqLen] = b
		c.reqLen++
	}
	if b == '\n' {
		if c.pri && c.lineLen == len(h2PriorKnowledge) {
			c.state = stOff
			return
		}
		c.http10 = c.http10 && c.spaces == 2 && c.protoLen == len(http10Proto)
		c.state = stLineStart
		return
	}
	c.pri = c.pri && c.lineLen < len(h2PriorKnowledge) && b == h2PriorKnowledge[c.lineLen]
	c.lineLen++
	// Like net/http, the protocol is everything after the second space.
	if c.spaces < 2 {
		if b == ' ' {
			c.spaces++
		}
		return
	}
	c.http10 = c.http10 && c.protoLen < len(http10Proto) && b == http10Proto[c.protoLen]
	c.protoLen++
}

// nameByte matches a field name against the two framing fields as it
// streams by, so a name of any length costs no buffer. net/http
// canonicalizes names, so the match ignores ASCII case.
func (c *framingConn) nameByte(b byte) {
	switch b {
	case ':':
		switch {
		case c.isCL && c.nameLen == len(clName):
			c.field = fieldCL
		case c.isTE && c.nameLen == len(teName):
			c.field = fieldTE
		default:
			c.state = stValueSkip
			return
		}
		c.state = stValue
		c.val, c.vpos, c.num, c.over, c.comma = valLead, 0, 0, false, false
	case '\n':
		c.reject(c.heads, reasonNoColon)
	case ' ', '\t':
		// "Transfer-Encoding : chunked" is not Transfer-Encoding to
		// net/http, but it may be to a front proxy.
		c.reject(c.heads, reasonNameSpace)
	default:
		l := asciiLower(b)
		c.isCL = c.isCL && c.nameLen < len(clName) && l == clName[c.nameLen]
		c.isTE = c.isTE && c.nameLen < len(teName) && l == teName[c.nameLen]
		c.nameLen++
	}
}

// valueByte parses a Content-Length or Transfer-Encoding value as it streams
// by. The only forms accepted are the ones no reader can take two ways:
// plain decimal digits, and the single coding "chunked", each with optional
// surrounding whitespace (which textproto trims).
func (c *framingConn) valueByte(b byte) {
	if b == '\n' {
		c.endValue()
		return
	}
	switch c.val {
	case valLead:
		if b == ' ' || b == '\t' {
			return
		}
		c.val = valWord
		c.wordByte(b)
	case valWord:
		c.wordByte(b)
	case valTrail:
		if b != ' ' && b != '\t' {
			c.junk(b)
		}
	case valJunk:
		c.junk(b)
	}
}

func (c *framingConn) wordByte(b byte) {
	if b == ' ' || b == '\t' {
		c.val = valTrail
		return
	}
	if c.field == fieldCL {
		if '0' <= b && b <= '9' {
			d := uint64(b - '0')
			if c.num > (maxContentLength-d)/10 {
				c.over = true
			} else {
				c.num = c.num*10 + d
			}
			c.vpos++
			return
		}
	} else if c.vpos < len(chunkedCoding) && asciiLower(b) == chunkedCoding[c.vpos] {
		c.vpos++
		return
	}
	c.junk(b)
}

func (c *framingConn) junk(b byte) {
	c.val = valJunk
	if b == ',' {
		c.comma = true
	}
}

// endValue judges a framing field at the end of its line, and the head so
// far: a second field, or the other framing field, makes the head bad at
// once.
func (c *framingConn) endValue() {
	c.state = stLineStart
	word := c.val == valWord || c.val == valTrail
	switch c.field {
	case fieldCL:
		c.clCount++
		switch {
		case c.clCount > 1:
			c.reject(c.heads, reasonManyCL)
		case c.comma:
			c.reject(c.heads, reasonCLList)
		case !word || c.vpos == 0:
			c.reject(c.heads, reasonCLSyntax)
		case c.over:
			c.reject(c.heads, reasonCLRange)
		}
		c.length = c.num
	case fieldTE:
		c.teCount++
		switch {
		case c.teCount > 1:
			c.reject(c.heads, reasonManyTE)
		case c.http10:
			// net/http ignores Transfer-Encoding in HTTP/1.0; a front
			// proxy may honour it (RFC 9112 §6.1 says treat as faulty).
			c.reject(c.heads, reasonTEHTTP10)
		case !word || c.vpos != len(chunkedCoding):
			c.reject(c.heads, reasonTENotChunked)
		}
	}
	if c.state != stOff && c.clCount > 0 && c.teCount > 0 {
		c.reject(c.heads, reasonCLAndTE)
	}
}

// endHead picks the body framing net/http will use for the head just ended.
// A surviving Transfer-Encoding is a single "chunked" on HTTP/1.1; without
// either field a request has no body, whatever its method or version.
func (c *framingConn) endHead() {
	c.heads++
	switch {
	case c.teCount > 0:
		c.startChunk()
	case c.length > 0:
		c.state = stBody
		c.left = c.length
	default:
		c.state = stStart
	}
}

// startRequest resets the per-head state at the first byte of a request line.
func (c *framingConn) startRequest() {
	c.state = stRequestLine
	c.reqLen = 0
	c.cr = false
	c.lineLen, c.spaces, c.protoLen = 0, 0, 0
	c.pri, c.http10 = true, true
	c.clCount, c.teCount = 0, 0
	c.length = 0
}

func (c *framingConn) startChunk() {
	c.state, c.left, c.vpos, c.lineLen = stChunkSize, 0, 0, 0
}

// step takes one byte between requests or in a chunked body, following
// net/http/internal/chunked.go: a chunk-size line is 1 to 16 hex digits,
// optional whitespace or a ";" extension, and CRLF (a bare LF or a stray CR
// is refused); chunk data is followed by exactly CRLF; after the last chunk,
// trailer lines run up to an empty line, ended by LF or CRLF as in a head.
func (c *framingConn) step(b byte) {
	switch c.state {
	case stStart:
		// net/http skips up to four CR or LF bytes after a POST, for old
		// clients that add CRLF after the body; skipping any number only
		// admits streams net/http refuses.
		if b == '\r' || b == '\n' {
			return
		}
		c.startRequest()
		c.headByte(b)
		return
	case stTrailerStart:
		switch b {
		case '\n':
			c.state = stStart
		case '\r':
			c.state = stTrailerCR
		default:
			c.state = stTrailer
		}
		return
	case stTrailerCR:
		if b == '\n' {
			c.state = stStart
		} else {
			c.state = stTrailer
		}
		return
	case stChunkDataCR:
		if b != '\r' {
			c.badChunk()
			return
		}
		c.state = stChunkDataLF
		return
	case stChunkDataLF:
		if b != '\n' {
			c.badChunk()
			return
		}
		c.startChunk()
		return
	}

	// The chunk-size line.
	if b != '\r' && b != '\n' {
		c.lineLen++
		if c.lineLen >= maxChunkLine {
			c.badChunk()
			return
		}
	}
	switch c.state {
	case stChunkSize:
		if d, ok := hexDigitValue(b); ok {
			if c.vpos == 16 {
				c.badChunk()
				return
			}
			c.left = c.left<<4 | d
			c.vpos++
			return
		}
		if c.vpos == 0 {
			c.badChunk()
			return
		}
		switch b {
		case ';':
			c.state = stChunkExt
		case ' ', '\t':
			// net/http trims trailing whitespace from the whole line before
			// it cuts the extension, so "5 ;x" is refused but "5 " is not.
			c.state = stChunkSizeOWS
		case '\r':
			c.state = stChunkLF
		default:
			c.badChunk()
		}
	case stChunkSizeOWS:
		switch b {
		case ' ', '\t':
		case '\r':
			c.state = stChunkLF
		default:
			c.badChunk()
		}
	case stChunkExt:
		switch b {
		case '\r':
			c.state = stChunkLF
		case '\n':
			c.badChunk()
		}
	case stChunkLF:
		switch {
		case b != '\n':
			c.badChunk()
		case c.left == 0:
			c.state = stTrailerStart
		default:
			c.state = stChunkData
		}
	}
}

// badChunk gives up on a body net/http will refuse to read. net/http then
// closes the connection after the current response, so no further request
// should arrive; if one did, it would start at a place the scanner cannot
// know, so it is refused.
func (c *framingConn) badChunk() {
	c.reject(c.heads, reasonChunked)
}

// headDelim marks the bytes that end a field name or a request target, or
// may end a line.
var headDelim = [256]bool{':': true, ' ': true, '\t': true, '\r': true, '\n': true}

func asciiLower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func hexDigitValue(b byte) (uint64, bool) {
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
