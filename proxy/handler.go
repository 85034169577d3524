package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"quill/accesslog"
	"quill/sticky"
)

// frontHandler serves the HTTP/2 requests of one listen address, which
// net/http parses: VIP, route, pool, sticky lookup, forward, access log.
// HTTP/1 requests take the same way through h1Front.
type frontHandler struct {
	p    *Proxy
	addr string
}

func (h *frontHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{start: time.Now(), peer: peerAddr(r.RemoteAddr)}
	x.client = x.peer
	rec := &recorder{ResponseWriter: w, x: x}
	g := h.p.gen.Load()
	x.vip = g.byAddr[h.addr]
	if x.vip == nil {
		// The address left the config; its listener is closing.
		rec.Header().Set("Connection", "close")
		h.fail(rec, x, http.StatusServiceUnavailable, "listener removed by reload")
		return
	}
	defer h.finish(rec, r, x)

	// net/http bounds an HTTP/2 header list in bytes only; the count is
	// quill's, as for HTTP/1 heads.
	if fieldCount(r.Header) > g.cfg.Global.MaxHeaderCount {
		h.fail(rec, x, http.StatusRequestHeaderFieldsTooLarge, "too many header fields")
		return
	}
	if r.Method == http.MethodConnect {
		h.fail(rec, x, http.StatusMethodNotAllowed, "CONNECT is not proxied")
		return
	}
	path, ok := h.normalize(rec, r, x)
	if !ok {
		return
	}
	if x.vip.challenge != nil && strings.HasPrefix(path, "/.well-known/acme-challenge/") {
		x.vip.challenge.ServeHTTP(rec, r)
		return
	}
	if x.vip.redirectHTTPS {
		redirectHTTPS(rec, r, x)
		return
	}
	if x.vip.hsts != "" {
		rec.Header().Set("Strict-Transport-Security", x.vip.hsts)
	}
	p := x.vip.router.match(r.Host, path)
	if p == nil {
		h.fail(rec, x, http.StatusNotFound, "no route")
		if ce := h.p.log.Check(zap.DebugLevel, "no route"); ce != nil {
			ce.Write(zap.String("vip", x.vip.name), zap.String("host", r.Host), zap.String("path", path))
		}
		return
	}
	x.pool = p
	if r.Context().Err() != nil {
		// The client reset the stream already (HTTP/2 rapid reset): the
		// request must not reach a server.
		x.status = 499
		return
	}
	x.client = p.trusted.clientIP(x.peer, r.Header["X-Forwarded-For"])
	x.key = sticky.ClientKey(x.client, p.v6Prefix)
	x.hash = x.key.Hash()
	if p.sticky != nil {
		p.sticky.lookup(r, x, p)
	}
	setStreamTimeouts(rec, r, x, g.cfg.Global.BodyTimeout.Duration, g.cfg.Global.SendTimeout.Duration)
	p.fwd.forward(rec, r, x)
}

// fieldCount is the number of header fields of h, a field repeated
// counting once per value.
func fieldCount(h http.Header) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// refusedBy returns what logs the requests that the HTTP/1 engine refused
// on addr before any handler ran: 400 for a malformed head, 431 for one
// too large, 408 for one not sent in time, 505 for another version.
func (p *Proxy) refusedBy(addr string) func(netip.AddrPort, bool, int, string, []byte) {
	return func(remote netip.AddrPort, _ bool, status int, reason string, line []byte) {
		v := p.gen.Load().byAddr[addr]
		if v == nil {
			return
		}
		x := &exchange{start: time.Now(), vip: v, peer: remote.Addr()}
		x.client = x.peer
		p.metrics.observe(x, status)
		if ce := p.log.Check(zap.DebugLevel, "request refused"); ce != nil {
			ce.Write(zap.String("vip", v.name), zap.Stringer("client", x.peer), zap.Int("status", status), zap.String("reason", reason))
		}
		if v.accessLog == nil {
			return
		}
		e := accesslog.Entry{Time: x.start, Client: x.client.String(), Status: status}
		e.Method, e.URI, e.Proto = splitRequestLine(string(line))
		v.accessLog.Log(&e)
	}
}

