package proxy

import (
	"net/http"
	"net/netip"
	"net/url"

	"go.uber.org/zap"

	"quill/urlpath"
)

// routingPath is the path a request is routed on and its query (from '?'
// on, as sent): the target's path in normal form (see urlpath), or "*"
// for OPTIONS *, which names no path. An error is the client's: 400.
func routingPath(target string) (path, query string, err error) {
	if target == "*" {
		return target, "", nil
	}
	return urlpath.Normalize(target)
}

// normalize puts the request's path in normal form for routing, or
// refuses the request with 400. With forward_normalized the backend is
// sent the normalized path too; otherwise the target as the client sent it.
func (st *h1Request) normalize() bool {
	r := &st.hx.Req
	sent := bytesView(r.PathQuery())
	path, query, err := routingPath(sent)
	if err != nil {
		st.fail(http.StatusBadRequest, err.Error())
		st.f.p.logRefused(st.x.vip, st.x.peer, bytesView(r.Target), err)
		return false
	}
	st.path, st.query = path, query
	if st.x.vip.forwardNormalized && path != sent[:len(sent)-len(query)] {
		st.target = append(append(st.target[:0], path...), query...)
		r.SetPathQuery(st.target)
	}
	return true
}

// normalize is the HTTP/2 side of h1Request.normalize. net/http keeps
// :path as sent in RequestURI and decodes it into URL.Path; routing goes
// by the normalized RequestURI, and with forward_normalized URL.Path
// becomes that path, which the forwarder sends.
func (h *frontHandler) normalize(w http.ResponseWriter, r *http.Request, x *exchange) (path string, ok bool) {
	sent := r.RequestURI
	path, query, err := routingPath(sent)
	if err != nil {
		h.fail(w, x, http.StatusBadRequest, err.Error())
		h.p.logRefused(x.vip, x.peer, sent, err)
		return "", false
	}
	if x.vip.forwardNormalized && path != sent[:len(sent)-len(query)] {
		// net/http has checked the escapes of the path as sent, and the
		// normal form only drops or decodes some of them: this succeeds.
		if decoded, err := url.PathUnescape(path); err == nil {
			r.URL.Path, r.URL.RawPath = decoded, path
		}
	}
	return path, true
}

// logRefused notes at debug level a request refused for its target, as
// the engine's refusals are; the access log has its line with status 400
// as every request does.
func (p *Proxy) logRefused(v *vip, client netip.Addr, target string, err error) {
	if ce := p.log.Check(zap.DebugLevel, "request refused"); ce != nil {
		ce.Write(zap.String("vip", v.name), zap.Stringer("client", client), zap.String("uri", target), zap.Error(err))
	}
}
