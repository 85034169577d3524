package proxy

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"quill/accesslog"
	"quill/config"
	"quill/h1"
	"quill/sticky"
)

// h1Front serves the HTTP/1 requests of one listen address: the top of a
// request's way through quill on the HTTP/1 engine. VIP, route, pool,
// sticky lookup, forward with retries, access log.
type h1Front struct {
	p    *Proxy
	addr string
}

// h1Request is the handler's state of one client connection, reused for
// each of its requests so that a keep-alive request allocates nothing.
type h1Request struct {
	f    *h1Front
	hx   *h1.Exchange
	x    exchange
	host string // views into the request head, valid while it is served
	path string // normalized: a view, or made by urlpath when it differs
	// pool is where the request is routed, nil when quill answers it
	// itself; routed says that HoldBody routed it already.
	pool   *pool
	routed bool
	// series are the metrics of the connection's last request.
	series series
	// query is the target's, from '?' on; target is the normalized path
	// and query sent to the backend when the VIP has forward_normalized,
	// reused from request to request.
	query  string
	target []byte
}

func (f *h1Front) state(hx *h1.Exchange) *h1Request {
	st, _ := hx.Data.(*h1Request)
	if st == nil {
		st = &h1Request{f: f, hx: hx}
		hx.Data = st
	}
	return st
}

// HoldBody routes the request as it arrives and says how much of its body
// to read before ServeH1: the pool's buffer_request, or nothing when quill
// answers the request itself.
func (f *h1Front) HoldBody(hx *h1.Exchange) int {
	st := f.state(hx)
	st.route()
	st.routed = true
	if st.pool == nil {
		return 0
	}
	return int(st.pool.cfg.BufferRequest.Bytes)
}

func (f *h1Front) ServeH1(hx *h1.Exchange) {
	st := f.state(hx)
	if !st.routed {
		st.route()
	}
	st.routed = false
	st.serve()
}

// route starts the request's exchange and finds its pool: nil when the
// VIP left the config or quill answers the request itself.
func (st *h1Request) route() {
	hx, p := st.hx, st.f.p
	x := &st.x
	*x = exchange{start: time.Now(), peer: hx.Remote.Addr()}
	x.client = x.peer
	x.vip = p.gen.Load().byAddr[st.f.addr]
	st.pool = nil
	if x.vip == nil {
		return
	}
	r := &hx.Req
	v := x.vip
	if string(r.Method) == http.MethodConnect || string(r.Target) == "*" || v.redirectHTTPS {
		return
	}
	path, _, err := routingPath(bytesView(r.PathQuery()))
	if err != nil || (v.challenge != nil && strings.HasPrefix(path, "/.well-known/acme-challenge/")) {
		return // serve refuses it, or answers the challenge
	}
	st.pool = v.router.match(requestHost(r), path)
}

func (st *h1Request) serve() {
	hx, p := st.hx, st.f.p
	x := &st.x
	if x.vip == nil {
		// The address left the config; its listener is closing.
		hx.Close()
		st.fail(http.StatusServiceUnavailable, "listener removed by reload")
		return
	}
	defer st.finish()
	r := &hx.Req
	// The head may have moved since route while the body was held.
	st.host = requestHost(r)
	if string(r.Method) == http.MethodConnect {
		st.fail(http.StatusMethodNotAllowed, "CONNECT is not proxied")
		return
	}
	if string(r.Target) == "*" {
		// OPTIONS * asks about the server, which is quill here (as
		// net/http's servers answer it).
		x.status = http.StatusOK
		hx.Respond(http.StatusOK, nil, nil)
		return
	}
	if !st.normalize() {
		return
	}
	v := x.vip
	if v.challenge != nil && strings.HasPrefix(st.path, "/.well-known/acme-challenge/") {
		st.serveHandler(v.challenge)
		return
	}
	if v.redirectHTTPS {
		st.redirectHTTPS()
		return
	}
	pl := st.pool
	if pl == nil {
		st.fail(http.StatusNotFound, "no route")
		if ce := p.log.Check(zap.DebugLevel, "no route"); ce != nil {
			ce.Write(zap.String("vip", v.name), zap.String("host", st.host), zap.String("path", st.path))
		}
		return
	}
	x.pool = pl
	if len(pl.trusted) > 0 && pl.trusted.contains(x.peer) {
		x.client = pl.trusted.clientIP(x.peer, fieldStrings(r.Fields, "X-Forwarded-For"))
	}
	x.key = sticky.ClientKey(x.client, pl.v6Prefix)
	x.hash = x.key.Hash()
	if pl.sticky != nil {
		pl.sticky.lookupH1(r, x, pl)
	}
	st.forward(pl)
}

