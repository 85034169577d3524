package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// Differential fuzzing against net/http, the reference for an HTTP/1
// reader in Go. For any bytes, either both accept with the same message
// (method, target, fields, framing, and where the body is complete, the
// same body ending at the same byte), or quill refuses. Quill accepting
// what net/http refuses is a failure, except for these documented cases:
//
//   - Empty lines before a request line: RFC 9112 §2.2 lets a server skip
//     them, which quill does and net/http's ReadRequest does not (its
//     server skips at most four bytes of them after a body). net/http is
//     given the request without them.
//   - HTTP/1.2 to 1.9: net/http keeps the minor version, quill speaks 1.1.
//
// Everything else where the two differ, quill refuses: obs-fold, bare LF in
// chunked framing and trailers, duplicate equal Content-Length, Transfer-
// Encoding in HTTP/1.0, whitespace before a chunk extension, and more.

// checkRefusal fails unless err is ErrNeedMore or a well-formed *Error.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrNeedMore) {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is neither ErrNeedMore nor *Error", err)
	}
	switch e.Status {
	case 400, 431, 501, 505:
	default:
		t.Fatalf("refusal with status %d (%s)", e.Status, e.Reason)
	}
	if e.Reason == "" {
		t.Fatalf("refusal with status %d and no reason", e.Status)
	}
}

// canonicalFields is quill's fields as net/http would hold them.
func canonicalFields(fields []Field) http.Header {
	h := http.Header{}
	for _, f := range fields {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		h[k] = append(h[k], string(f.Value))
	}
	// net/http takes Transfer-Encoding out of the header, and adds
	// Cache-Control for an HTTP/1.0 cache's "Pragma: no-cache".
	delete(h, "Transfer-Encoding")
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	return h
}

// quillBody is the body that follows a head at b[0] by quill's framing,
// and where it ends; complete is false when b does not hold all of it or
// quill refuses its framing.
func quillBody(b []byte, kind Framing, length int64) (body []byte, end int, complete bool) {
	switch kind {
	case NoBody:
		return nil, 0, true
	case Length:
		if int64(len(b)) < length {
			return nil, 0, false
		}
		return b[:length], int(length), true
	case UntilClose:
		return b, len(b), true
	}
	var c Chunked
	n, done, err := c.scan(b, func(p []byte) { body = append(body, p...) })
	return body, n, done && err == nil
}

// netHTTPBody reads a body with net/http and says where it ended in the
// stream that rd (under br) reads.
func netHTTPBody(t *testing.T, body io.Reader, rd *bytes.Reader, br *bufio.Reader) ([]byte, int) {
	t.Helper()
	got, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("quill reads a whole body that net/http refuses: %v", err)
	}
	return got, int(rd.Size()) - rd.Len() - br.Buffered()
}

