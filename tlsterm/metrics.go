package tlsterm

import (
	"crypto/tls"
	"sync/atomic"
)

// handshakeCounters count handshakes run by Listener. Fixed fields rather
// than a map keep the handshake path free of locks and allocation.
type handshakeCounters struct {
	ok12, ok13, failed atomic.Uint64
}

// record counts one handshake and tells the OnHandshake hook in force.
func (t *Terminator) record(g *generation, version uint16, err error) {
	switch {
	case err != nil:
		t.counters.failed.Add(1)
	case version == tls.VersionTLS13:
		t.counters.ok13.Add(1)
	default:
		// MinVersion keeps anything older than TLS 1.2 from completing.
		t.counters.ok12.Add(1)
	}
	if g.opts.OnHandshake != nil {
		g.opts.OnHandshake(version, err)
	}
}

// Handshakes returns the handshakes run by Listener since New, by result:
// "1.3/ok", "1.2/ok" and "error" (a failed handshake of any version,
// including clients that connect and close without a ClientHello, as TCP
// health checks do). All three keys are always present.
func (t *Terminator) Handshakes() map[string]uint64 {
	return map[string]uint64{
		"1.3/ok": t.counters.ok13.Load(),
		"1.2/ok": t.counters.ok12.Load(),
		"error":  t.counters.failed.Load(),
	}
}
