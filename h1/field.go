package h1

import (
	"bytes"
	"encoding/binary"
)

// Field is one header field as sent, as sub-slices of the parsed buffer.
type Field struct {
	Name, Value []byte // Value without leading or trailing whitespace
}

// Limits bound what a head may hold.
type Limits struct {
	MaxHeadBytes int // a head longer than this is refused with 431; default 65536 when 0
	MaxFields    int // more header fields than this: 431; default 100 when 0
}

// Defaults for the zero Limits, the same as quill's configuration defaults.
const (
	DefaultMaxHeadBytes = 64 << 10
	DefaultMaxFields    = 100
)

func (l Limits) resolve() (headBytes, fields int) {
	headBytes, fields = l.MaxHeadBytes, l.MaxFields
	if headBytes <= 0 {
		headBytes = DefaultMaxHeadBytes
	}
	if fields <= 0 {
		fields = DefaultMaxFields
	}
	return headBytes, fields
}

// Byte classes of RFC 9110 §5.6.2 (tchar) and §5.5 (field-vchar, SP, HTAB).
var (
	tokenByte [256]bool
	valueByte [256]bool
	lowerByte [256]byte
)

func init() {
	for c := '0'; c <= '9'; c++ {
		tokenByte[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		tokenByte[c] = true
		tokenByte[c-'a'+'A'] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		tokenByte[c] = true
	}
	for c := range 256 {
		// obs-text (0x80-0xff) is allowed in values: RFC 9110 §5.5 lets
		// senders use it, and net/http accepts it too.
		valueByte[c] = c == '\t' || c >= 0x20 && c != 0x7f
		lowerByte[c] = byte(c)
		if 'A' <= c && c <= 'Z' {
			lowerByte[c] = byte(c + 'a' - 'A')
		}
	}
}

// EqualFold reports whether a and b are equal ignoring ASCII case, which
// is how field names and tokens compare.
func EqualFold(a []byte, b string) bool {
	return equalFold(a, b)
}

func equalFold[T string | []byte](a []byte, b T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerByte[a[i]] != lowerByte[b[i]] {
			return false
		}
	}
	return true
}

// HasToken reports whether the comma-separated list value holds token,
// ignoring ASCII case and the whitespace around each element (RFC 9110
// §5.6.1). An element with parameters ("gzip;q=1") does not match its
// token alone.
func HasToken(value []byte, token string) bool {
	return hasToken(value, token)
}