func FuzzParseRequest(f *testing.F) {
	for _, tc := range requestCases {
		f.Add([]byte(tc.head))
	}
	for _, tc := range streamCases() {
		if len(tc.stream) < 8192 {
			f.Add([]byte(tc.stream))
		}
	}
	f.Add([]byte(browserGET))
	// Seeds for what the unit cases leave out: targets and hosts that
	// net/url reads in its own ways.
	for _, target := range []string{
		"http://a%2541/", "http://[fe80::1%25eth0]:8080/x", "http://u@a/", "http://a:/", "//a/b",
		"/a/../b?c#d", "/%2e%2E/x", "http://[::ffff:1.2.3.4]/", "HTTPS://A.example:443/?",
	} {
		f.Add([]byte("GET " + target + " HTTP/1.1\r\nHost: a%41:80\r\n\r\n"))
	}
	f.Add([]byte("CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		n, err := ParseRequest(data, &r, Limits{})
		if err != nil {
			checkRefusal(t, err)
			return
		}
		if n <= 0 || n > len(data) || n > DefaultMaxHeadBytes {
			t.Fatalf("head length %d of %d bytes", n, len(data))
		}
		var again Request
		if m, err := ParseRequest(data[:n], &again, Limits{}); m != n || err != nil {
			t.Fatalf("the head alone parses as %d, %v; with what follows as %d", m, err, n)
		}
		if _, err := ParseRequest(data[:n-1], &again, Limits{}); !errors.Is(err, ErrNeedMore) {
			t.Fatalf("the head less its last byte: %v, want ErrNeedMore", err)
		}

		lead, _ := skipEmptyLines(data)
		rd := bytes.NewReader(data[lead:])
		br := bufio.NewReader(rd)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("quill accepts a head net/http refuses: %v\n%q", err, data[:n])
		}
		// What net/http's server refuses after reading the request, from the
		// Host field that ReadRequest takes out of the header.
		if req.ProtoAtLeast(1, 1) && r.Host == nil && req.Method != "CONNECT" ||
			r.Host != nil && !httpguts.ValidHostHeader(string(r.Host)) {
			t.Fatalf("quill accepts a Host net/http's server refuses: %q", r.Host)
		}
		for k, vv := range req.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("quill accepts a field name net/http's server refuses: %q", k)
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("quill accepts a field value net/http's server refuses: %q", v)
				}
			}
		}

		if req.Method != string(r.Method) || req.RequestURI != string(r.Target) ||
			req.ProtoMajor != 1 || min(req.ProtoMinor, 1) != r.Minor {
			t.Fatalf("request line: net/http %q %q %q, quill %q %q 1.%d", req.Method, req.RequestURI, req.Proto, r.Method, r.Target, r.Minor)
		}
		h := canonicalFields(r.Fields)
		delete(h, "Host")
		if !reflect.DeepEqual(h, req.Header) {
			t.Fatalf("fields:\nnet/http %q\nquill    %q", req.Header, h)
		}
		if req.Host != string(r.Authority()) {
			t.Fatalf("host: net/http %q, quill %q", req.Host, r.Authority())
		}
		chunked := len(req.TransferEncoding) == 1 && req.TransferEncoding[0] == "chunked"
		if r.Chunked != chunked || !chunked && len(req.TransferEncoding) > 0 ||
			chunked && req.ContentLength != -1 || !chunked && req.ContentLength != max(r.ContentLength, 0) {
			t.Fatalf("framing: net/http %q %d, quill chunked %v %d", req.TransferEncoding, req.ContentLength, r.Chunked, r.ContentLength)
		}
		if r.KeepAlive == req.Close {
			t.Fatalf("keep-alive: net/http close %v, quill keep-alive %v", req.Close, r.KeepAlive)
		}

		kind, length := r.Framing()
		body, end, complete := quillBody(data[n:], kind, length)
		if !complete {
			return
		}
		got, at := netHTTPBody(t, req.Body, rd, br)
		if !bytes.Equal(got, body) || at != n-lead+end {
			t.Fatalf("body: net/http %q ending at %d, quill %q ending at %d", got, at, body, n-lead+end)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, tc := range responseCases {
		f.Add([]byte(tc.head+"0123456789"), false)
		f.Add([]byte(tc.head), true)
	}
	for _, tc := range chunkedCases() {
		if tc.err == nil && len(tc.body) < 8192 {
			f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.body+tc.rest), false)
		}
	}
	f.Add([]byte(backendOK+strings.Repeat("x", 1024)), false)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		var r Response
		n, err := ParseResponse(data, &r, Limits{})
		if err != nil {
			checkRefusal(t, err)
			return
		}
		if n <= 0 || n > len(data) || n > DefaultMaxHeadBytes {
			t.Fatalf("head length %d of %d bytes", n, len(data))
		}

		rd := bytes.NewReader(data)
		br := bufio.NewReader(rd)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("quill accepts a head net/http refuses: %v\n%q", err, data[:n])
		}
		reason, _ := strings.CutPrefix(strings.TrimPrefix(resp.Status, resp.Status[:3]), " ")
		if resp.StatusCode != r.Status || resp.ProtoMajor != 1 || min(resp.ProtoMinor, 1) != r.Minor || reason != string(r.Reason) {
			t.Fatalf("status line: net/http %q %q, quill %d %q 1.%d", resp.Proto, resp.Status, r.Status, r.Reason, r.Minor)
		}
		h := canonicalFields(r.Fields)
		if r.Minor >= 1 && r.conn&connClose != 0 {
			delete(h, "Connection") // as net/http does for a response
		}
		if !reflect.DeepEqual(h, resp.Header) {
			t.Fatalf("fields:\nnet/http %q\nquill    %q", resp.Header, h)
		}
		chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
		if r.Chunked != chunked || !chunked && len(resp.TransferEncoding) > 0 {
			t.Fatalf("Transfer-Encoding: net/http %q, quill chunked %v", resp.TransferEncoding, r.Chunked)
		}
		kind, length := r.Framing([]byte(method))
		if kind == UntilClose && !resp.Close || kind != UntilClose && r.KeepAlive == resp.Close {
			t.Fatalf("keep-alive: net/http close %v, quill keep-alive %v framed %v", resp.Close, r.KeepAlive, kind)
		}
		body, end, complete := quillBody(data[n:], kind, length)
		if !complete {
			return
		}
		got, at := netHTTPBody(t, resp.Body, rd, br)
		if !bytes.Equal(got, body) || at != n+end {
			t.Fatalf("body framed %v: net/http %q ending at %d, quill %q ending at %d", kind, got, at, body, n+end)
		}
	})
}

