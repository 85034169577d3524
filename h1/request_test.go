package h1

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// reqSummary renders what ParseRequest found, for comparing with a want.
func reqSummary(r *Request) string {
	host := "-"
	if r.Host != nil {
		host = strconv.Quote(string(r.Host))
	}
	s := fmt.Sprintf("%s %s 1.%d host=%s", r.Method, r.Target, r.Minor, host)
	if r.ContentLength >= 0 {
		s += fmt.Sprintf(" cl=%d", r.ContentLength)
	}
	if r.Chunked {
		s += " chunked"
	}
	if r.KeepAlive {
		s += " keep-alive"
	}
	if r.Upgrade {
		s += " upgrade"
	}
	if r.ExpectContinue {
		s += " continue"
	}
	return s
}

// sameError reports whether err is the refusal want (nil for success).
func sameError(err error, want *Error) bool {
	if want == nil {
		return err == nil
	}
	var e *Error
	return errors.As(err, &e) && e.Status == want.Status && e.Reason == want.Reason
}

type requestCase struct {
	name string
	head string
	lim  Limits
	want string // reqSummary on success
	err  *Error // the refusal, or nil
}

// requestCases are heads of one request each. Every refusal is a rule of
// RFC 9112 the parser keeps: each case fails if its rule is dropped.
var requestCases = []requestCase{
	// Heads that parse.
	{name: "GET", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "bare LF line ends", head: "GET / HTTP/1.1\nHost: a\n\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "CRLF and bare LF mixed", head: "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "empty lines before the request line", head: "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "HTTP/1.0 without Host", head: "GET /x HTTP/1.0\r\n\r\n", want: `GET /x 1.0 host=-`},
	{name: "HTTP/1.0 keep-alive", head: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", want: `GET / 1.0 host=- keep-alive`},
	{name: "HTTP/1.0 keep-alive and close", head: "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", want: `GET / 1.0 host=-`},
	{name: "HTTP/1.1 close", head: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", want: `GET / 1.1 host="a"`},
	{name: "close in a Connection list", head: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive , CLOSE\r\n\r\n", want: `GET / 1.1 host="a"`},
	{name: "HTTP/1.9 is spoken as 1.1", head: "GET / HTTP/1.9\r\nHost: a\r\n\r\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "empty Host", head: "GET / HTTP/1.1\r\nHost:\r\n\r\n", want: `GET / 1.1 host="" keep-alive`},
	{name: "Host with port", head: "GET / HTTP/1.1\r\nHost: www.example.com:8080\r\n\r\n", want: `GET / 1.1 host="www.example.com:8080" keep-alive`},
	{name: "IPv6 Host", head: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", want: `GET / 1.1 host="[::1]:8080" keep-alive`},
	{name: "lower-case host field", head: "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "absolute-form", head: "GET http://b.example/p?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", want: `GET http://b.example/p?q=1 1.1 host="a" keep-alive`},
	{name: "absolute-form https without a path", head: "GET HTTPS://b:443 HTTP/1.1\r\nHost: b\r\n\r\n", want: `GET HTTPS://b:443 1.1 host="b" keep-alive`},
	{name: "CONNECT authority-form", head: "CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n", want: `CONNECT b.example:443 1.1 host="b.example:443" keep-alive`},
	{name: "OPTIONS asterisk-form", head: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", want: `OPTIONS * 1.1 host="a" keep-alive`},
	{name: "non-ASCII bytes in the target", head: "GET /caf\xc3\xa9\xff HTTP/1.1\r\nHost: a\r\n\r\n", want: "GET /caf\xc3\xa9\xff 1.1 host=\"a\" keep-alive"},
	{name: "extension method", head: "M-SEARCH_1 /x HTTP/1.1\r\nHost: a\r\n\r\n", want: `M-SEARCH_1 /x 1.1 host="a" keep-alive`},
	{name: "percent-encoding in the path", head: "GET /a%2Fb%c3%a9 HTTP/1.1\r\nHost: a\r\n\r\n", want: `GET /a%2Fb%c3%a9 1.1 host="a" keep-alive`},
	{name: "a lone percent in the query", head: "GET /s?q=100% HTTP/1.1\r\nHost: a\r\n\r\n", want: `GET /s?q=100% 1.1 host="a" keep-alive`},
	{name: "Content-Length 0", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", want: `POST / 1.1 host="a" cl=0 keep-alive`},
	{name: "Content-Length with whitespace and leading zeros", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 007 \t\r\n\r\n", want: `POST / 1.1 host="a" cl=7 keep-alive`},
	{name: "largest Content-Length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", want: `POST / 1.1 host="a" cl=9223372036854775807 keep-alive`},
	{name: "chunked in capitals", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \r\n\r\n", want: `POST / 1.1 host="a" chunked keep-alive`},
	{name: "WebSocket upgrade", head: "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", want: `GET /ws 1.1 host="a" keep-alive upgrade`},
	{name: "Upgrade without the Connection token", head: "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", want: `GET /ws 1.1 host="a" keep-alive`},
	{name: "Upgrade in HTTP/1.0 is ignored", head: "GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", want: `GET /ws 1.0 host=-`},
	{name: "Expect 100-continue", head: "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n", want: `PUT /f 1.1 host="a" cl=4 keep-alive continue`},
	{name: "Expect in HTTP/1.0 is ignored", head: "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", want: `PUT /f 1.0 host=- cl=4`},
	{name: "obs-text and HTAB in a value", head: "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\tau lait\r\n\r\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "empty value", head: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank: \t \r\n\r\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "names that only look like framing fields", head: "GET / HTTP/1.1\r\nHost: a\r\nContent-Lengthy: +1\r\nX-Content-Length: 1, 2\r\nTransfer-Encodings: gzip\r\nContent-Lengt: x\r\nTransfer-Encoding-X: identity\r\nHosts: a\r\nHos: b\r\n\r\n", want: `GET / 1.1 host="a" keep-alive`},
	{name: "as many fields as allowed", head: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nX: 2\r\n\r\n", lim: Limits{MaxFields: 3}, want: `GET / 1.1 host="a" keep-alive`},
	{name: "head of exactly the limit", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", lim: Limits{MaxHeadBytes: 27}, want: `GET / 1.1 host="a" keep-alive`},

	// The request line.
	{name: "no space", head: "GET\r\nHost: a\r\n\r\n", err: errRequestLine},
	{name: "no version", head: "GET /\r\nHost: a\r\n\r\n", err: errRequestLine},
	{name: "two spaces before the target", head: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", err: errRequestLine},
	{name: "space after the version", head: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", err: errVersion},
	{name: "tab as separator", head: "GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n", err: errRequestLine},
	{name: "lower-case protocol name", head: "GET / http/1.1\r\nHost: a\r\n\r\n", err: errVersion},
	{name: "two-digit minor version", head: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", err: errVersion},
	{name: "HTTP/2.0", head: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", err: errVersionNo},
	{name: "HTTP/0.9", head: "GET / HTTP/0.9\r\n\r\n", err: errVersionNo},
	{name: "HTTP/2 preface", head: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", err: errVersionNo},
	{name: "space before the method", head: " GET / HTTP/1.1\r\nHost: a\r\n\r\n", err: errRequestLine},
	{name: "method with a separator", head: "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", err: errMethod},
	{name: "CR before the line end", head: "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", err: errBareCR},
	{name: "CR inside the target", head: "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", err: errBareCR},
	{name: "bare CR among the empty lines", head: "\r\n\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", err: errBareCR},

	// The request target.
	{name: "control byte in the target", head: "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "DEL in the target", head: "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "fragment in the target", head: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "bad percent-encoding in the path", head: "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "cut percent-encoding in the path", head: "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "origin-form for CONNECT", head: "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", err: errTargetForm},
	{name: "asterisk-form for GET", head: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", err: errTargetForm},
	{name: "authority-form for GET", head: "GET a.example:80 HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "CONNECT without a port", head: "CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "CONNECT with a path", head: "CONNECT a.example:443/x HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "absolute-form of another scheme", head: "GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "absolute-form with userinfo", head: "GET http://u:p@a/x HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "absolute-form without a host", head: "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "absolute-form with a bad port", head: "GET http://a:8o/x HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "absolute-form with two colons", head: "GET http://a:1:2/x HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "absolute-form with IPv4 in brackets", head: "GET http://[1.2.3.4]/ HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},
	{name: "absolute-form with a query and no path", head: "GET http://a?q HTTP/1.1\r\nHost: a\r\n\r\n", err: errTarget},

	// Header fields.
	{name: "folded line", head: "GET / HTTP/1.1\r\nHost: a\r\nX-Note: a\r\n b\r\n\r\n", err: errFolded},
	{name: "folded with a tab", head: "GET / HTTP/1.1\r\nHost: a\r\nX-Note: a\r\n\tb\r\n\r\n", err: errFolded},
	{name: "whitespace before the first field", head: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", err: errFolded},
	{name: "space before the colon", head: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", err: errNameSpace},
	{name: "space inside a name", head: "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", err: errNameSpace},
	{name: "line without a colon", head: "GET / HTTP/1.1\r\nHost: a\r\nX-Broken\r\n\r\n", err: errNoColon},
	{name: "empty name", head: "GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n", err: errEmptyName},
	{name: "separator in a name", head: "GET / HTTP/1.1\r\nHost: a\r\nX(Y): z\r\n\r\n", err: errNameByte},
	{name: "non-ASCII byte in a name", head: "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: z\r\n\r\n", err: errNameByte},
	{name: "CR inside a name", head: "GET / HTTP/1.1\r\nHost: a\r\nX\rY: z\r\n\r\n", err: errBareCR},
	{name: "CR at a line start", head: "GET / HTTP/1.1\r\nHost: a\r\n\rX: z\r\n\r\n", err: errBareCR},
	{name: "NUL in a value", head: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", err: errValueByte},
	{name: "control byte in a value", head: "GET / HTTP/1.1\r\nHost: a\r\nX: abcdefghijkl\x01mnop\r\n\r\n", err: errValueByte},
	{name: "DEL in a value", head: "GET / HTTP/1.1\r\nHost: a\r\nX: abcdefgh\x7f\r\n\r\n", err: errValueByte},
	{name: "CR inside a value", head: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", err: errBareCR},
	{name: "CR CR LF", head: "GET / HTTP/1.1\r\nHost: a\r\nX: ab\r\r\n\r\n", err: errBareCR},
	{name: "CR ending the head", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", err: errBareCR},

	// Host.
	{name: "HTTP/1.1 without Host", head: "GET / HTTP/1.1\r\n\r\n", err: errNoHost},
	{name: "absolute-form without Host", head: "GET http://a/ HTTP/1.1\r\n\r\n", err: errNoHost},
	{name: "two Host fields", head: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", err: errManyHost},
	{name: "two Host fields in HTTP/1.0", head: "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", err: errManyHost},
	{name: "Host with a space", head: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", err: errHost},
	{name: "Host with a path", head: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", err: errHost},
	{name: "Host with only a port", head: "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", err: errHost},
	{name: "Host with userinfo", head: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", err: errHost},
	{name: "Host with an open bracket", head: "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", err: errHost},

	// Content-Length.
	{name: "two equal Content-Length fields", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", err: errManyCL},
	{name: "two different Content-Length fields", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 4\r\n\r\n", err: errManyCL},
	{name: "Content-Length list", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", err: errCLList},
	{name: "signed Content-Length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", err: errCLSyntax},
	{name: "negative Content-Length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", err: errCLSyntax},
	{name: "space inside Content-Length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 5\r\n\r\n", err: errCLSyntax},
	{name: "empty Content-Length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t\r\n\r\n", err: errCLSyntax},
	{name: "hex Content-Length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", err: errCLSyntax},
	{name: "Content-Length past 2^63-1", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", err: errCLRange},
	{name: "Content-Length of 20 digits", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", err: errCLRange},

	// Transfer-Encoding.
	{name: "Transfer-Encoding chunked, identity", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", err: errTEList},
	{name: "Transfer-Encoding gzip, chunked", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: errTEList},
	{name: "Transfer-Encoding chunked with an empty element", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", err: errTEList},
	{name: "Transfer-Encoding identity", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", err: errTEUnknown},
	{name: "Transfer-Encoding prefix of chunked", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunk\r\n\r\n", err: errTEUnknown},
	{name: "empty Transfer-Encoding", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", err: errTESyntax},
	{name: "Transfer-Encoding with a parameter", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", err: errTESyntax},
	{name: "Transfer-Encoding quoted", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", err: errTESyntax},
	{name: "two Transfer-Encoding fields", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: errManyTE},
	{name: "Transfer-Encoding in HTTP/1.0", head: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", err: errTEHTTP10},
	{name: "Content-Length then Transfer-Encoding", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", err: errCLAndTE},
	{name: "Transfer-Encoding then Content-Length", head: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\nHost: a\r\n\r\n", err: errCLAndTE},

	// Limits.
	{name: "one field too many", head: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nX: 2\r\nX: 3\r\n\r\n", lim: Limits{MaxFields: 3}, err: errFieldCount},
	{name: "101 fields by default", head: "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", 100) + "\r\n", err: errFieldCount},
	{name: "head one byte past the limit", head: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", lim: Limits{MaxHeadBytes: 26}, err: errHeadSize},
	{name: "a 70 KB field by default", head: "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", err: errHeadSize},
	{name: "empty lines count toward the limit", head: strings.Repeat("\r\n", 20) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", lim: Limits{MaxHeadBytes: 64}, err: errHeadSize},
}

func TestParseRequest(t *testing.T) {
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			n, err := ParseRequest([]byte(tc.head+"BODY"), &r, tc.lim)
			if !sameError(err, tc.err) {
				t.Fatalf("ParseRequest = %d, %v; want %v", n, err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if n != len(tc.head) {
				t.Errorf("head length %d, want %d", n, len(tc.head))
			}
			if got := reqSummary(&r); got != tc.want {
				t.Errorf("parsed\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
}

// TestParseRequestPrefixes checks that every prefix of a head is either
// incomplete or refused for the reason the whole head is, so that a head
// arriving in pieces is judged as it would be in one.
func TestParseRequestPrefixes(t *testing.T) {
	for _, tc := range requestCases {
		if len(tc.head) > 4096 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			for i := range len(tc.head) {
				_, err := ParseRequest([]byte(tc.head[:i]), &r, tc.lim)
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

func TestParseRequestNeedMore(t *testing.T) {
	tests := []struct {
		name string
		b    string
		lim  Limits
		err  error
	}{
		{name: "nothing", b: "", err: ErrNeedMore},
		{name: "only empty lines", b: "\r\n\r\n", err: ErrNeedMore},
		{name: "a CR at the end", b: "\r", err: ErrNeedMore},
		{name: "request line cut", b: "GET / HTTP/1.1", err: ErrNeedMore},
		{name: "field cut", b: "GET / HTTP/1.1\r\nHost: a\r\nContent-Len", err: ErrNeedMore},
		{name: "final CR without its LF", b: "GET / HTTP/1.1\r\nHost: a\r\n\r", err: ErrNeedMore},
		{name: "incomplete and one byte short of the limit", b: "GET / HTTP/1.1\r\nHost: a\r\n\r", lim: Limits{MaxHeadBytes: 27}, err: ErrNeedMore},
		{name: "incomplete at the limit", b: "GET / HTTP/1.1\r\nHost: a\r\n\r", lim: Limits{MaxHeadBytes: 26}, err: errHeadSize},
		{name: "a request line longer than the limit", b: "GET /" + strings.Repeat("a", 100), lim: Limits{MaxHeadBytes: 64}, err: errHeadSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			n, err := ParseRequest([]byte(tc.b), &r, tc.lim)
			if n != 0 || !errors.Is(err, tc.err) {
				t.Fatalf("ParseRequest = %d, %v; want 0, %v", n, err, tc.err)
			}
		})
	}
}

func TestRequestTarget(t *testing.T) {
	tests := []struct {
		name                  string
		head                  string
		authority, pq, path   string
		pathQueryNil, authNil bool
	}{
		{name: "origin-form", head: "GET /a/b?c=d HTTP/1.1\r\nHost: h\r\n\r\n", authority: "h", pq: "/a/b?c=d", path: "/a/b"},
		{name: "absolute-form", head: "GET http://t.example:81/a?b HTTP/1.1\r\nHost: h\r\n\r\n", authority: "t.example:81", pq: "/a?b", path: "/a"},
		{name: "absolute-form without a path", head: "GET http://t.example HTTP/1.1\r\nHost: h\r\n\r\n", authority: "t.example", pq: "/", path: "/"},
		{name: "absolute-form IPv6", head: "GET http://[2001:db8::1]:8080/x HTTP/1.1\r\nHost: h\r\n\r\n", authority: "[2001:db8::1]:8080", pq: "/x", path: "/x"},
		{name: "authority-form", head: "CONNECT t.example:443 HTTP/1.1\r\nHost: h\r\n\r\n", authority: "t.example:443", pathQueryNil: true},
		{name: "asterisk-form", head: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", authority: "h", pq: "*", path: "*"},
		{name: "HTTP/1.0 without Host", head: "GET /x HTTP/1.0\r\n\r\n", authNil: true, pq: "/x", path: "/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			if _, err := ParseRequest([]byte(tc.head), &r, Limits{}); err != nil {
				t.Fatal(err)
			}
			if got := r.Authority(); string(got) != tc.authority || (got == nil) != tc.authNil {
				t.Errorf("Authority = %q, want %q", got, tc.authority)
			}
			if got := r.PathQuery(); string(got) != tc.pq || (got == nil) != tc.pathQueryNil {
				t.Errorf("PathQuery = %q, want %q", got, tc.pq)
			}
			if got := r.Path(); string(got) != tc.path {
				t.Errorf("Path = %q, want %q", got, tc.path)
			}
		})
	}
}

func TestRequestFraming(t *testing.T) {
	tests := []struct {
		name   string
		head   string
		kind   Framing
		length int64
	}{
		{name: "no framing field", head: "POST / HTTP/1.1\r\nHost: a\r\n\r\n", kind: NoBody},
		{name: "Content-Length 0", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", kind: NoBody},
		{name: "Content-Length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", kind: Length, length: 12},
		{name: "chunked", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", kind: ChunkedBody, length: -1},
		{name: "GET with a body", head: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", kind: Length, length: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			if _, err := ParseRequest([]byte(tc.head), &r, Limits{}); err != nil {
				t.Fatal(err)
			}
			if kind, length := r.Framing(); kind != tc.kind || length != tc.length {
				t.Errorf("Framing = %v, %d; want %v, %d", kind, length, tc.kind, tc.length)
			}
		})
	}
}

func TestRequestReuse(t *testing.T) {
	var r Request
	first := "POST /one HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 5\r\nConnection: x-secret\r\n\r\n"
	if _, err := ParseRequest([]byte(first), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	second := "GET /two HTTP/1.0\r\nD: 4\r\n\r\n"
	if _, err := ParseRequest([]byte(second), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got, want := reqSummary(&r), "GET /two 1.0 host=-"; got != want {
		t.Errorf("second parse = %s, want %s", got, want)
	}
	if len(r.Fields) != 1 || string(r.Fields[0].Name) != "D" || r.HopByHop([]byte("x-secret")) {
		t.Errorf("state of the first head kept: %d fields, hop-by-hop x-secret %v", len(r.Fields), r.HopByHop([]byte("x-secret")))
	}
}

// walkRequests reads a stream of pipelined requests the way the engine
// does: a head, then its body by its framing, chunked bodies fed to a
// Chunked in pieces of the given size (the whole rest when 0). It returns
// the heads parsed, where the stream ended ("start" of a request, inside a
// "head" or a "body", or "refused") and the refusal.
func walkRequests(stream []byte, lim Limits, piece int) (heads int, end string, err error) {
	var r Request
	var c Chunked
	for len(stream) > 0 {
		n, err := ParseRequest(stream, &r, lim)
		if errors.Is(err, ErrNeedMore) {
			return heads, "head", nil
		}
		if err != nil {
			return heads, "refused", err
		}
		heads++
		stream = stream[n:]
		switch kind, length := r.Framing(); kind {
		case Length:
			if int64(len(stream)) < length {
				return heads, "body", nil
			}
			stream = stream[length:]
		case ChunkedBody:
			c.Reset()
			used, done := 0, false
			for !done && used < len(stream) {
				end := len(stream)
				if piece > 0 {
					end = min(used+piece, end)
				}
				n, d, err := c.Scan(stream[used:end])
				if err != nil {
					return heads, "refused", err
				}
				if !d && n != end-used {
					return heads, "refused", fmt.Errorf("Scan consumed %d of %d bytes without ending the body", n, end-used)
				}
				used += n
				done = d
			}
			if !done {
				return heads, "body", nil
			}
			stream = stream[used:]
		}
	}
	return heads, "start", nil
}

const plainGET = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"

// smuggleLike is a request head with both framing fields, the kind of bytes a
// reader that lost track of bodies would take for a smuggled request.
const smuggleLike = "GET /inner HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"

func encodeChunk(s string) string {
	return fmt.Sprintf("%x\r\n%s\r\n", len(s), s)
}

type streamCase struct {
	name   string
	stream string
	lim    Limits
	heads  int
	end    string
	err    *Error
}

// streamCases holds the cases of the framing scanner that watched
// net/http's input before this parser, with the same bytes. Where the
// scanner refused, the parser refuses for the same rule; three outcomes
// differ, each marked: a trailer ended by a bare LF (refused now: RFC 9112
// allows a bare LF in heads only), HTTP/2's preface (505 now; net/http
// answered it before), and a control byte in a framing field's value
// (refused by the general rule on values before the framing rule sees it).
func streamCases() []streamCase {
	longCookie := "Cookie: " + strings.Repeat("a=b; ", 20000) + "\r\n"
	return []streamCase{
		{name: "GET", stream: plainGET, heads: 1, end: "start"},
		{name: "POST with Content-Length, then GET", stream: "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world" + plainGET, heads: 2, end: "start"},
		{
			name: "chunked with extensions, trailing whitespace and trailers",
			stream: "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;name=\"a b\"\r\nhello\r\n" +
				"A \t\r\n0123456789\r\n" +
				"10;x;y=z\r\n0123456789abcdef\r\n" +
				"0;last=1\r\nX-Checksum: 42\r\nX-More: yes\r\n\r\n" + plainGET,
			heads: 2, end: "start",
		},
		{
			name: "pipelined keep-alive requests",
			stream: plainGET +
				"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
				"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + encodeChunk("xyz") + "0\r\n\r\n" +
				plainGET,
			heads: 4, end: "start",
		},
		{
			name: "lowercase and mixed-case names and coding",
			stream: "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: CHUNKED\r\n\r\n" + encodeChunk("abc") + "0\r\n\r\n" +
				"POST /x HTTP/1.1\r\nhost: a\r\ncOnTeNt-LeNgTh: 2\r\n\r\nhi" + plainGET,
			heads: 3, end: "start",
		},
		{name: "bare LF line endings in the head", stream: "POST / HTTP/1.1\nHost: a\nContent-Length: 3\n\nabcGET / HTTP/1.1\nHost: a\n\n", heads: 2, end: "start"},
		// Changed: the scanner let net/http take this, which it does.
		{name: "trailer ended by a bare LF", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\n\n" + plainGET, heads: 1, end: "refused", err: errChunkBareLF},
		{name: "CRLF after a POST body", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\r\n" + plainGET, heads: 2, end: "start"},
		{name: "HTTP/1.0 with Content-Length", stream: "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n", heads: 2, end: "start"},
		{name: "Expect 100-continue", stream: "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata" + plainGET, heads: 2, end: "start"},
		{name: "whitespace around the value and leading zeros", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 007 \t\r\n\r\n1234567" + plainGET, heads: 2, end: "start"},
		{name: "largest Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n" + smuggleLike, heads: 1, end: "body"},
		{name: "sixteen hex digits of chunk size", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n" + plainGET, heads: 2, end: "start"},
		{
			name: "names that only look like framing fields",
			stream: "GET / HTTP/1.1\r\nHost: a\r\nContent-Lengthy: +1\r\nX-Content-Length: 1, 2\r\n" +
				"Transfer-Encodings: gzip\r\nContent-Lengt: x\r\nTransfer-Encoding-X: identity\r\n\r\n" + plainGET,
			heads: 2, end: "start",
		},
		// net/http's limit was 1 MB; quill's default is 64 KiB.
		{name: "a 100 KB header line", stream: "POST / HTTP/1.1\r\nHost: a\r\n" + longCookie + "Content-Length: 3\r\n\r\nabc" + plainGET, lim: Limits{MaxHeadBytes: 1 << 20}, heads: 2, end: "start"},
		{name: "Content-Length body that looks like a head", stream: fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(smuggleLike), smuggleLike) + plainGET, heads: 2, end: "start"},
		{name: "chunked body that looks like a head", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + encodeChunk(smuggleLike) + "0\r\n\r\n" + plainGET, heads: 2, end: "start"},
		{name: "head cut by EOF", stream: "GET / HTTP/1.1\r\nHost: a\r\nContent-Len", heads: 0, end: "head"},
		{name: "body cut by EOF", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", heads: 1, end: "body"},
		// Changed: net/http answered the preface with its own 505.
		{name: "HTTP/2 with prior knowledge", stream: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x06\x04\x00\x00\x00\x00\x00Transfer-Encoding : x\r\n\r\n", heads: 0, end: "refused", err: errVersionNo},

		{name: "Content-Length and Transfer-Encoding", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", end: "refused", err: errCLAndTE},
		{name: "Transfer-Encoding and Content-Length", stream: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\nHost: a\r\n\r\n0\r\n\r\n", end: "refused", err: errCLAndTE},
		{name: "ambiguous second request", stream: plainGET + "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", heads: 1, end: "refused", err: errCLAndTE},
		{name: "duplicate identical Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", end: "refused", err: errManyCL},
		{name: "Content-Length list", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", end: "refused", err: errCLList},
		{name: "signed Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", end: "refused", err: errCLSyntax},
		{name: "negative Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", end: "refused", err: errCLSyntax},
		{name: "whitespace inside Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 5\r\n\r\n", end: "refused", err: errCLSyntax},
		{name: "empty Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t\r\n\r\n", end: "refused", err: errCLSyntax},
		{name: "hex Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", end: "refused", err: errCLSyntax},
		// Changed reason: the rule on values refuses the control byte first.
		{name: "control byte after Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\x0b\r\n\r\n", end: "refused", err: errValueByte},
		{name: "CR inside Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\r\n\r\n", end: "refused", err: errBareCR},
		{name: "Content-Length past 2^63-1", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", end: "refused", err: errCLRange},
		{name: "Transfer-Encoding chunked, identity", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", end: "refused", err: errTEList},
		{name: "Transfer-Encoding gzip, chunked", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", end: "refused", err: errTEList},
		{name: "Transfer-Encoding identity", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", end: "refused", err: errTEUnknown},
		// Changed reason, as for Content-Length.
		{name: "Transfer-Encoding with a control byte", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0b\r\n\r\n", end: "refused", err: errValueByte},
		{name: "Transfer-Encoding prefix of chunked", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunk\r\n\r\n", end: "refused", err: errTEUnknown},
		{name: "empty Transfer-Encoding", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", end: "refused", err: errTESyntax},
		{name: "two Transfer-Encoding fields", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", end: "refused", err: errManyTE},
		{name: "Transfer-Encoding in HTTP/1.0", stream: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", end: "refused", err: errTEHTTP10},
		{name: "folded line", stream: "GET / HTTP/1.1\r\nHost: a\r\nX-Note: a\r\n b\r\n\r\n", end: "refused", err: errFolded},
		{name: "folded Content-Length", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\t5\r\n\r\n", end: "refused", err: errFolded},
		{name: "folded first header line", stream: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", end: "refused", err: errFolded},
		{name: "space before the colon", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", end: "refused", err: errNameSpace},
		{name: "tab before the colon", stream: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 3\r\n\r\nabc", end: "refused", err: errNameSpace},
		{name: "header line without a colon", stream: "GET / HTTP/1.1\r\nHost: a\r\nX-Broken\r\n\r\n", end: "refused", err: errNoColon},
		{name: "chunk-size line ended by a bare LF", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" + plainGET, heads: 1, end: "refused", err: errChunkBareLF},
		{name: "CR inside a chunk-size line", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r;x\r\nhello\r\n0\r\n\r\n", heads: 1, end: "refused", err: errBareCR},
		{name: "whitespace before a chunk extension", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n", heads: 1, end: "refused", err: errChunkSize},
		{name: "chunk extension without a size", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", heads: 1, end: "refused", err: errChunkSize},
		{name: "seventeen hex digits of chunk size", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n", heads: 1, end: "refused", err: errChunkSizeLong},
		{name: "chunk data longer than its size", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n", heads: 1, end: "refused", err: errChunkDataEnd},
		{name: "chunk-size line of 4096 bytes", stream: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("x", 4094) + "\r\nA\r\n0\r\n\r\n", heads: 1, end: "refused", err: errChunkLine},
	}
}

func TestRequestStreams(t *testing.T) {
	for _, tc := range streamCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, piece := range []int{0, 1, 2, 7} {
				heads, end, err := walkRequests([]byte(tc.stream), tc.lim, piece)
				if heads != tc.heads || end != tc.end || !sameError(err, tc.err) {
					t.Fatalf("pieces of %d: %d heads, ended in %s with %v; want %d heads, %s with %v",
						piece, heads, end, err, tc.heads, tc.end, tc.err)
				}
			}
		})
	}
}
