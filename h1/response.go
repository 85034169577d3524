package h1

// Response is a parsed response head. Its byte slices point into the
// buffer given to ParseResponse.
type Response struct {
	Minor         int
	Status        int
	Reason        []byte
	Fields        []Field
	ContentLength int64 // -1 when absent
	Chunked       bool
	KeepAlive     bool // from the version and the Connection tokens; see Framing too

	conn uint8
}

// Framing is how a message body is delimited (RFC 9112 §6.3).
type Framing uint8

const (
	NoBody      Framing = iota // no body at all
	Length                     // exactly length bytes
	ChunkedBody                // chunked: follow it with a Chunked
	UntilClose                 // everything until the backend closes the connection
)

func (k Framing) String() string {
	switch k {
	case NoBody:
		return "no body"
	case Length:
		return "length"
	case ChunkedBody:
		return "chunked"
	case UntilClose:
		return "until close"
	}
	return "framing?"
}

// ParseResponse parses the response head at the start of b into r, with
// the rules of ParseRequest for fields and framing: a response with both
// Content-Length and Transfer-Encoding, or any other ambiguous framing, is
// refused with an *Error (a proxy answers 502). Informational heads (100,
// 101, 103) parse like any other; the caller reads the next head after
// them. Unlike a request, a response may not start with empty lines.
func ParseResponse(b []byte, r *Response, lim Limits) (n int, err error) {
	maxHead, maxFields := lim.resolve()
	buf := b
	if len(buf) > maxHead {
		buf = buf[:maxHead]
	}
	fields := r.Fields[:0]
	*r = Response{Fields: fields, ContentLength: -1}

	line, i, ok := cutLine(buf, 0)
	if !ok {
		return 0, needMore(len(b), maxHead)
	}
	if e := r.statusLine(line); e != nil {
		return 0, e
	}
	var s fieldScan
	s.init(r.Minor)
	if r.Fields, i, err = parseFields(buf, i, r.Fields, maxFields, &s, len(b), maxHead); err != nil {
		return 0, err
	}
	r.ContentLength = s.contentLen
	r.Chunked = s.chunked
	r.KeepAlive = s.keepAlive()
	r.conn = s.conn
	return i, nil
}

// statusLine parses `HTTP-version SP status-code SP [reason-phrase]`
// (RFC 9112 §4). The SP after the code may be missing along with the
// reason, as many servers send it.
func (r *Response) statusLine(line []byte) *Error {
	if len(line) < 12 {
		if len(line) >= 8 {
			if _, e := parseVersion(line[:8]); e != nil {
				return lineError(line, e)
			}
		}
		return lineError(line, errStatusLine)
	}
	minor, e := parseVersion(line[:8])
	if e != nil {
		return lineError(line, e)
	}
	if line[8] != ' ' {
		return lineError(line, errStatusLine)
	}
	status := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return lineError(line, errStatusLine)
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 || status > 599 {
		return errStatusCode
	}
	reason := line[12:12]
	if len(line) > 12 {
		if line[12] != ' ' {
			return lineError(line, errStatusLine)
		}
		reason = line[13:]
		if !validValue(reason) {
			return lineError(reason, errReasonByte)
		}
	}
	r.Minor, r.Status, r.Reason = minor, status, reason
	return nil
}

// Framing tells how a response to a request with this method is framed
// (RFC 9112 §6.3): NoBody (HEAD, 1xx, 204, 304, a Content-Length of 0, and
// a 2xx to CONNECT, after which the connection is a tunnel), a length,
// ChunkedBody, or UntilClose, after which the connection cannot be kept
// whatever KeepAlive says.
func (r *Response) Framing(method []byte) (kind Framing, length int64) {
	switch {
	case r.Status < 200, r.Status == 204, r.Status == 304:
		return NoBody, 0
	case string(method) == "HEAD":
		return NoBody, 0
	case r.Status < 300 && string(method) == "CONNECT":
		return NoBody, 0
	case r.Chunked:
		return ChunkedBody, -1
	case r.ContentLength > 0:
		return Length, r.ContentLength
	case r.ContentLength == 0:
		return NoBody, 0
	}
	return UntilClose, -1
}

// Field returns the value of the first field named name (any case), or nil.
func (r *Response) Field(name string) []byte {
	return fieldValue(r.Fields, name)
}

// HopByHop reports whether a field is connection-specific and is not
// forwarded: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade, and every field named by a Connection token
// of this head.
func (r *Response) HopByHop(name []byte) bool {
	return hopByHop(name, r.Fields, r.conn)
}
