package proxy

import (
	"bytes"
	"net/http"
	"net/url"

	"quill/h1"
)

// serveHandler answers with an http.Handler of quill's own (ACME HTTP-01
// challenges): rare requests, so the conversion may allocate.
func (st *h1Request) serveHandler(h http.Handler) {
	r := &st.hx.Req
	u, err := url.ParseRequestURI(st.path + st.query)
	if err != nil {
		st.fail(http.StatusBadRequest, "bad target")
		return
	}
	req := &http.Request{Method: string(r.Method), URL: u, Host: st.host, Header: http.Header{},
		RequestURI: string(r.Target), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: r.Minor}
	for _, f := range r.Fields {
		req.Header.Add(string(f.Name), string(f.Value))
	}
	rec := &bufferedResponse{header: http.Header{}}
	h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	st.x.status = rec.status
	st.hx.Respond(rec.status, func(w *h1.HeadWriter) {
		for name, values := range rec.header {
			if name == "Content-Length" {
				continue
			}
			for _, v := range values {
				w.String(name, v)
			}
		}
	}, rec.body.Bytes())
}

// bufferedResponse keeps what an http.Handler writes.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