// forward tries the servers of pl until one answers, as the retry rules
// allow: a failed connect always moves on (and marks the server down); a
// request that reached a server moves on only when it is idempotent and
// none of its body was consumed; a server that took the request and did
// not answer in time is not asked again elsewhere (504).
func (st *h1Request) forward(pl *pool) {
	x, hx := &st.x, st.hx
	err := hx.BufferBody(int(pl.cfg.BufferRequest.Bytes))
	// The request head may have moved while its body was read; only the
	// host is read from it from here on (the path was routed on already).
	st.host = requestHost(&hx.Req)
	if err != nil {
		var fe *h1.ForwardError
		errors.As(err, &fe)
		st.clientFailed(fe)
		return
	}
	var last *h1.ForwardError // of an attempt that reached a server
	for {
		s := pl.choose(x)
		if s == nil {
			if last != nil {
				st.failed(pl, last)
			} else {
				st.failed(pl, nil)
			}
			return
		}
		x.tried[x.ntried] = s
		x.ntried++
		x.server = s
		s.active.Add(1)
		s.requests.Add(1)
		err := hx.Forward(s.upstream, pl.cfg.Timeout.Duration, st)
		s.active.Add(-1)
		if err == nil {
			return
		}
		var fe *h1.ForwardError
		if !errors.As(err, &fe) {
			fe = &h1.ForwardError{Stage: h1.StageResponse, Err: err}
		}
		log := st.f.p.log
		switch {
		case fe.Client:
			st.clientFailed(fe)
			return
		case hx.HeadSent() && fe.Timeout:
			// The server went quiet in its answer's body for the pool's
			// timeout: as a 504 would be, not counted as its failure.
			log.Warn("response timed out", zap.String("pool", pl.name), zap.String("server", s.addr),
				zap.String("uri", string(hx.Req.Target)), zap.Int("status", hx.Status), zap.Int64("bytes", hx.BodyBytes), zap.Error(err))
			return
		case hx.HeadSent():
			// The server broke off its answer: the client has the status
			// and part of the body, and the close tells it the rest is lost.
			s.failures.Add(1)
			log.Warn("response broken off", zap.String("pool", pl.name), zap.String("server", s.addr),
				zap.String("uri", string(hx.Req.Target)), zap.Int("status", hx.Status), zap.Int64("bytes", hx.BodyBytes), zap.Error(err))
			return
		}
		connectFailed := fe.Stage == h1.StageConnect
		if connectFailed {
			s.markDown(time.Now().UnixNano(), pl.cfg.FailTimeout.Duration, err)
			log.Warn("server down: connect failed", zap.String("pool", pl.name), zap.String("server", s.addr),
				zap.Duration("for", pl.cfg.FailTimeout.Duration), zap.Error(err))
		} else {
			last = fe
		}
		retry := !pl.cfg.Stubborn && x.ntried < maxAttempts &&
			(connectFailed || (idempotent(string(hx.Req.Method)) && !fe.BodyTouched))
		if !retry || (!connectFailed && fe.Timeout) {
			st.failed(pl, fe)
			return
		}
		pl.retries.Inc()
		log.Info("retrying on another server", zap.String("pool", pl.name), zap.String("server", s.addr),
			zap.String("method", string(hx.Req.Method)), zap.String("uri", string(hx.Req.Target)), zap.Error(err))
	}
}

// clientFailed ends a request whose client failed, which is never held
// against a server: a malformed request body is answered 400 and a body
// that stopped coming 408 (when nothing of the answer went out yet; else
// the connection just closes), a client gone before the answer is logged
// as 499, one that read nothing of the answer for send_timeout keeps the
// status as sent. The connection closes after it.
func (st *h1Request) clientFailed(fe *h1.ForwardError) {
	x, hx := &st.x, st.hx
	hx.Close()
	log := st.f.p.log
	switch {
	case fe.Malformed:
		if !hx.HeadSent() {
			st.fail(http.StatusBadRequest, "malformed request body")
		}
		log.Info("request refused", zap.String("vip", x.vip.name), zap.Stringer("client", x.peer),
			zap.String("uri", string(hx.Req.Target)), zap.Error(fe))
	case errors.Is(fe, h1.ErrBodyTimeout):
		if !hx.HeadSent() {
			st.fail(http.StatusRequestTimeout, "request body not received in time")
		}
		log.Info("request body timed out", zap.String("vip", x.vip.name), zap.Stringer("client", x.peer),
			zap.String("uri", string(hx.Req.Target)), zap.Error(fe))
	case errors.Is(fe, h1.ErrSendTimeout):
		log.Info("client read nothing in send_timeout", zap.String("vip", x.vip.name), zap.Stringer("client", x.peer),
			zap.String("uri", string(hx.Req.Target)), zap.Int("status", hx.Status), zap.Int64("bytes", hx.BodyBytes))
	case !hx.HeadSent():
		x.status = 499 // client closed the request
	}
}