func hasToken[T string | []byte](value []byte, token T) bool {
	for len(value) > 0 {
		var elem []byte
		if i := bytes.IndexByte(value, ','); i >= 0 {
			elem, value = value[:i], value[i+1:]
		} else {
			elem, value = value, nil
		}
		if equalFold(trimOWS(elem), token) {
			return true
		}
	}
	return false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// cutLine returns the line that starts at buf[i], without its end, and the
// index after its end. A line ends at LF, and a CR right before the LF is
// part of the end: RFC 9112 §2.2 lets a recipient take a bare LF as a line
// end in a head. A CR anywhere else stays in the line, where the line's
// parser refuses it. ok is false when no LF follows i.
func cutLine(buf []byte, i int) (line []byte, next int, ok bool) {
	j := bytes.IndexByte(buf[i:], '\n')
	if j < 0 {
		return nil, 0, false
	}
	line = buf[i : i+j]
	if j > 0 && line[j-1] == '\r' {
		line = line[:j-1]
	}
	return line, i + j + 1, true
}

// lineError picks the reason for a byte the line's grammar refuses: a CR
// there is a bare CR, which RFC 9112 §2.2 says to refuse whatever the line.
func lineError(line []byte, e *Error) *Error {
	if bytes.IndexByte(line, '\r') >= 0 {
		return errBareCR
	}
	return e
}

// parseField splits a field line (RFC 9112 §5) into name and value.
func parseField(line []byte) (Field, *Error) {
	i := 0
	for i < len(line) && tokenByte[line[i]] {
		i++
	}
	if i == len(line) {
		return Field{}, errNoColon
	}
	if c := line[i]; c != ':' {
		switch {
		case i == 0 && (c == ' ' || c == '\t'):
			// A line that starts with whitespace continues the previous
			// one (obs-fold, RFC 9112 §5.2), or, right after the start
			// line, hides a field from some readers (§2.2): refused.
			return Field{}, errFolded
		case c == ' ' || c == '\t':
			// "Transfer-Encoding : chunked" is no field to net/http but
			// may be Transfer-Encoding to a lenient reader (§5.1).
			return Field{}, lineError(line, errNameSpace)
		case c == '\r':
			return Field{}, errBareCR
		}
		return Field{}, lineError(line, errNameByte)
	}
	if i == 0 {
		return Field{}, errEmptyName
	}
	v := trimOWS(line[i+1:])
	if !validValue(v) {
		return Field{}, lineError(v, errValueByte)
	}
	return Field{Name: line[:i], Value: v}, nil
}

// validValue reports whether v holds only field-vchar, SP and HTAB. It
// checks eight bytes at a time for a control byte (below 0x20, or 0x7f),
// then looks closer at the word that has one: usually a HTAB.
func validValue(v []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		spcs  = 0x2020202020202020
		dels  = 0x7f7f7f7f7f7f7f7f
	)
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		y := x ^ dels
		// Any byte below 0x20 (x-spcs borrows into its high bit while
		// its own high bit is clear), or any byte equal to 0x7f (y has a
		// zero byte). Exact for "any", which is all that is asked.
		if ((x-spcs)&^x|(y-ones)&^y)&highs != 0 {
			break
		}
		v = v[8:]
	}
	for _, c := range v {
		if !valueByte[c] {
			return false
		}
	}
	return true
}

// Connection tokens seen in a head.
const (
	connClose     = 1 << iota
	connKeepAlive // names Keep-Alive, which is hop-by-hop anyway
	connUpgrade   // names Upgrade, which is hop-by-hop anyway
	connOther     // some other token: a field this head calls hop-by-hop
)

// fieldScan follows the fields of one head that decide its framing and its
// connection, refusing what RFC 9112 §6 lets two readers frame two ways.
type fieldScan struct {
	minor        int
	contentLen   int64 // -1 until a Content-Length field
	chunked      bool
	te           bool // a Transfer-Encoding field was seen
	conn         uint8
	upgradeField bool
	expect100    bool
	host         []byte
	hosts        int
}

func (s *fieldScan) init(minor int) {
	*s = fieldScan{minor: minor, contentLen: -1}
}

// note takes one field of the head.
func (s *fieldScan) note(f Field) *Error {
	n := f.Name
	switch len(n) {
	case 4:
		if equalFold(n, "host") {
			s.hosts++
			if s.hosts > 1 {
				return errManyHost
			}
			s.host = f.Value
		}
	case 6:
		if equalFold(n, "expect") && hasToken(f.Value, "100-continue") {
			s.expect100 = true
		}
	case 7:
		if equalFold(n, "upgrade") {
			s.upgradeField = true
		}
	case 10:
		if equalFold(n, "connection") {
			s.connection(f.Value)
		}
	case 14:
		if equalFold(n, "content-length") {
			return s.contentLength(f.Value)
		}
	case 17:
		if equalFold(n, "transfer-encoding") {
			return s.transferEncoding(f.Value)
		}
	}
	return nil
}

func (s *fieldScan) connection(v []byte) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		tok = trimOWS(tok)
		switch {
		case len(tok) == 0:
		case equalFold(tok, "close"):
			s.conn |= connClose
		case equalFold(tok, "keep-alive"):
			s.conn |= connKeepAlive
		case equalFold(tok, "upgrade"):
			s.conn |= connUpgrade
		default:
			s.conn |= connOther
		}
	}
}

