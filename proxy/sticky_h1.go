package proxy

import (
	"net/http"

	"quill/h1"
)

// lookupH1 is lookup for a request of the HTTP/1 engine: the ip table, or
// the sticky cookie among the request's Cookie fields.
func (st *stickiness) lookupH1(r *h1.Request, x *exchange, p *pool) {
	var s *server
	if st.table != nil {
		if id, ok := st.table.Get(x.key); ok {
			s = p.byHash[id]
		}
	} else if v := cookieValue(r.Fields, st.cfg.Cookie); v != nil {
		s = st.byToken[bytesView(v)]
	}
	if s == nil {
		st.stats.misses.Add(1)
		return
	}
	st.stats.hits.Add(1)
	x.pinned = s
}

// pinH1 records the server that answered as the client's: in the table, or
// in a cookie on the response with Cache-Control made private (HAProxy's
// "nocache"), given the server's cacheControl.
func (st *stickiness) pinH1(w *h1.HeadWriter, x *exchange, cacheControl string) {
	if x.pinned != nil && x.pinned != x.server {
		st.stats.repins.Add(1)
	}
	if st.table != nil {
		st.table.Put(x.key, x.server.hashID)
		return
	}
	secure := 0
	if x.vip.tls {
		secure = 1
	}
	w.String("Set-Cookie", st.lines[x.server][secure])
	w.String("Cache-Control", privateCacheControl(cacheControl))
}

// cookieLine is the Set-Cookie value that pins a client to s.
func (st *stickiness) cookieLine(s *server, secure bool) string {
	c := &http.Cookie{
		Name:     st.cfg.Cookie,
		Value:    st.tokens[s],
		Path:     "/",
		Domain:   st.cfg.Domain,
		HttpOnly: true,
		Secure:   secure,
		SameSite: sameSite(st.cfg.SameSite),
	}
	if ttl := st.cfg.TTL.Duration; ttl > 0 {
		c.MaxAge = int(ttl.Seconds())
	}
	return c.String()
}

// cookieValue finds the value of the cookie called name in Cookie fields.
func cookieValue(fields []h1.Field, name string) []byte {
	for _, f := range fields {
		if !h1.EqualFold(f.Name, "Cookie") {
			continue
		}
		v := f.Value
		for len(v) > 0 {
			part := v
			if i := indexByte(v, ';'); i >= 0 {
				part, v = v[:i], v[i+1:]
			} else {
				v = nil
			}
			part = trimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && string(part[:len(name)]) == name {
				val := part[len(name)+1:]
				if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				return val
			}
		}
	}
	return nil
}