// failed answers when no server answered: 503 when none was available,
// 504 on a timeout, 502 otherwise.
func (st *h1Request) failed(pl *pool, fe *h1.ForwardError) {
	x := &st.x
	var status int
	switch {
	case fe == nil:
		status = http.StatusServiceUnavailable
	case fe.Timeout:
		status = http.StatusGatewayTimeout
	default:
		status = http.StatusBadGateway
	}
	server := ""
	if x.server != nil {
		server = x.server.addr
	}
	var err error = errNoServer
	if fe != nil {
		err = fe
	}
	st.f.p.log.Warn("request failed", zap.String("pool", pl.name), zap.String("server", server), zap.Int("status", status),
		zap.String("method", string(st.hx.Req.Method)), zap.String("uri", string(st.hx.Req.Target)), zap.Error(err))
	if x.server != nil && status == http.StatusBadGateway {
		x.server.failures.Add(1)
	}
	retryAfter := strconv.Itoa(int(pl.cfg.FailTimeout.Seconds()))
	st.hx.Respond(status, func(w *h1.HeadWriter) {
		w.String("Content-Type", "text/plain; charset=utf-8")
		w.String("Cache-Control", "no-store")
		if status == http.StatusServiceUnavailable {
			w.String("Retry-After", retryAfter)
		}
	}, []byte(strings.ToLower(http.StatusText(status))+"\n"))
}

// fail answers a request that quill itself refuses.
func (st *h1Request) fail(status int, reason string) {
	st.x.status = status
	st.hx.Respond(status, func(w *h1.HeadWriter) {
		w.String("Content-Type", "text/plain; charset=utf-8")
	}, []byte(http.StatusText(status)+": "+reason+"\n"))
}

// redirectHTTPS answers 308 to the same URL over https, so that the
// method and body are kept (a 301 would turn a POST into a GET).
func (st *h1Request) redirectHTTPS() {
	x := &st.x
	host := canonicalHost(st.host)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		host = "[" + host + "]"
	}
	if x.vip.httpsPort != "" {
		host += ":" + x.vip.httpsPort
	}
	loc := "https://" + host + string(requestURI(st.hx.Req.Target))
	x.status = http.StatusPermanentRedirect
	st.hx.Respond(http.StatusPermanentRedirect, func(w *h1.HeadWriter) {
		w.String("Location", loc)
		w.String("Content-Type", "text/html; charset=utf-8")
	}, []byte("<a href=\""+htmlEscape(loc)+"\">Permanent Redirect</a>.\n"))
}

