package h1

import (
	"fmt"
	"strings"
	"testing"
)

// chunkOutcome is what a Chunked made of a byte stream.
type chunkOutcome struct {
	n    int    // bytes consumed
	done bool   // the body ended
	data string // the chunk data
	err  error
}

// scanPieces feeds body to a fresh Chunked in the given pieces, stopping
// at the end of the body or at an error, as a reader of a connection does.
func scanPieces(pieces [][]byte) chunkOutcome {
	var c Chunked
	var out chunkOutcome
	var data strings.Builder
	sink := func(p []byte) { data.Write(p) }
	for _, p := range pieces {
		n, done, err := c.scan(p, sink)
		out.n += n
		if err != nil || done {
			out.done, out.err = done, err
			break
		}
		if n != len(p) {
			out.err = fmt.Errorf("consumed %d of %d bytes without ending", n, len(p))
			break
		}
	}
	out.data = data.String()
	if out.err == nil && c.DataBytes() != int64(data.Len()) {
		out.err = fmt.Errorf("DataBytes %d, data %d bytes", c.DataBytes(), data.Len())
	}
	return out
}

// cuts returns ways of cutting s into pieces: whole, in two at every byte
// (at a stride for long ones), and a byte at a time.
func cuts(s string) map[string][][]byte {
	b := []byte(s)
	out := map[string][][]byte{"whole": {b}}
	stride := 1
	if len(b) > 2048 {
		stride = 97
	}
	for i := 1; i < len(b); i += stride {
		out[fmt.Sprintf("cut at %d", i)] = [][]byte{b[:i], b[i:]}
	}
	bytewise := make([][]byte, len(b))
	for i := range b {
		bytewise[i] = b[i : i+1]
	}
	out["bytewise"] = bytewise
	return out
}

// manyChunks is n one-byte chunks, each with an extension of ext bytes,
// its ";" included: each adds ext+4-18 bytes to the overhead net/http bounds.
func manyChunks(n, ext int) (body, data string) {
	var b strings.Builder
	for range n {
		b.WriteString("1;" + strings.Repeat("x", ext-1) + "\r\nX\r\n")
	}
	return b.String() + "0\r\n\r\n", strings.Repeat("X", n)
}

type chunkedCase struct {
	name string
	body string
	rest string // bytes after the body, which Scan leaves
	data string
	err  *Error // nil: the body ends
}

func chunkedCases() []chunkedCase {
	overBody, overData := manyChunks(192, 100)
	tooMuch, _ := manyChunks(193, 100)
	longTrailer := "0\r\nX: " + strings.Repeat("t", maxTrailerBytes-7) + "\r\n\r\n"
	var fields strings.Builder
	for i := range maxTrailerFields {
		fmt.Fprintf(&fields, "T%d: v\r\n", i)
	}
	return []chunkedCase{
		{name: "one chunk", body: "5\r\nhello\r\n0\r\n\r\n", rest: "GET / HTTP/1.1\r\n", data: "hello"},
		{name: "empty body", body: "0\r\n\r\n", rest: "x", data: ""},
		{name: "several chunks", body: "3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n", data: "abcd"},
		{name: "upper- and lower-case hex", body: "a\r\n0123456789\r\nB\r\n0123456789A\r\n0\r\n\r\n", data: "01234567890123456789A"},
		{name: "sixteen hex digits", body: "0000000000000003\r\nabc\r\n0\r\n\r\n", data: "abc"},
		{name: "last chunk of zeros", body: "3\r\nabc\r\n000\r\n\r\n", data: "abc"},
		{name: "extensions", body: "3;a=b;c=\"d e\"\r\nabc\r\n0;last\r\n\r\n", data: "abc"},
		{name: "whitespace after the size", body: "3 \t\r\nabc\r\n0\t\r\n\r\n", data: "abc"},
		{name: "data holding CRLF and a chunk line", body: "7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n", data: "\r\n0\r\n\r\n"},
		{name: "trailer fields", body: "3\r\nabc\r\n0\r\nX-Sum: 42\r\nX-Empty:\r\nX-Tab:\ta\tb\r\n\r\n", data: "abc"},
		{name: "chunk line of 4094 bytes", body: "1;" + strings.Repeat("x", 4092) + "\r\nA\r\n0\r\n\r\n", data: "A"},
		{name: "chunk overhead just allowed", body: overBody, data: overData},
		{name: "trailer section of 4096 bytes", body: longTrailer, data: ""},
		{name: "100 trailer fields", body: "0\r\n" + fields.String() + "\r\n", data: ""},

		{name: "no size", body: "\r\nabc\r\n0\r\n\r\n", err: errChunkSize},
		{name: "extension without a size", body: ";x\r\n", err: errChunkSize},
		{name: "not hex", body: "g\r\n", err: errChunkSize},
		{name: "signed size", body: "+5\r\nhello\r\n0\r\n\r\n", err: errChunkSize},
		{name: "0x prefix", body: "0x5\r\nhello\r\n0\r\n\r\n", err: errChunkSize},
		{name: "seventeen hex digits", body: "00000000000000005\r\nhello\r\n0\r\n\r\n", err: errChunkSizeLong},
		{name: "whitespace before an extension", body: "5 ;x\r\nhello\r\n0\r\n\r\n", err: errChunkSize},
		{name: "whitespace inside the size", body: "5 5\r\n", err: errChunkSize},
		{name: "size line ended by a bare LF", body: "5\nhello\r\n0\r\n\r\n", err: errChunkBareLF},
		{name: "extension ended by a bare LF", body: "5;x\nhello\r\n0\r\n\r\n", err: errChunkBareLF},
		{name: "whitespace ended by a bare LF", body: "5 \nhello\r\n0\r\n\r\n", err: errChunkBareLF},
		{name: "last chunk ended by a bare LF", body: "0\n\r\n", err: errChunkBareLF},
		{name: "CR inside a size line", body: "5\r;x\r\nhello\r\n0\r\n\r\n", err: errBareCR},
		{name: "control byte in an extension", body: "5;a\x00b\r\nhello\r\n0\r\n\r\n", err: errChunkExt},
		{name: "DEL in an extension", body: "5;a\x7f\r\nhello\r\n0\r\n\r\n", err: errChunkExt},
		{name: "chunk line of 4095 bytes", body: "1;" + strings.Repeat("x", 4093) + "\r\nA\r\n0\r\n\r\n", err: errChunkLine},
		{name: "data longer than its size", body: "5\r\nhello!\r\n0\r\n\r\n", err: errChunkDataEnd},
		{name: "data followed by a bare LF", body: "5\r\nhello\n0\r\n\r\n", err: errChunkDataEnd},
		{name: "data followed by CR and no LF", body: "5\r\nhello\r0\r\n\r\n", err: errChunkDataEnd},
		{name: "too much chunk overhead", body: tooMuch, err: errChunkOverhead},
		{name: "final CRLF as a bare LF", body: "0\r\n\n", err: errChunkBareLF},
		{name: "final CR without LF", body: "0\r\n\rX", err: errBareCR},
		{name: "trailer field ended by a bare LF", body: "0\r\nX: 1\n\r\n", err: errChunkBareLF},
		{name: "trailer field with CR and no LF", body: "0\r\nX: 1\rY\r\n\r\n", err: errBareCR},
		{name: "folded trailer field", body: "0\r\nX: 1\r\n 2\r\n\r\n", err: errFolded},
		{name: "trailer line without a colon", body: "0\r\nX\r\n\r\n", err: errNoColon},
		{name: "space before a trailer colon", body: "0\r\nX : 1\r\n\r\n", err: errNameSpace},
		{name: "empty trailer name", body: "0\r\n: 1\r\n\r\n", err: errEmptyName},
		{name: "separator in a trailer name", body: "0\r\nX/Y: 1\r\n\r\n", err: errNameByte},
		{name: "separator starting a trailer name", body: "0\r\n/Y: 1\r\n\r\n", err: errNameByte},
		{name: "control byte in a trailer value", body: "0\r\nX: a\x01\r\n\r\n", err: errValueByte},
		{name: "trailer section past 4096 bytes", body: "0\r\nX: " + strings.Repeat("t", maxTrailerBytes-7+1) + "\r\n\r\n", err: errTrailerSize},
		{name: "101 trailer fields", body: "0\r\n" + fields.String() + "Z: 1\r\n\r\n", err: errTrailerCount},
	}
}

