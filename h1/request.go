package h1

import (
	"bytes"
	"net/netip"
)

// Request is a parsed request head. Its byte slices point into the buffer
// given to ParseRequest and are valid as long as that buffer is.
type Request struct {
	Method, Target []byte
	Minor          int // HTTP/1.<Minor>: 0 or 1 (1.2..1.9 parse as 1)
	Fields         []Field
	Host           []byte // the Host field's value; nil when absent (HTTP/1.0 only)
	ContentLength  int64  // -1 when the request has no Content-Length
	Chunked        bool   // Transfer-Encoding: chunked
	KeepAlive      bool   // from the version and the Connection tokens
	Upgrade        bool   // Connection has the "upgrade" token and an Upgrade field is present
	ExpectContinue bool   // Expect: 100-continue

	authority []byte // of an absolute-form or authority-form target
	pathQuery []byte // the target in origin form; nil for CONNECT
	conn      uint8
}

// ParseRequest parses the request head at the start of b (RFC 9112 §2-7)
// into r, reusing r.Fields' backing array. It returns the length of the
// head, its empty line and any empty lines before the request line
// included (RFC 9112 §2.2 lets a server skip those).
//
// It returns ErrNeedMore while b holds no complete head and is shorter
// than lim.MaxHeadBytes, and an *Error for a head it refuses. The parser
// keeps no state between calls: a caller that receives a head in pieces
// parses from the start again, and saves work by doing so only once the
// new bytes hold a LF.
func ParseRequest(b []byte, r *Request, lim Limits) (n int, err error) {
	maxHead, maxFields := lim.resolve()
	buf := b
	if len(buf) > maxHead {
		buf = buf[:maxHead]
	}
	fields := r.Fields[:0]
	*r = Request{Fields: fields, ContentLength: -1}

	i, e := skipEmptyLines(buf)
	if e != nil {
		return 0, e
	}
	line, i, ok := cutLine(buf, i)
	if !ok {
		return 0, needMore(len(b), maxHead)
	}
	if e := r.requestLine(line); e != nil {
		return 0, e
	}
	var s fieldScan
	s.init(r.Minor)
	if r.Fields, i, err = parseFields(buf, i, r.Fields, maxFields, &s, len(b), maxHead); err != nil {
		return 0, err
	}
	if s.hosts == 0 && r.Minor >= 1 {
		// RFC 9112 §3.2, even for an absolute-form target.
		return 0, errNoHost
	}
	if len(s.host) > 0 && !validAuthority(s.host, false) {
		return 0, errHost
	}
	r.Host = s.host
	r.ContentLength = s.contentLen
	r.Chunked = s.chunked
	r.KeepAlive = s.keepAlive()
	// RFC 9110 §7.8 and §10.1.1: an HTTP/1.0 request's Upgrade and
	// Expect are ignored.
	r.Upgrade = r.Minor >= 1 && s.conn&connUpgrade != 0 && s.upgradeField
	r.ExpectContinue = r.Minor >= 1 && s.expect100
	r.conn = s.conn
	return i, nil
}

// needMore says what an incomplete head in b means: wait for more bytes,
// or give up because no complete head fits.
func needMore(n, maxHead int) error {
	if n >= maxHead {
		return errHeadSize
	}
	return ErrNeedMore
}

// skipEmptyLines returns the index of the first byte after the empty lines
// at the start of buf.
func skipEmptyLines(buf []byte) (int, *Error) {
	i := 0
	for i < len(buf) {
		switch buf[i] {
		case '\n':
			i++
		case '\r':
			if i+1 == len(buf) {
				return i, nil
			}
			if buf[i+1] != '\n' {
				return 0, errBareCR
			}
			i += 2
		default:
			return i, nil
		}
	}
	return i, nil
}

// requestLine parses `method SP request-target SP HTTP-version`.
func (r *Request) requestLine(line []byte) *Error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return lineError(line, errRequestLine)
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return lineError(line, errRequestLine)
	}
	method, target, version := line[:sp1], rest[:sp2], rest[sp2+1:]
	if len(method) == 0 || len(target) == 0 {
		return errRequestLine // a doubled or leading SP
	}

	// The version first: "PRI * HTTP/2.0" is HTTP/2's preface, which
	// gets 505 rather than a complaint about its target.
	minor, e := parseVersion(version)
	if e != nil {
		return lineError(line, e)
	}
	for _, c := range method {
		if !tokenByte[c] {
			return lineError(line, errMethod)
		}
	}
	r.Method, r.Target, r.Minor = method, target, minor
	if e := r.parseTarget(); e != nil {
		return lineError(line, e)
	}
	return nil
}

// parseVersion takes "HTTP/1.x" (RFC 9112 §2.3). Another major version,
// well formed, is 505; HTTP/1.2 to 1.9 are spoken as 1.1.
func parseVersion(v []byte) (int, *Error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, errVersion
	}
	if v[5] != '1' {
		return 0, errVersionNo
	}
	if v[7] == '0' {
		return 0, nil
	}
	return 1, nil
}

// slash is the origin-form of an absolute-form target with an empty path.
var slash = []byte{'/'}

