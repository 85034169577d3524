package tlsterm

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Terminator holds the live certificates of one TLS VIP. Its tls.Config
// lives as long as the VIP; reloads swap what that config serves, so
// listeners never have to be reopened.
type Terminator struct {
	log  *zap.Logger
	base *tls.Config
	acme *acmeManager

	// mu serializes publishing a generation and rotating ticket keys.
	mu      sync.Mutex
	tickets ticketKeys
	cur     atomic.Pointer[generation]
	clock   clock
	// ticketSourceChanged wakes the rotation to schedule itself again
	// after a reload gave or took away the shared secret.
	ticketSourceChanged chan struct{}

	counters handshakeCounters

	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// generation is one loaded configuration: what New or a successful reload
// produced. Once published only its config's session ticket keys change.
type generation struct {
	opts       Options
	minVersion uint16
	timeout    time.Duration
	certs      *certSet
	tickets    ticketSource
	// stamps are the files' identities taken before they were read, so
	// that a write racing with the read is seen as a change by Watch.
	stamps []fileStamp
	// config is what handshakes of this generation use.
	config *tls.Config
}

// CertInfo describes a served certificate for a status page.
type CertInfo struct {
	Subject  string
	Names    []string
	NotAfter time.Time
	// Source is the certificate file, or "acme" for a managed certificate.
	Source string
}

var errNoCertificate = errors.New("no certificate configured for this VIP")

// New loads every certificate file and, with ACME, prepares (but does not
// start) certificate management; see Start. The error names each file that
// failed and why.
func New(o Options, log *zap.Logger) (*Terminator, error) {
	return newWithClock(o, log, systemClock{})
}

func newWithClock(o Options, log *zap.Logger, clk clock) (*Terminator, error) {
	if log == nil {
		log = zap.NewNop()
	}
	t := &Terminator{log: log, clock: clk, ticketSourceChanged: make(chan struct{}, 1), done: make(chan struct{})}
	g, err := load(o)
	if err != nil {
		return nil, err
	}
	if o.ACME != nil {
		if t.acme, err = newACMEManager(*o.ACME, log.Named("acme")); err != nil {
			return nil, err
		}
	}
	t.publish(g)
	t.base = &tls.Config{
		MinVersion:         g.minVersion,
		NextProtos:         nextProtos(t.acme != nil),
		GetCertificate:     t.getCertificate,
		GetConfigForClient: t.configForClient,
	}
	t.wg.Add(1)
	go t.rotateTickets()
	return t, nil
}

// load validates o and reads its files into an unpublished generation.
func load(o Options) (*generation, error) {
	mv, err := minVersion(o.MinVersion)
	if err != nil {
		return nil, err
	}
	if o.HandshakeTimeout < 0 {
		return nil, fmt.Errorf("handshake timeout %s: must not be negative", o.HandshakeTimeout)
	}
	if len(o.Certificates) == 0 && o.ACME == nil {
		return nil, errors.New("no certificate: give certificate files or an ACME section")
	}
	// The caller keeps its slices; Watch reloads from this copy later.
	o.Certificates = slices.Clone(o.Certificates)
	o.TicketSecret = slices.Clone(o.TicketSecret)
	if o.ACME != nil {
		a := *o.ACME
		a.Domains = slices.Clone(a.Domains)
		o.ACME = &a
	}
	g := &generation{opts: o, minVersion: mv, timeout: o.HandshakeTimeout, stamps: stampFiles(o.Certificates)}
	if g.timeout == 0 {
		g.timeout = defaultHandshakeTimeout
	}
	if g.certs, err = loadCertSet(o.Certificates); err != nil {
		return nil, err
	}
	if g.tickets, err = newTicketSource(o.TicketSecret, o.VIP); err != nil {
		return nil, err
	}
	return g, nil
}

// publish makes g the generation that new handshakes use.
func (t *Terminator) publish(g *generation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.publishLocked(g)
}

// publishIf publishes g only if old is still current, so that a reload
// triggered by Watch never undoes a concurrent Reload with new options.
func (t *Terminator) publishIf(old, g *generation) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur.Load() != old {
		return false
	}
	t.publishLocked(g)
	return true
}

func (t *Terminator) publishLocked(g *generation) {
	if first := len(t.tickets.keys) == 0; first || !t.tickets.source.equal(g.tickets) {
		t.tickets.use(g.tickets, t.clock.Now())
		if g.tickets.shared() {
			t.log.Info("session ticket keys derived from the shared secret: sessions resume on every host that has it")
		} else {
			t.log.Info("session ticket keys random: sessions resume on this process only")
		}
		if !first {
			select {
			case t.ticketSourceChanged <- struct{}{}:
			default:
			}
		}
	}
	g.config = t.servingConfig(g.minVersion)
	g.config.SetSessionTicketKeys(t.tickets.keys)
	t.cur.Store(g)
}

// TLSConfig returns a config for an http.Server of the VIP; it stays valid
// for the VIP's life. Its GetConfigForClient hands every handshake the
// current generation's config, so the certificates, MinVersion and session
// ticket keys in force are always the latest, even in clones such as the
// one ServeTLS makes. Each call returns a new copy because http.Server
// writes to its TLSConfig when it sets up HTTP/2.
func (t *Terminator) TLSConfig() *tls.Config {
	return t.base.Clone()
}

func (t *Terminator) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return t.cur.Load().config, nil
}

// getCertificate serves ACME-managed names from certmagic and everything
// else from the files. A managed name whose certificate is not there yet
// falls back to the files rather than failing outright.
func (t *Terminator) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	g := t.cur.Load()
	var acmeErr error
	if t.acme != nil {
		if isACMEChallenge(hello) {
			return t.acme.getCertificate(hello)
		}
		if t.acme.manages(hello.ServerName) || g.certs.first == nil {
			c, err := t.acme.getCertificate(hello)
			if err == nil {
				return c, nil
			}
			acmeErr = err
		}
	}
	if c := g.certs.pick(hello.ServerName); c != nil {
		return c, nil
	}
	if acmeErr != nil {
		return nil, acmeErr
	}
	return nil, errNoCertificate
}

// Reload loads a new set of certificates (on SIGHUP) and swaps it in. On
// any error the current set stays in force and the error is returned;
// handshakes in flight are unaffected either way since they already hold
// their certificate. ACME settings cannot change without a restart.
func (t *Terminator) Reload(o Options) error {
	next, err := t.Prepare(o)
	if err != nil {
		return err
	}
	next.Commit()
	return nil
}

// Pending is a certificate set that Prepare loaded and nothing serves yet:
// a reload of quill's whole configuration prepares every VIP's set, and
// commits them only once everything else of the reload has succeeded.
type Pending struct {
	t *Terminator
	g *generation
}

// Prepare loads o like Reload does but publishes nothing; the current set
// stays in force until Commit. A Pending that is dropped holds nothing
// that needs releasing.
func (t *Terminator) Prepare(o Options) (*Pending, error) {
	if !sameACME(t.cur.Load().opts.ACME, o.ACME) {
		return nil, errors.New("keeping the previous certificates: ACME settings changed; restart quill to apply them")
	}
	g, err := load(o)
	if err != nil {
		return nil, fmt.Errorf("keeping the previous certificates: %w", err)
	}
	return &Pending{t: t, g: g}, nil
}

// Commit makes the prepared set the one new handshakes get. Should Watch
// publish newer files in between, it notices the prepared set's older
// file stamps and loads the files again.
func (p *Pending) Commit() {
	p.t.publish(p.g)
	p.t.log.Info("certificates reloaded", zap.Int("certificates", len(p.g.certs.certs)))
}

// Stop ends the background work: ticket rotation and ACME management.
// Listeners and servers belong to the caller.
func (t *Terminator) Stop() {
	t.stopOnce.Do(func() {
		close(t.done)
		if t.acme != nil {
			t.acme.stop()
		}
		t.wg.Wait()
	})
}

// Certificates describes the certificates being served, files first.
func (t *Terminator) Certificates() []CertInfo {
	g := t.cur.Load()
	infos := make([]CertInfo, 0, len(g.certs.certs))
	for _, l := range g.certs.certs {
		infos = append(infos, certInfo(l.cert, l.source.Cert))
	}
	if t.acme != nil {
		infos = append(infos, t.acme.certificates()...)
	}
	return infos
}

func certInfo(c *tls.Certificate, source string) CertInfo {
	leaf := c.Leaf
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = []string{leaf.Subject.CommonName}
	}
	return CertInfo{Subject: leaf.Subject.String(), Names: names, NotAfter: leaf.NotAfter, Source: source}
}