// contentLength accepts one field holding 1*DIGIT (RFC 9110 §8.6), and no
// list even of equal values: net/http merges those, a front proxy may not.
func (s *fieldScan) contentLength(v []byte) *Error {
	if s.contentLen >= 0 {
		return errManyCL
	}
	if bytes.IndexByte(v, ',') >= 0 {
		return errCLList
	}
	if len(v) == 0 {
		return errCLSyntax
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return errCLSyntax
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return errCLRange
		}
		n = n*10 + d
	}
	s.contentLen = n
	if s.te {
		return errCLAndTE
	}
	return nil
}

// transferEncoding accepts one field holding the single coding "chunked".
// A list, even one ending in chunked, is refused with 400: RFC 9112 §6.3
// frames it by chunked, but no backend behind quill should get a coding it
// must undo. A single unknown coding gets 501, as nginx answers it
// (RFC 9112 §6.1).
func (s *fieldScan) transferEncoding(v []byte) *Error {
	if s.te {
		return errManyTE
	}
	s.te = true
	if s.minor == 0 {
		// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing
		// is faulty; net/http ignores it, a front proxy may not.
		return errTEHTTP10
	}
	if bytes.IndexByte(v, ',') >= 0 {
		return errTEList
	}
	if len(v) == 0 {
		return errTESyntax
	}
	for _, c := range v {
		if !tokenByte[c] {
			return errTESyntax
		}
	}
	if !equalFold(v, "chunked") {
		return errTEUnknown
	}
	s.chunked = true
	if s.contentLen >= 0 {
		return errCLAndTE
	}
	return nil
}

// keepAlive follows RFC 9112 §9.3: HTTP/1.1 persists unless "close", and
// HTTP/1.0 only with "keep-alive".
func (s *fieldScan) keepAlive() bool {
	if s.conn&connClose != 0 {
		return false
	}
	return s.minor >= 1 || s.conn&connKeepAlive != 0
}

// hopByHop reports whether a field named name is connection-specific:
// one of RFC 9110 §7.6.1's fixed names, or one named by a Connection token.
func hopByHop(name []byte, fields []Field, conn uint8) bool {
	switch len(name) {
	case 2:
		if equalFold(name, "te") {
			return true
		}
	case 7:
		if equalFold(name, "trailer") || equalFold(name, "upgrade") {
			return true
		}
	case 10:
		if equalFold(name, "connection") || equalFold(name, "keep-alive") {
			return true
		}
	case 16:
		if equalFold(name, "proxy-connection") {
			return true
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return true
		}
	}
	if conn&connOther == 0 {
		return false
	}
	for _, f := range fields {
		if equalFold(f.Name, "connection") && hasToken(f.Value, name) {
			return true
		}
	}
	return false
}

// fieldValue returns the value of the first field named name, or nil.
func fieldValue(fields []Field, name string) []byte {
	for _, f := range fields {
		if equalFold(f.Name, name) {
			return f.Value
		}
	}
	return nil
}

// parseFields reads the header fields of a head from buf at i through the
// empty line that ends them, appending them to fields and noting the
// framing ones in s. It returns where the head ends. given is the length
// of what the caller was given, for needMore.
func parseFields(buf []byte, i int, fields []Field, maxFields int, s *fieldScan, given, maxHead int) ([]Field, int, error) {
	for {
		line, next, ok := cutLine(buf, i)
		if !ok {
			return fields, 0, needMore(given, maxHead)
		}
		i = next
		if len(line) == 0 {
			return fields, i, nil
		}
		if len(fields) == maxFields {
			return fields, 0, errFieldCount
		}
		f, e := parseField(line)
		if e != nil {
			return fields, 0, e
		}
		fields = append(fields, f)
		if e := s.note(f); e != nil {
			return fields, 0, e
		}
	}
}
