// Package h1 is quill's HTTP/1.x engine. Its parser reads request and
// response heads and follows chunked bodies by RFC 9112, strictly: where
// two readers could frame the same bytes two ways (request smuggling,
// response splitting), it refuses instead of repairing.
//
// The parser does not allocate: a parsed head is sub-slices of the
// caller's buffer, and its Fields reuse their backing array from one parse
// to the next. It keeps no state between calls; Chunked keeps the little
// a body needs across reads.
//
// What it refuses, with the status a server answers:
//
//   - A request line that is not exactly `method SP target SP HTTP/1.x`
//     (400); another HTTP version, HTTP/2's preface included (505). A
//     target with whitespace, controls (DEL included), '#', or a bad
//     percent-encoding in its path (400); authority-form other than for
//     CONNECT, asterisk-form other than for OPTIONS, absolute-form other
//     than http or https (400).
//   - A field name that is not a token, whitespace before the colon, a
//     line without a colon, obsolete line folding, a control other than
//     HTAB in a value, a CR not followed by LF anywhere (400).
//   - HTTP/1.1 without Host, more than one Host, an invalid Host (400).
//   - More than one Content-Length, even equal, a list, anything but
//     digits, more than 2^63-1 (400).
//   - Transfer-Encoding other than the single coding chunked: a list or
//     more than one field (400), a single unknown coding (501, as nginx);
//     any Transfer-Encoding in HTTP/1.0 (400); both Content-Length and
//     Transfer-Encoding (400).
//   - More than Limits.MaxFields fields, or no complete head within
//     Limits.MaxHeadBytes (431).
//   - In a chunked body: a chunk size of no or more than 16 hex digits, a
//     chunk line past 4094 bytes, chunk lines outgrowing their data as
//     net/http bounds it, a line ended by a bare LF, data not followed by
//     CRLF, a trailer section past 4096 bytes or 100 fields, or a trailer
//     field breaking the rules of a head's.
//
// Lines of a head may end in a bare LF (RFC 9112 §2.2); empty lines before
// a request line are skipped. A response head follows the same field rules;
// an error in one is the backend's, which a proxy answers with 502.
//
// The Server serves each connection on one goroutine, forwarding on it as
// well. On plain TCP it reads and writes sockets itself, through
// syscall.RawConn, to spend no more system calls on a keep-alive request
// than an event-driven proxy does, one read and one write each side: a
// request to a server is written from within the read that waits for its
// answer, and requests that need nothing but their head are served from
// within the wait for them: Go's poller forgets a socket's readiness as
// each read begins, which would make every such read try and fail before
// it waits (conn.wait, backendConn.sendFirst).
package h1
