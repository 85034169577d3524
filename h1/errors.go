package h1

import (
	"errors"
	"strconv"
)

// ErrNeedMore means the bytes hold no complete head yet, and fewer than
// Limits.MaxHeadBytes of them: read more and parse again from the start.
var ErrNeedMore = errors.New("h1: incomplete head")

// Error is a head or a chunked body that is refused. Status is what a
// server answers a client with: 400, 431, 501 or 505; a proxy that finds
// one in a backend's response answers 502 whatever the Status. Reason is a
// constant string, never bytes of the message, so that it can go to logs
// as it is.
//
// The parser returns pointers to package-level values, so refusing a
// message never allocates; compare Status and Reason, not the pointers.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return "h1: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// Reasons a message is refused.
const (
	// Request and status lines.
	reasonRequestLine = "malformed request line"
	reasonMethod      = "invalid method"
	reasonTarget      = "invalid request target"
	reasonTargetForm  = "request target form not allowed for the method"
	reasonVersion     = "malformed HTTP version"
	reasonVersionNo   = "unsupported HTTP version"
	reasonStatusLine  = "malformed status line"
	reasonStatusCode  = "status code out of range"
	reasonReasonByte  = "control byte in the reason phrase"

	// Any line.
	reasonBareCR = "CR not followed by LF"

	// Header fields.
	reasonFolded    = "obsolete line folding"
	reasonNameSpace = "whitespace in a header field name"
	reasonNoColon   = "header line without a colon"
	reasonNameByte  = "invalid byte in a header field name"
	reasonEmptyName = "empty header field name"
	reasonValueByte = "control byte in a header field value"

	// Host.
	reasonNoHost   = "HTTP/1.1 request without Host"
	reasonManyHost = "more than one Host field"
	reasonHost     = "invalid Host"

	// Body framing in the head.
	reasonCLAndTE    = "both Content-Length and Transfer-Encoding"
	reasonManyCL     = "more than one Content-Length field"
	reasonCLList     = "Content-Length holds a list"
	reasonCLSyntax   = "Content-Length is not a decimal number"
	reasonCLRange    = "Content-Length out of range"
	reasonManyTE     = "more than one Transfer-Encoding field"
	reasonTEList     = "Transfer-Encoding holds a list"
	reasonTESyntax   = "Transfer-Encoding is not a single transfer coding"
	reasonTEUnknown  = "unknown transfer coding"
	reasonTEHTTP10   = "Transfer-Encoding in HTTP/1.0"
	reasonHeadSize   = "head too large"
	reasonFieldCount = "too many header fields"

	// Chunked bodies.
	reasonChunkSize     = "malformed chunk size"
	reasonChunkSizeLong = "chunk size of more than 16 hex digits"
	reasonChunkLine     = "chunk line too long"
	reasonChunkExt      = "control byte in a chunk extension"
	reasonChunkBareLF   = "chunk line ended by a bare LF"
	reasonChunkDataEnd  = "chunk data not followed by CRLF"
	reasonChunkOverhead = "too much chunk overhead"
	reasonTrailerSize   = "trailer section too large"
	reasonTrailerCount  = "too many trailer fields"
)

var (
	errRequestLine = &Error{400, reasonRequestLine}
	errMethod      = &Error{400, reasonMethod}
	errTarget      = &Error{400, reasonTarget}
	errTargetForm  = &Error{400, reasonTargetForm}
	errVersion     = &Error{400, reasonVersion}
	errVersionNo   = &Error{505, reasonVersionNo}
	errStatusLine  = &Error{400, reasonStatusLine}
	errStatusCode  = &Error{400, reasonStatusCode}
	errReasonByte  = &Error{400, reasonReasonByte}

	errBareCR = &Error{400, reasonBareCR}

	errFolded    = &Error{400, reasonFolded}
	errNameSpace = &Error{400, reasonNameSpace}
	errNoColon   = &Error{400, reasonNoColon}
	errNameByte  = &Error{400, reasonNameByte}
	errEmptyName = &Error{400, reasonEmptyName}
	errValueByte = &Error{400, reasonValueByte}

	errNoHost   = &Error{400, reasonNoHost}
	errManyHost = &Error{400, reasonManyHost}
	errHost     = &Error{400, reasonHost}

	errCLAndTE    = &Error{400, reasonCLAndTE}
	errManyCL     = &Error{400, reasonManyCL}
	errCLList     = &Error{400, reasonCLList}
	errCLSyntax   = &Error{400, reasonCLSyntax}
	errCLRange    = &Error{400, reasonCLRange}
	errManyTE     = &Error{400, reasonManyTE}
	errTEList     = &Error{400, reasonTEList}
	errTESyntax   = &Error{400, reasonTESyntax}
	errTEUnknown  = &Error{501, reasonTEUnknown}
	errTEHTTP10   = &Error{400, reasonTEHTTP10}
	errHeadSize   = &Error{431, reasonHeadSize}
	errFieldCount = &Error{431, reasonFieldCount}

	errChunkSize     = &Error{400, reasonChunkSize}
	errChunkSizeLong = &Error{400, reasonChunkSizeLong}
	errChunkLine     = &Error{400, reasonChunkLine}
	errChunkExt      = &Error{400, reasonChunkExt}
	errChunkBareLF   = &Error{400, reasonChunkBareLF}
	errChunkDataEnd  = &Error{400, reasonChunkDataEnd}
	errChunkOverhead = &Error{400, reasonChunkOverhead}
	errTrailerSize   = &Error{400, reasonTrailerSize}
	errTrailerCount  = &Error{400, reasonTrailerCount}
)