func TestChunked(t *testing.T) {
	for _, tc := range chunkedCases() {
		t.Run(tc.name, func(t *testing.T) {
			for how, pieces := range cuts(tc.body + tc.rest) {
				out := scanPieces(pieces)
				if tc.err != nil {
					if !sameError(out.err, tc.err) || out.done {
						t.Fatalf("%s: done %v, err %v; want %v", how, out.done, out.err, tc.err)
					}
					continue
				}
				if out.err != nil || !out.done || out.n != len(tc.body) || out.data != tc.data {
					t.Fatalf("%s: consumed %d, done %v, err %v, data %.40q; want %d, true, nil, %.40q",
						how, out.n, out.done, out.err, out.data, len(tc.body), tc.data)
				}
			}
		})
	}
}

func TestChunkedIncomplete(t *testing.T) {
	tests := []struct {
		name string
		body string
		data int64
	}{
		{name: "in a size line", body: "5", data: 0},
		{name: "in data", body: "5\r\nhel", data: 3},
		{name: "after data", body: "5\r\nhello\r", data: 5},
		{name: "after the last chunk", body: "5\r\nhello\r\n0\r\n", data: 5},
		{name: "in the trailer", body: "0\r\nX: 1\r\n", data: 0},
		{name: "before the final LF", body: "0\r\n\r", data: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Chunked
			n, done, err := c.Scan([]byte(tc.body))
			if n != len(tc.body) || done || err != nil || c.DataBytes() != tc.data {
				t.Fatalf("Scan = %d, %v, %v with %d data bytes; want %d, false, nil with %d",
					n, done, err, c.DataBytes(), len(tc.body), tc.data)
			}
		})
	}
}

func TestChunkedReuse(t *testing.T) {
	tests := []struct {
		name  string
		first string
		reset bool
		err   *Error
	}{
		{name: "an error stays", first: "5\nhello", reset: false, err: errChunkBareLF},
		{name: "Reset forgets an error", first: "5\nhello", reset: true},
		{name: "the end stays", first: "0\r\n\r\n", reset: false},
		{name: "Reset after the end", first: "3\r\nabc\r\n0\r\n\r\n", reset: true},
	}
	second := []byte("2\r\nhi\r\n0\r\n\r\n")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Chunked
			c.Scan([]byte(tc.first))
			if tc.reset {
				c.Reset()
			}
			n, done, err := c.Scan(second)
			switch {
			case tc.err != nil:
				if !sameError(err, tc.err) || n != 0 {
					t.Fatalf("Scan after an error = %d, %v, %v; want 0 and %v", n, done, err, tc.err)
				}
			case !tc.reset:
				if n != 0 || !done || err != nil {
					t.Fatalf("Scan after the end = %d, %v, %v; want 0, true, nil", n, done, err)
				}
			default:
				if n != len(second) || !done || err != nil || c.DataBytes() != 2 {
					t.Fatalf("Scan after Reset = %d, %v, %v with %d data bytes; want %d, true, nil with 2",
						n, done, err, c.DataBytes(), len(second))
				}
			}
		})
	}
}