// readTrailer is what net/http's body reader does after the last chunk
// (net/http/transfer.go, body.readTrailer): a lone CRLF, or fields up to
// an empty line that must show within its 4096-byte buffer.
func readTrailer(br *bufio.Reader) error {
	if buf, _ := br.Peek(2); string(buf) == "\r\n" {
		_, err := br.Discard(2)
		return err
	}
	for size := 4; ; size++ {
		buf, err := br.Peek(size)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			break
		}
		if err != nil {
			return errors.New("suspiciously long trailer")
		}
	}
	_, err := textproto.NewReader(br).ReadMIMEHeader()
	return err
}

func FuzzChunked(f *testing.F) {
	for _, tc := range chunkedCases() {
		if len(tc.body) < 8192 {
			f.Add([]byte(tc.body + tc.rest))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole := scanPieces([][]byte{data})
		// The same in pieces: two, and bytewise for short inputs.
		ways := [][][]byte{{data[:len(data)/2], data[len(data)/2:]}}
		if len(data) <= 512 {
			var bytewise [][]byte
			for i := range data {
				bytewise = append(bytewise, data[i:i+1])
			}
			ways = append(ways, bytewise)
		}
		for _, pieces := range ways {
			if got := scanPieces(pieces); got.n != whole.n || got.done != whole.done || got.data != whole.data || !sameErrors(got.err, whole.err) {
				t.Fatalf("in %d pieces: %d %v %q %v; whole: %d %v %q %v", len(pieces), got.n, got.done, got.data, got.err, whole.n, whole.done, whole.data, whole.err)
			}
		}
		if whole.err != nil {
			checkRefusal(t, whole.err)
			return
		}
		if !whole.done {
			return
		}
		rd := bytes.NewReader(data)
		br := bufio.NewReader(rd)
		got, err := io.ReadAll(httputil.NewChunkedReader(br))
		if err != nil {
			t.Fatalf("quill accepts chunks net/http refuses: %v", err)
		}
		if string(got) != whole.data {
			t.Fatalf("data: net/http %q, quill %q", got, whole.data)
		}
		if err := readTrailer(br); err != nil {
			t.Fatalf("quill accepts a trailer net/http refuses: %v", err)
		}
		if at := int(rd.Size()) - rd.Len() - br.Buffered(); at != whole.n {
			t.Fatalf("body ends at %d for net/http, at %d for quill", at, whole.n)
		}
	})
}

func sameErrors(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}
