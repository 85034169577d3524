package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// A forwarder sends a request to its pool and copies the answer back. It is
// the one seam behind which the forwarding engine can be replaced; today it
// is net/http/httputil.ReverseProxy over a tuned http.Transport.
type forwarder interface {
	forward(w http.ResponseWriter, r *http.Request, x *exchange)
}

// reverseProxy forwards with httputil.ReverseProxy. Server choice happens
// in its transport (retrier), so that a failed attempt can move to another
// server without the client noticing.
type reverseProxy struct {
	rp *httputil.ReverseProxy
}

func newReverseProxy(p *pool, log *zap.Logger, m *metrics) *reverseProxy {
	rt := &retrier{pool: p, next: p.transport, log: log,
		retries: m.retries.WithLabelValues(p.name)}
	return &reverseProxy{rp: &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      rt,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler(log),
		ErrorLog:       zap.NewStdLog(log.Named("reverseproxy")),
		BufferPool:     bufferPool{},
	}}
}

func (f *reverseProxy) forward(w http.ResponseWriter, r *http.Request, x *exchange) {
	f.rp.ServeHTTP(w, r.WithContext(withExchange(r.Context(), x)))
}

// newTransport is the backend side of a pool. Go's default of two idle
// connections per host makes a busy proxy open and close a connection per
// request until it runs out of ports (TIME_WAIT), so keep many.
func newTransport(connect, header time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &connectError{addr: addr, err: err}
			}
			return c, nil
		},
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
		// The client's Accept-Encoding goes to the backend as sent; the
		// transport must not add gzip and decompress behind its back.
		DisableCompression: true,
		ReadBufferSize:     32 << 10,
		WriteBufferSize:    32 << 10,
	}
}

// connectError is a failure to establish a backend connection: nothing of
// the request reached the server, so another server may always be tried.
type connectError struct {
	addr string
	err  error
}

func (e *connectError) Error() string { return fmt.Sprintf("connect %s: %v", e.addr, e.err) }
func (e *connectError) Unwrap() error { return e.err }

// errNoServer means every server of the pool is down or already tried.
var errNoServer = errors.New("no server available")

// retrier chooses a server for each attempt and moves to another when the
// attempt failed in a way that is safe to repeat.
type retrier struct {
	pool    *pool
	next    http.RoundTripper
	log     *zap.Logger
	retries prometheus.Counter
}

func (t *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	p := t.pool
	body := guardBody(req)
	var lastErr error // of an attempt that reached a server
	for {
		s := p.choose(x)
		if s == nil {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, errNoServer
		}
		x.tried[x.ntried] = s
		x.ntried++
		x.server = s
		req.URL.Host = s.addr
		s.active.Add(1)
		s.requests.Add(1)
		resp, err := t.next.RoundTrip(req)
		if err == nil {
			resp.Body = &activeBody{ReadCloser: resp.Body, s: s, x: x}
			return resp, nil
		}
		s.active.Add(-1)
		if req.Context().Err() != nil || x.bodyTimedOut.Load() {
			return nil, err
		}
		var ce *connectError
		connectFailed := errors.As(err, &ce)
		if connectFailed {
			s.markDown(time.Now().UnixNano(), p.cfg.FailTimeout.Duration, err)
			t.log.Warn("server down: connect failed", zap.String("pool", p.name), zap.String("server", s.addr),
				zap.Duration("for", p.cfg.FailTimeout.Duration), zap.Error(err))
		}
		if !connectFailed {
			lastErr = err
		}
		retry := !p.cfg.Stubborn && x.ntried < maxAttempts &&
			(connectFailed || (idempotent(req.Method) && body.untouched()))
		// A server that accepted the request but did not answer in time is
		// not asked again elsewhere: the request may be what makes it slow.
		if !retry || (!connectFailed && isTimeout(err)) {
			return nil, err
		}
		t.retries.Inc()
		t.log.Info("retrying on another server", zap.String("pool", p.name), zap.String("server", s.addr),
			zap.String("method", req.Method), zap.String("uri", req.RequestURI), zap.Error(err))
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// retryBody keeps the request body open across attempts (the transport
// closes the body it is given, also on failure) and tells whether any of
// it was read, that is, sent to a server.
type retryBody struct {
	io.ReadCloser
	read int64
}

func (b *retryBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	return n, err
}

// Close is left to net/http's server, which closes the request body when
// the handler returns.
func (b *retryBody) Close() error { return nil }

func (b *retryBody) untouched() bool { return b == nil || b.read == 0 }

func guardBody(req *http.Request) *retryBody {
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	b := &retryBody{ReadCloser: req.Body}
	req.Body = b
	return b
}

// activeBody counts a request as in flight until its response is read,
// and keeps the error that broke the response off, for the log.
type activeBody struct {
	io.ReadCloser
	s    *server
	x    *exchange
	done bool
}

func (b *activeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.x.bodyErr = err
	}
	return n, err
}

func (b *activeBody) Close() error {
	if !b.done {
		b.done = true
		b.s.active.Add(-1)
	}
	return b.ReadCloser.Close()
}

// Write lets a 101 Switching Protocols body be written to, as
// ReverseProxy needs for WebSocket.
func (b *activeBody) Write(p []byte) (int, error) {
	if w, ok := b.ReadCloser.(io.Writer); ok {
		return w.Write(p)
	}
	return 0, errors.New("response body is not writable")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errorHandler answers when no server answered: 503 when none was
// available, 504 on a timeout, 502 otherwise; 499 (logged only) when the
// client went away, which is not the backend's fault.
func (p *pool) errorHandler(log *zap.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		x := exchangeFrom(r.Context())
		switch {
		case r.Context().Err() != nil:
			x.status = 499 // client closed the request
			return
		case x.bodyTimedOut.Load():
			// The client's fault, not the server's: not counted.
			x.status = http.StatusRequestTimeout
			log.Info("request body timed out", zap.String("vip", x.vip.name), zap.Stringer("client", x.peer),
				zap.String("uri", r.RequestURI), zap.Error(err))
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(x.status)
			io.WriteString(w, "request timeout\n")
			return
		case errors.Is(err, errNoServer):
			x.status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", strconv.Itoa(int(p.cfg.FailTimeout.Seconds())))
		case isTimeout(err):
			x.status = http.StatusGatewayTimeout
		default:
			x.status = http.StatusBadGateway
		}
		server := ""
		if x.server != nil {
			server = x.server.addr
		}
		log.Warn("request failed", zap.String("pool", p.name), zap.String("server", server),
			zap.Int("status", x.status), zap.String("method", r.Method), zap.String("uri", r.RequestURI), zap.Error(err))
		if x.server != nil && x.status == http.StatusBadGateway {
			x.server.failures.Add(1)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(x.status)
		io.WriteString(w, strings.ToLower(http.StatusText(x.status))+"\n")
	}
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }
