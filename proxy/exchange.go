package proxy

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"quill/sticky"
)

// maxAttempts bounds how many servers one request may be tried on.
const maxAttempts = 8

// exchange is one client request on its way through quill: what the
// router, the sticky lookup, the forwarder and the access log share.
type exchange struct {
	start  time.Time
	vip    *vip
	pool   *pool
	peer   netip.Addr
	client netip.Addr
	key    sticky.Key // the client in the ip table and in rendezvous hashing
	hash   uint64     // key.Hash(), the client's value for rendezvous hashing

	pinned *server // the server a sticky cookie or the ip table names
	server *server // the server of the last attempt
	repin  bool    // the response must (re)pin the client to server

	tried  [maxAttempts]*server
	ntried int

	status int // set when quill answers itself (errors)

	// bytesIn and bytesOut are the body bytes of the request and of the
	// answer, for the status page.
	bytesIn, bytesOut int64

	bodyErr error // what broke off the backend's response body
	// bodyTimedOut is set when an HTTP/2 request body did not come
	// within body_timeout (set on the transport's goroutine).
	bodyTimedOut atomic.Bool
	// sendTimedOut is set when the client took no write of the answer
	// within send_timeout.
	sendTimedOut bool
}

func (x *exchange) triedServers() []*server { return x.tried[:x.ntried] }

type exchangeKey struct{}

func withExchange(ctx context.Context, x *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}