// parseTarget checks the request target's form against the method
// (RFC 9112 §3.2) and its bytes: no whitespace, controls or '#' (see
// targetByte); a '%' in a path starts two hex digits.
func (r *Request) parseTarget() *Error {
	t := r.Target
	if len(t) == 0 {
		return errTarget
	}
	connect := string(r.Method) == "CONNECT"
	switch {
	case t[0] == '/':
		if connect {
			return errTargetForm
		}
		if !validPathQuery(t) {
			return errTarget
		}
		r.pathQuery = t
	case len(t) == 1 && t[0] == '*':
		if string(r.Method) != "OPTIONS" {
			return errTargetForm
		}
		r.pathQuery = t
	case connect:
		// authority-form: host and port, nothing else.
		if !validAuthority(t, true) {
			return errTarget
		}
		r.authority = t
	default:
		// absolute-form, of the two schemes a proxy of websites serves.
		var rest []byte
		switch {
		case len(t) > 7 && equalFold(t[:7], "http://"):
			rest = t[7:]
		case len(t) > 8 && equalFold(t[:8], "https://"):
			rest = t[8:]
		default:
			return errTarget
		}
		end := bytes.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		auth, pq := rest[:end], rest[end:]
		if !validAuthority(auth, false) {
			return errTarget
		}
		switch {
		case len(pq) == 0:
			pq = slash
		case pq[0] == '?':
			// "http://a?q" is valid, but its origin form "/?q" is not a
			// slice of the head; nobody sends it, so it is refused
			// rather than copied.
			return errTarget
		case !validPathQuery(pq):
			return errTarget
		}
		r.authority, r.pathQuery = auth, pq
	}
	return nil
}

// targetByte is what a request target may hold: VCHAR but '#' (a fragment
// is never sent, RFC 9112 §3.2), and bytes from 0x80 up, which browsers
// and net/http let through and the access log escapes; never a control
// byte or whitespace, which could split the request line downstream.
var targetByte = func() (t [256]bool) {
	for c := 0x21; c < 0x100; c++ {
		t[c] = c != '#' && c != 0x7f
	}
	return t
}()

// validPathQuery checks an origin-form target. Percent-encoding is checked
// in the path, as net/url does; the query is passed on as it came.
func validPathQuery(t []byte) bool {
	inQuery := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !targetByte[c] {
			return false
		}
		switch {
		case c == '?':
			inQuery = true
		case c == '%' && !inQuery:
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// regNameByte is what a host name or IPv4 address may hold (RFC 3986
// §3.2.2 reg-name without pct-encoded, which no DNS name needs).
var regNameByte = func() (t [256]bool) {
	for _, c := range []byte("-._~!$&'()*+,;=") {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	return t
}()

// validAuthority checks `host [":" port]` (RFC 9110 §4.2.1 and §7.2) with
// a non-empty host, an IPv6 literal in brackets, and no userinfo.
// withPort requires a port, as CONNECT's authority-form does.
func validAuthority(a []byte, withPort bool) bool {
	var port []byte
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 2 {
			return false
		}
		lit := a[1:end]
		for _, c := range lit {
			if !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		ip, err := netip.ParseAddr(string(lit))
		if err != nil || !ip.Is6() {
			return false
		}
		rest := a[end+1:]
		if len(rest) > 0 {
			if rest[0] != ':' {
				return false
			}
			port = rest[1:]
		}
	} else {
		host := a
		if i := bytes.IndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i+1:]
		}
		if len(host) == 0 {
			return false
		}
		for _, c := range host {
			if !regNameByte[c] {
				return false
			}
		}
	}
	if withPort && len(port) == 0 {
		return false
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Field returns the value of the first field named name (any case), or nil.
func (r *Request) Field(name string) []byte {
	return fieldValue(r.Fields, name)
}

// HopByHop reports whether a field is connection-specific and is not
// forwarded: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade, and every field named by a Connection token
// of this head.
func (r *Request) HopByHop(name []byte) bool {
	return hopByHop(name, r.Fields, r.conn)
}

// Authority is the host the request is for: the authority of an
// absolute-form or authority-form target, which RFC 9112 §3.2.2 puts
// before the Host field, or else the Host field's value (nil when absent).
func (r *Request) Authority() []byte {
	if r.authority != nil {
		return r.authority
	}
	return r.Host
}

// PathQuery is the target in origin form, as a backend is sent it: the
// target itself, or an absolute-form target without its scheme and
// authority ("/" when its path is empty); "*" for OPTIONS *, and nil for
// CONNECT.
func (r *Request) PathQuery() []byte {
	return r.pathQuery
}

// SetPathQuery replaces the origin-form target the backend is sent (a
// normalized path, for one); the access log keeps Target as it came. pq
// must stay unchanged until the exchange ends; the next parse forgets it.
func (r *Request) SetPathQuery(pq []byte) {
	r.pathQuery = pq
}

// Path is PathQuery without its query.
func (r *Request) Path() []byte {
	p := r.pathQuery
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// Framing tells how the request's body is framed: NoBody, a length, or
// ChunkedBody (RFC 9112 §6.3: a request without either field has none).
func (r *Request) Framing() (kind Framing, length int64) {
	switch {
	case r.Chunked:
		return ChunkedBody, -1
	case r.ContentLength > 0:
		return Length, r.ContentLength
	}
	return NoBody, 0
}