// finish counts the request and writes its access log line.
func (st *h1Request) finish() {
	x, hx := &st.x, st.hx
	status := hx.Status
	if x.status == 499 || status == 0 {
		status = x.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	p := st.f.p
	x.bytesIn, x.bytesOut = max(hx.Req.ContentLength, 0), hx.BodyBytes
	p.metrics.observeIn(&st.series, x, status)
	l := x.vip.accessLog
	if l == nil {
		return
	}
	r := &hx.Req
	proto := "HTTP/1.1"
	if r.Minor == 0 {
		proto = "HTTP/1.0"
	}
	e := accesslog.Entry{
		Time:      x.start,
		Client:    x.client.String(),
		Method:    string(r.Method),
		URI:       string(r.Target),
		Proto:     proto,
		Status:    status,
		Bytes:     hx.BodyBytes,
		Referer:   string(r.Field("Referer")),
		UserAgent: string(r.Field("User-Agent")),
	}
	l.Log(&e)
}

// RequestFields writes the head of the request that goes to the server:
// the client's fields less hop-by-hop ones and the client's X-Forwarded-*,
// then X-Forwarded-For by the pool's rule, -Proto and -Host; Host as the
// client sent it; the sticky cookie taken out unless pass_cookie.
func (st *h1Request) RequestFields(hx *h1.Exchange, w *h1.HeadWriter) {
	x := &st.x
	pl := x.pool
	r := &hx.Req
	if st.host != "" {
		w.String("Host", st.host)
	} else {
		w.String("Host", x.server.addr)
	}
	strip := pl.sticky != nil && pl.sticky.table == nil && !pl.sticky.cfg.PassCookie
	var priorXFF bool
	for _, f := range r.Fields {
		switch {
		case r.HopByHop(f.Name), h1.EqualFold(f.Name, "Host"), h1.EqualFold(f.Name, "Expect"),
			h1.EqualFold(f.Name, "X-Forwarded-Proto"), h1.EqualFold(f.Name, "X-Forwarded-Host"):
			continue
		case h1.EqualFold(f.Name, "X-Forwarded-For"):
			priorXFF = true
			continue
		case strip && h1.EqualFold(f.Name, "Cookie"):
			writeCookieWithout(w, f.Value, pl.sticky.cfg.Cookie)
			continue
		}
		w.Field(f.Name, f.Value)
	}
	switch pl.cfg.ForwardedFor {
	case config.Append:
		w.Begin("X-Forwarded-For")
		if priorXFF {
			writeJoined(w, r.Fields, "X-Forwarded-For")
			w.ValueString(", ")
		}
		w.SetBytes(x.peer.AppendTo(w.Bytes()))
		w.End()
	case config.Replace:
		w.Begin("X-Forwarded-For")
		w.SetBytes(x.client.AppendTo(w.Bytes()))
		w.End()
	case config.PassOn:
		for _, f := range r.Fields {
			if h1.EqualFold(f.Name, "X-Forwarded-For") {
				w.Field(f.Name, f.Value)
			}
		}
	}
	w.String("X-Forwarded-Proto", x.vip.scheme)
	if st.host != "" {
		w.String("X-Forwarded-Host", st.host)
	}
}

// ResponseFields writes the head of the response that goes to the client:
// the server's fields less hop-by-hop ones, HSTS, and the sticky pin.
func (st *h1Request) ResponseFields(hx *h1.Exchange, resp *h1.Response, w *h1.HeadWriter) {
	x := &st.x
	pin := x.repin && x.pool.sticky != nil
	cookie := pin && x.pool.sticky.table == nil
	hsts := x.vip.hsts
	for _, f := range resp.Fields {
		switch {
		case resp.HopByHop(f.Name):
			continue
		case hsts != "" && h1.EqualFold(f.Name, "Strict-Transport-Security"):
			continue
		case cookie && h1.EqualFold(f.Name, "Cache-Control"):
			continue
		}
		w.Field(f.Name, f.Value)
	}
	if hsts != "" {
		w.String("Strict-Transport-Security", hsts)
	}
	if pin {
		st.x.pool.sticky.pinH1(w, x, fieldString(resp.Fields, "Cache-Control"))
	}
}

// requestHost is the host a request names: the authority of an
// absolute-form target, else the Host field.
func requestHost(r *h1.Request) string {
	t := r.Target
	if len(t) > 0 && t[0] != '/' && t[0] != '*' {
		if i := strings.Index(bytesView(t), "://"); i >= 0 {
			rest := t[i+3:]
			for j, ch := range rest {
				if ch == '/' || ch == '?' {
					return bytesView(rest[:j])
				}
			}
			return bytesView(rest)
		}
	}
	return bytesView(r.Host)
}

// requestURI is the path and query of a target (origin-form).
func requestURI(t []byte) []byte {
	if len(t) == 0 || t[0] == '/' || t[0] == '*' {
		return t
	}
	i := strings.Index(bytesView(t), "://")
	if i < 0 {
		return t
	}
	rest := t[i+3:]
	for j, ch := range rest {
		if ch == '/' {
			return rest[j:]
		}
		if ch == '?' {
			return append([]byte("/"), rest[j:]...)
		}
	}
	return []byte("/")
}

// bytesView looks at b as a string without copying; the string must not
// outlive the request head b belongs to.
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// fieldStrings copies the values of the fields called name.
func fieldStrings(fields []h1.Field, name string) []string {
	var out []string
	for _, f := range fields {
		if h1.EqualFold(f.Name, name) {
			out = append(out, string(f.Value))
		}
	}
	return out
}

// fieldString is a view of the first value of the field called name.
func fieldString(fields []h1.Field, name string) string {
	for _, f := range fields {
		if h1.EqualFold(f.Name, name) {
			return bytesView(f.Value)
		}
	}
	return ""
}

// writeJoined writes the values of the fields called name, comma-joined.
func writeJoined(w *h1.HeadWriter, fields []h1.Field, name string) {
	first := true
	for _, f := range fields {
		if h1.EqualFold(f.Name, name) {
			if !first {
				w.ValueString(", ")
			}
			w.Value(f.Value)
			first = false
		}
	}
}

// writeCookieWithout writes a Cookie field without the cookie called
// name; a field left empty is not written.
func writeCookieWithout(w *h1.HeadWriter, value []byte, name string) {
	started := false
	for len(value) > 0 {
		part := value
		if i := indexByte(value, ';'); i >= 0 {
			part, value = value[:i], value[i+1:]
		} else {
			value = nil
		}
		part = trimSpace(part)
		if len(part) == 0 || (len(part) > len(name) && part[len(name)] == '=' && string(part[:len(name)]) == name) {
			continue
		}
		if !started {
			w.Begin("Cookie")
			started = true
		} else {
			w.ValueString("; ")
		}
		w.Value(part)
	}
	if started {
		w.End()
	}
}

func indexByte(b []byte, c byte) int {
	for i, ch := range b {
		if ch == c {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}
