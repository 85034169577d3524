package h1

import (
	"strings"
	"testing"
)

func TestEqualFold(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "same", a: "Host", b: "Host", want: true},
		{name: "other case", a: "CONTENT-length", b: "content-LENGTH", want: true},
		{name: "empty", a: "", b: "", want: true},
		{name: "other length", a: "Host", b: "Hos", want: false},
		{name: "other letter", a: "Host", b: "Hosd", want: false},
		{name: "case folding is ASCII only", a: "\xc3\xa9", b: "\xc3\x89", want: false},
		{name: "no folding beyond letters", a: "[", b: "{", want: false},
		{name: "at and backquote", a: "@", b: "`", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EqualFold([]byte(tc.a), tc.b); got != tc.want {
				t.Errorf("EqualFold(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		name         string
		value, token string
		want         bool
	}{
		{name: "alone", value: "close", token: "close", want: true},
		{name: "other case", value: "Upgrade", token: "upgrade", want: true},
		{name: "in a list with whitespace", value: "keep-alive , \tUpgrade\t", token: "upgrade", want: true},
		{name: "last of a list", value: "a,b,close", token: "close", want: true},
		{name: "empty elements", value: ", ,close,", token: "close", want: true},
		{name: "absent", value: "keep-alive", token: "close", want: false},
		{name: "prefix of an element", value: "closed", token: "close", want: false},
		{name: "element with parameters", value: "gzip;q=1", token: "gzip", want: false},
		{name: "inside an element", value: "not close", token: "close", want: false},
		{name: "empty value", value: "", token: "close", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HasToken([]byte(tc.value), tc.token); got != tc.want {
				t.Errorf("HasToken(%q, %q) = %v, want %v", tc.value, tc.token, got, tc.want)
			}
		})
	}
}

// TestValidValueEveryByte puts each byte at each place of the eight-byte
// words the fast path checks, and compares with the byte table.
func TestValidValueEveryByte(t *testing.T) {
	tests := []struct {
		name string
		fill byte
	}{
		{name: "among letters", fill: 'a'},
		{name: "among obs-text", fill: 0xff},
		{name: "among spaces", fill: ' '},
		{name: "among tildes", fill: '~'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for c := range 256 {
				want := c == '\t' || c >= 0x20 && c != 0x7f
				for pos := range 17 {
					v := []byte(strings.Repeat(string(tc.fill), 17))
					v[pos] = byte(c)
					if got := validValue(v); got != want {
						t.Fatalf("byte %#x at %d: validValue = %v, want %v", c, pos, got, want)
					}
				}
			}
		})
	}
}

func TestParseField(t *testing.T) {
	tests := []struct {
		name        string
		line        string
		fname, fval string
		err         *Error
	}{
		{name: "plain", line: "Host: a", fname: "Host", fval: "a"},
		{name: "no space after the colon", line: "Host:a", fname: "Host", fval: "a"},
		{name: "whitespace around the value", line: "X: \t a b \t ", fname: "X", fval: "a b"},
		{name: "empty value", line: "X:", fname: "X", fval: ""},
		{name: "colon in the value", line: "X: a:b", fname: "X", fval: "a:b"},
		{name: "every tchar in the name", line: "!#$%&'*+-.^_`|~09AZaz: v", fname: "!#$%&'*+-.^_`|~09AZaz", fval: "v"},
		{name: "obs-fold", line: " X: a", err: errFolded},
		{name: "no colon", line: "X", err: errNoColon},
		{name: "space before the colon", line: "X : a", err: errNameSpace},
		{name: "empty name", line: ":a", err: errEmptyName},
		{name: "quote in the name", line: "X\"Y: a", err: errNameByte},
		{name: "NUL in the name", line: "X\x00: a", err: errNameByte},
		{name: "vertical tab in the value", line: "X: a\vb", err: errValueByte},
		{name: "CR in the value", line: "X: a\rb", err: errBareCR},
		{name: "CR in the name", line: "X\r: a", err: errBareCR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, e := parseField([]byte(tc.line))
			if tc.err != nil {
				if e != tc.err {
					t.Fatalf("parseField = %v, want %v", e, tc.err)
				}
				return
			}
			if e != nil || string(f.Name) != tc.fname || string(f.Value) != tc.fval {
				t.Fatalf("parseField = %q, %q, %v; want %q, %q", f.Name, f.Value, e, tc.fname, tc.fval)
			}
		})
	}
}

func TestHopByHop(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nconnection: x-other , \r\n" +
		"X-Secret: 1\r\nX-Other: 2\r\nX-Kept: 3\r\n\r\n"
	plain := "GET / HTTP/1.1\r\nHost: a\r\nX-Secret: 1\r\n\r\n"
	tests := []struct {
		name string
		head string
		want bool
	}{
		{name: "Connection", head: plain, want: true},
		{name: "keep-alive", head: plain, want: true},
		{name: "Proxy-Connection", head: plain, want: true},
		{name: "te", head: plain, want: true},
		{name: "Trailer", head: plain, want: true},
		{name: "TRANSFER-ENCODING", head: plain, want: true},
		{name: "Upgrade", head: plain, want: true},
		{name: "Host", head: plain, want: false},
		{name: "Content-Length", head: plain, want: false},
		{name: "Trailers", head: plain, want: false},
		{name: "X-Secret", head: plain, want: false},
		{name: "x-secret", head: head, want: true},
		{name: "X-Other", head: head, want: true},
		{name: "X-Kept", head: head, want: false},
		{name: "X-Secre", head: head, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			if _, err := ParseRequest([]byte(tc.head), &r, Limits{}); err != nil {
				t.Fatal(err)
			}
			if got := r.HopByHop([]byte(tc.name)); got != tc.want {
				t.Errorf("Request.HopByHop(%q) = %v, want %v", tc.name, got, tc.want)
			}
			var resp Response
			rhead := "HTTP/1.1 200 OK" + tc.head[strings.Index(tc.head, "\r\n"):]
			if _, err := ParseResponse([]byte(rhead), &resp, Limits{}); err != nil {
				t.Fatal(err)
			}
			if got := resp.HopByHop([]byte(tc.name)); got != tc.want {
				t.Errorf("Response.HopByHop(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestFieldLookup(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\naccept: */*\r\nX-Empty:\r\n\r\n"
	tests := []struct {
		name    string
		field   string
		want    string
		wantNil bool
	}{
		{name: "first of two", field: "ACCEPT", want: "text/html"},
		{name: "empty value is not nil", field: "x-empty", want: ""},
		{name: "absent", field: "Cookie", wantNil: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			if _, err := ParseRequest([]byte(head), &r, Limits{}); err != nil {
				t.Fatal(err)
			}
			got := r.Field(tc.field)
			if string(got) != tc.want || (got == nil) != tc.wantNil {
				t.Errorf("Field(%q) = %q (nil %v), want %q (nil %v)", tc.field, got, got == nil, tc.want, tc.wantNil)
			}
		})
	}
}