// splitRequestLine splits "METHOD URI PROTO"; a line that is not three
// words is kept whole as the method, so the log shows what was sent.
func splitRequestLine(line string) (method, uri, proto string) {
	parts := strings.Split(line, " ")
	if len(parts) == 3 {
		return parts[0], parts[1], parts[2]
	}
	return line, "", ""
}

// fail answers a request that quill itself refuses.
func (h *frontHandler) fail(w http.ResponseWriter, x *exchange, status int, reason string) {
	x.status = status
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+": "+reason+"\n")
}

// redirectHTTPS answers 308 to the same URL over https, so that the
// method and body are kept (a 301 would turn a POST into a GET).
func redirectHTTPS(w http.ResponseWriter, r *http.Request, x *exchange) {
	host := canonicalHost(r.Host)
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = "[" + host + "]"
	}
	if x.vip.httpsPort != "" {
		host += ":" + x.vip.httpsPort
	}
	x.status = http.StatusPermanentRedirect
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// finish counts the request and writes its access log line. It runs
// deferred, so a request aborted by a panic (http.ErrAbortHandler when a
// backend breaks off a response already under way) is logged too: with
// the status and the bytes the client was sent, the reason going to the
// process log.
func (h *frontHandler) finish(rec *recorder, r *http.Request, x *exchange) {
	if v := recover(); v != nil {
		// Re-panicking lets net/http abort the stream (RST_STREAM), so
		// the client cannot take the response for complete.
		defer panic(v)
		if v == http.ErrAbortHandler {
			h.aborted(rec, r, x)
		}
	}
	status := rec.status
	if x.status == 499 || status == 0 {
		status = x.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	x.bytesIn, x.bytesOut = max(r.ContentLength, 0), rec.bytes
	h.p.metrics.observe(x, status)
	l := x.vip.accessLog
	if l == nil {
		return
	}
	e := accesslog.Entry{
		Time:      x.start,
		Client:    x.client.String(),
		Method:    r.Method,
		URI:       r.RequestURI,
		Proto:     r.Proto,
		Status:    status,
		Bytes:     rec.bytes,
		Referer:   r.Referer(),
		UserAgent: r.UserAgent(),
	}
	l.Log(&e)
}

// aborted sends what the response writer still buffers of a response
// broken off mid-body, so that the client gets the status and every byte
// the backend sent before the abort, and logs why. ReverseProxy aborts the
// same way when the client goes away mid-body, which is no news.
func (h *frontHandler) aborted(rec *recorder, r *http.Request, x *exchange) {
	if x.sendTimedOut {
		h.p.log.Info("client read nothing in send_timeout", zap.String("vip", x.vip.name), zap.Stringer("client", x.peer),
			zap.String("uri", r.RequestURI), zap.Int("status", rec.status), zap.Int64("bytes", rec.bytes))
		return
	}
	if x.bodyErr == nil || r.Context().Err() != nil {
		if ce := h.p.log.Check(zap.DebugLevel, "response aborted: the client went away"); ce != nil {
			ce.Write(zap.String("vip", x.vip.name), zap.String("uri", r.RequestURI), zap.Int64("bytes_sent", rec.bytes))
		}
		return
	}
	rec.Flush()
	pool, server := "", ""
	if x.pool != nil {
		pool = x.pool.name
	}
	if x.server != nil {
		server = x.server.addr
	}
	h.p.log.Warn("response aborted: the backend broke it off mid-body", zap.String("vip", x.vip.name),
		zap.String("pool", pool), zap.String("server", server), zap.String("method", r.Method),
		zap.String("uri", r.RequestURI), zap.Int("status", rec.status), zap.Int64("bytes_sent", rec.bytes),
		zap.Error(x.bodyErr))
}

// recorder notes the status and body size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// rc and sendTimeout bound each write (send_timeout); x notes a
	// write that timed out.
	rc          *http.ResponseController
	sendTimeout time.Duration
	x           *exchange
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.rc != nil {
		w.rc.SetWriteDeadline(time.Now().Add(w.sendTimeout))
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	if err != nil && w.rc != nil && w.x != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		w.x.sendTimedOut = true
	}
	return n, err
}

// Flush sends buffered data at once, for streaming responses (SSE).
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (WebSocket
// hijack, deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack is kept for code that asserts http.Hijacker directly.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
