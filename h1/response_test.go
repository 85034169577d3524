package h1

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func respSummary(r *Response) string {
	s := fmt.Sprintf("1.%d %d %q", r.Minor, r.Status, r.Reason)
	if r.ContentLength >= 0 {
		s += fmt.Sprintf(" cl=%d", r.ContentLength)
	}
	if r.Chunked {
		s += " chunked"
	}
	if r.KeepAlive {
		s += " keep-alive"
	}
	return s
}

type responseCase struct {
	name string
	head string
	lim  Limits
	want string
	err  *Error
}

var responseCases = []responseCase{
	{name: "200 with Content-Length", head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", want: `1.1 200 "OK" cl=5 keep-alive`},
	{name: "chunked", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", want: `1.1 200 "OK" chunked keep-alive`},
	{name: "no framing field", head: "HTTP/1.1 200 OK\r\n\r\n", want: `1.1 200 "OK" keep-alive`},
	{name: "bare LF line ends", head: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", want: `1.1 200 "OK" cl=0 keep-alive`},
	{name: "empty reason", head: "HTTP/1.1 404 \r\n\r\n", want: `1.1 404 "" keep-alive`},
	{name: "no reason nor its space", head: "HTTP/1.1 204\r\n\r\n", want: `1.1 204 "" keep-alive`},
	{name: "reason with spaces and obs-text", head: "HTTP/1.1 200 Tout va bien \xe9\t!\r\n\r\n", want: "1.1 200 \"Tout va bien \\xe9\\t!\" keep-alive"},
	{name: "100 Continue", head: "HTTP/1.1 100 Continue\r\n\r\n", want: `1.1 100 "Continue" keep-alive`},
	{name: "101 Switching Protocols", head: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", want: `1.1 101 "Switching Protocols" keep-alive`},
	{name: "103 Early Hints", head: "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", want: `1.1 103 "Early Hints" keep-alive`},
	{name: "HTTP/1.0", head: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", want: `1.0 200 "OK" cl=1`},
	{name: "HTTP/1.0 keep-alive", head: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", want: `1.0 200 "OK" cl=1 keep-alive`},
	{name: "close", head: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", want: `1.1 200 "OK"`},
	{name: "599", head: "HTTP/1.1 599 X\r\n\r\n", want: `1.1 599 "X" keep-alive`},

	{name: "status line without a code", head: "HTTP/1.1\r\n\r\n", err: errStatusLine},
	{name: "two-digit code", head: "HTTP/1.1 20 OK\r\n\r\n", err: errStatusLine},
	{name: "four-digit code", head: "HTTP/1.1 2000 OK\r\n\r\n", err: errStatusLine},
	{name: "signed code", head: "HTTP/1.1 +20 OK\r\n\r\n", err: errStatusLine},
	{name: "two spaces before the code", head: "HTTP/1.1  200 OK\r\n\r\n", err: errStatusLine},
	{name: "tab after the code", head: "HTTP/1.1 200\tOK\r\n\r\n", err: errStatusLine},
	{name: "code below 100", head: "HTTP/1.1 099 X\r\n\r\n", err: errStatusCode},
	{name: "code above 599", head: "HTTP/1.1 600 X\r\n\r\n", err: errStatusCode},
	{name: "lower-case protocol", head: "http/1.1 200 OK\r\n\r\n", err: errVersion},
	{name: "HTTP/2.0", head: "HTTP/2.0 200 OK\r\n\r\n", err: errVersionNo},
	{name: "short line", head: "HTTP/1\r\n\r\n", err: errStatusLine},
	{name: "control byte in the reason", head: "HTTP/1.1 200 O\x01K\r\n\r\n", err: errReasonByte},
	{name: "CR in the reason", head: "HTTP/1.1 200 O\rK\r\n\r\n", err: errBareCR},
	{name: "empty line before the status line", head: "\r\nHTTP/1.1 200 OK\r\n\r\n", err: errStatusLine},
	{name: "Content-Length and Transfer-Encoding", head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", err: errCLAndTE},
	{name: "two Content-Length fields", head: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", err: errManyCL},
	{name: "Content-Length list", head: "HTTP/1.1 200 OK\r\nContent-Length: 5,5\r\n\r\n", err: errCLList},
	{name: "Transfer-Encoding gzip", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: errTEUnknown},
	{name: "Transfer-Encoding list", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: errTEList},
	{name: "Transfer-Encoding in HTTP/1.0", head: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", err: errTEHTTP10},
	{name: "folded field", head: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", err: errFolded},
	{name: "space before the colon", head: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", err: errNameSpace},
	{name: "NUL in a value", head: "HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n", err: errValueByte},
	{name: "too many fields", head: "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", lim: Limits{MaxFields: 1}, err: errFieldCount},
	{name: "head too large", head: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", 100) + "\r\n\r\n", lim: Limits{MaxHeadBytes: 64}, err: errHeadSize},
}

func TestParseResponse(t *testing.T) {
	for _, tc := range responseCases {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			n, err := ParseResponse([]byte(tc.head+"BODY"), &r, tc.lim)
			if !sameError(err, tc.err) {
				t.Fatalf("ParseResponse = %d, %v; want %v", n, err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if n != len(tc.head) {
				t.Errorf("head length %d, want %d", n, len(tc.head))
			}
			if got := respSummary(&r); got != tc.want {
				t.Errorf("parsed\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
}

func TestParseResponsePrefixes(t *testing.T) {
	for _, tc := range responseCases {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			for i := range len(tc.head) {
				_, err := ParseResponse([]byte(tc.head[:i]), &r, tc.lim)
				if errors.Is(err, ErrNeedMore) {
					continue
				}
				if tc.err == nil || !sameError(err, tc.err) {
					t.Fatalf("prefix of %d bytes: %v, want %v or %v", i, err, ErrNeedMore, tc.err)
				}
			}
		})
	}
}

func TestResponseFraming(t *testing.T) {
	tests := []struct {
		name   string
		head   string
		method string
		kind   Framing
		length int64
	}{
		{name: "Content-Length", head: "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", method: "GET", kind: Length, length: 42},
		{name: "Content-Length 0", head: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", method: "GET", kind: NoBody},
		{name: "chunked", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: "POST", kind: ChunkedBody, length: -1},
		{name: "until close", head: "HTTP/1.1 200 OK\r\n\r\n", method: "GET", kind: UntilClose, length: -1},
		{name: "HTTP/1.0 until close", head: "HTTP/1.0 200 OK\r\n\r\n", method: "GET", kind: UntilClose, length: -1},
		{name: "HEAD with Content-Length", head: "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", method: "HEAD", kind: NoBody},
		{name: "HEAD with chunked", head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: "HEAD", kind: NoBody},
		{name: "204 with Content-Length", head: "HTTP/1.1 204 No Content\r\nContent-Length: 42\r\n\r\n", method: "GET", kind: NoBody},
		{name: "304 with Content-Length", head: "HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n", method: "GET", kind: NoBody},
		{name: "100", head: "HTTP/1.1 100 Continue\r\n\r\n", method: "PUT", kind: NoBody},
		{name: "101", head: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", method: "GET", kind: NoBody},
		{name: "103", head: "HTTP/1.1 103 Early Hints\r\n\r\n", method: "GET", kind: NoBody},
		{name: "200 to CONNECT", head: "HTTP/1.1 200 Connection established\r\n\r\n", method: "CONNECT", kind: NoBody},
		{name: "407 to CONNECT", head: "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n\r\n", method: "CONNECT", kind: Length, length: 3},
		{name: "205 with Content-Length", head: "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n", method: "GET", kind: NoBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			if _, err := ParseResponse([]byte(tc.head), &r, Limits{}); err != nil {
				t.Fatal(err)
			}
			if kind, length := r.Framing([]byte(tc.method)); kind != tc.kind || length != tc.length {
				t.Errorf("Framing(%s) = %v, %d; want %v, %d", tc.method, kind, length, tc.kind, tc.length)
			}
		})
	}
}

func TestResponseField(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
	tests := []struct {
		name    string
		field   string
		want    string
		wantNil bool
	}{
		{name: "first of two", field: "Set-Cookie", want: "a=1"},
		{name: "absent", field: "Location", wantNil: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			if _, err := ParseResponse([]byte(head), &r, Limits{}); err != nil {
				t.Fatal(err)
			}
			got := r.Field(tc.field)
			if string(got) != tc.want || (got == nil) != tc.wantNil {
				t.Errorf("Field(%q) = %q (nil %v), want %q (nil %v)", tc.field, got, got == nil, tc.want, tc.wantNil)
			}
		})
	}
}
