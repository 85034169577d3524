package config

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// The types below are the keys whose value names one of a few choices. Each
// decodes its own spelling; like Duration, a spelling it does not know is
// kept as it was written, so that validation reports it with its line beside
// every other error of the file instead of stopping at the first. Consumers
// switch on the constants and never see a value validation refused.

// Balance is how a pool places a client it has no server for yet.
type Balance string

const (
	// RoundRobin takes the servers in turn, ignoring weights (pen -r).
	RoundRobin Balance = "roundrobin"
	// Weighted is nginx's smooth weighted round-robin (pen -W).
	Weighted Balance = "weighted"
	// LeastConn takes the fewest requests in flight per unit of weight.
	LeastConn Balance = "leastconn"
	// Hash is rendezvous hashing of the client IP (pen -h).
	Hash Balance = "hash"
)

// StickyMode is what keeps a client on one server.
type StickyMode string

const (
	StickyNone   StickyMode = "none"
	StickyCookie StickyMode = "cookie"
	StickyIP     StickyMode = "ip"
)

// SameSite is the SameSite attribute of the sticky cookie.
type SameSite string

const (
	SameSiteLax    SameSite = "Lax"
	SameSiteStrict SameSite = "Strict"
	SameSiteNone   SameSite = "None"
)

// AccessFormat is the line layout of an access log.
type AccessFormat string

const (
	// Common is the Common Log Format (Apache's "common").
	Common AccessFormat = "common"
	// Combined adds the Referer and User-Agent (Apache's "combined").
	Combined AccessFormat = "combined"
)

// OnFull is what an access log does when its buffer is full.
type OnFull string

const (
	// Block makes requests wait for the writer: no line is lost.
	Block OnFull = "block"
	// Drop loses the line and counts it.
	Drop OnFull = "drop"
)

// LogLevel is the least severe level of quill's own log.
type LogLevel string

const (
	LevelDebug LogLevel = "debug"
	LevelInfo  LogLevel = "info"
	LevelWarn  LogLevel = "warn"
	LevelError LogLevel = "error"
)

// LogFormat is how quill's own log is written.
type LogFormat string

const (
	// Console is one human-readable line per event.
	Console LogFormat = "console"
	// JSON is one JSON object per event.
	JSON LogFormat = "json"
)

// TLSVersion is the oldest TLS version a VIP accepts.
type TLSVersion string

const (
	TLS12 TLSVersion = "1.2"
	TLS13 TLSVersion = "1.3"
)

// ForwardedFor is what a pool does with X-Forwarded-For.
type ForwardedFor string

const (
	// Append adds the TCP peer to the chain the client sent.
	Append ForwardedFor = "append"
	// Replace sends only the client IP quill determined.
	Replace ForwardedFor = "replace"
	// PassOn passes the header on as the client sent it.
	PassOn ForwardedFor = "off"
)

// HealthType is how an active health check probes a server.
type HealthType string

const (
	// HealthHTTP sends a GET.
	HealthHTTP HealthType = "http"
	// HealthTCP opens a connection.
	HealthTCP HealthType = "tcp"
)

// VRRPProtocol is the protocol a virtual router speaks.
type VRRPProtocol string

const (
	ProtocolVRRP VRRPProtocol = "vrrp"
	ProtocolCARP VRRPProtocol = "carp"
)

var (
	balances      = []Balance{RoundRobin, Weighted, LeastConn, Hash}
	stickyModes   = []StickyMode{StickyCookie, StickyIP, StickyNone}
	sameSites     = []SameSite{SameSiteLax, SameSiteStrict, SameSiteNone}
	accessFormats = []AccessFormat{Common, Combined}
	onFulls       = []OnFull{Block, Drop}
	logLevels     = []LogLevel{LevelDebug, LevelInfo, LevelWarn, LevelError}
	logFormats    = []LogFormat{Console, JSON}
	tlsVersions   = []TLSVersion{TLS12, TLS13}
	forwardedFors = []ForwardedFor{Append, Replace, PassOn}
	healthTypes   = []HealthType{HealthHTTP, HealthTCP}
	protocols     = []VRRPProtocol{ProtocolVRRP, ProtocolCARP}
)

func (v *Balance) UnmarshalText(b []byte) error      { *v = Balance(b); return nil }
func (v *StickyMode) UnmarshalText(b []byte) error   { *v = StickyMode(b); return nil }
func (v *SameSite) UnmarshalText(b []byte) error     { *v = SameSite(b); return nil }
func (v *AccessFormat) UnmarshalText(b []byte) error { *v = AccessFormat(b); return nil }
func (v *OnFull) UnmarshalText(b []byte) error       { *v = OnFull(b); return nil }
func (v *LogLevel) UnmarshalText(b []byte) error     { *v = LogLevel(b); return nil }
func (v *LogFormat) UnmarshalText(b []byte) error    { *v = LogFormat(b); return nil }
func (v *TLSVersion) UnmarshalText(b []byte) error   { *v = TLSVersion(b); return nil }
func (v *ForwardedFor) UnmarshalText(b []byte) error { *v = ForwardedFor(b); return nil }
func (v *HealthType) UnmarshalText(b []byte) error   { *v = HealthType(b); return nil }
func (v *VRRPProtocol) UnmarshalText(b []byte) error { *v = VRRPProtocol(b); return nil }

func (v Balance) err() error      { return choiceErr(v, balances) }
func (v StickyMode) err() error   { return choiceErr(v, stickyModes) }
func (v SameSite) err() error     { return choiceErr(v, sameSites) }
func (v AccessFormat) err() error { return choiceErr(v, accessFormats) }
func (v OnFull) err() error       { return choiceErr(v, onFulls) }
func (v LogLevel) err() error     { return choiceErr(v, logLevels) }
func (v LogFormat) err() error    { return choiceErr(v, logFormats) }
func (v ForwardedFor) err() error { return choiceErr(v, forwardedFors) }
func (v HealthType) err() error   { return choiceErr(v, healthTypes) }
func (v VRRPProtocol) err() error { return choiceErr(v, protocols) }

func (v TLSVersion) err() error {
	if v == "1.0" || v == "1.1" {
		return fmt.Errorf("%q is refused: TLS %s is insecure (browsers dropped it in 2020); use \"1.2\" or \"1.3\"", string(v), string(v))
	}
	return choiceErr(v, tlsVersions)
}

// ID is the crypto/tls constant of the version.
func (v TLSVersion) ID() uint16 {
	if v == TLS13 {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// choiceErr says why v is not one of allowed, listing them as a user
// would write them.
func choiceErr[T ~string](v T, allowed []T) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = fmt.Sprintf("%q", string(a))
	}
	list := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	return fmt.Errorf("%q is not %s", string(v), list)
}
