package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// The HTTP/2 side of body_timeout and send_timeout. net/http's server has
// deadlines per stream (http.ResponseController), which bound each read of
// a request body and each write of an answer the way quill's HTTP/1 engine
// bounds them on the connection: a stream whose client sends no body byte
// for body_timeout gets 408; one that takes no whole write of the answer
// (at most 32 KiB, the copy buffer) in send_timeout is reset. A stalled
// stream is what a client that does not read looks like in HTTP/2: flow
// control stops the writes before TCP does.

// timedBody bounds each read of an HTTP/2 request body by body_timeout.
// The transport reads it on a goroutine of its own, so the verdict is kept
// in an atomic of the exchange.
type timedBody struct {
	io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
	x  *exchange
}

func (b *timedBody) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.x.bodyTimedOut.Store(true)
	}
	return n, err
}

// setStreamTimeouts applies body_timeout to r's body and send_timeout to
// the writes of rec.
func setStreamTimeouts(rec *recorder, r *http.Request, x *exchange, body, send time.Duration) {
	rc := http.NewResponseController(rec.ResponseWriter)
	if body > 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = &timedBody{ReadCloser: r.Body, rc: rc, d: body, x: x}
	}
	if send > 0 {
		rec.rc, rec.sendTimeout = rc, send
	}
}
