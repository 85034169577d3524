package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// serverTrack remembers, for the status page, when and why a server's
// state last changed. The request path writes to it only when a server
// that failed answers again.
type serverTrack struct {
	born       int64 // unix nanoseconds the server first appeared
	modeAt     atomic.Int64
	checkAt    atomic.Int64 // the active check last took the server down or up
	downAt     atomic.Int64 // a failed connect took the server down (from up)
	failedAt   atomic.Int64 // the last failed connect
	answeredAt atomic.Int64 // the first answer after failedAt
	failReason atomic.Pointer[string]
	// checkResult is the outcome of the last active check, checkTook how
	// long it took.
	checkResult atomic.Pointer[string]
	checkTook   atomic.Int64
}

// errorCount is what the page shows as a server's errors: its failures.
func (s *serverState) errorCount() uint64 { return s.failures.Load() }

// answered notes that the server answered a request at now. It is cheap
// when the server has not failed since its last answer.
func (s *serverState) answered(now int64) {
	if s.track.failedAt.Load() > s.track.answeredAt.Load() {
		s.track.answeredAt.Store(now)
	}
}

// retrying reports whether the server's last connect failed and nothing
// (an answer to a request, a passing check) has shown it alive since.
func (s *serverState) retrying() bool {
	return s.track.failedAt.Load() > s.track.answeredAt.Load()
}

// noteConnectFailure records why a connect failed, at now.
func (s *serverState) noteConnectFailure(now int64, wasUp bool, err error) {
	reason := connectReason(err)
	s.track.failReason.Store(&reason)
	if wasUp {
		s.track.downAt.Store(now)
	}
	s.track.failedAt.Store(now)
}

// noteCheck records the result of an active check and how long it took;
// a passing check shows the server alive.
func (s *serverState) noteCheck(now int64, ok bool, why string, took time.Duration) {
	res := "ok"
	if !ok {
		res = "failed: " + why
	}
	s.track.checkResult.Store(&res)
	s.track.checkTook.Store(int64(took))
	if ok {
		s.answered(now)
	}
}

// connectReason says in a few words why a connect failed.
func connectReason(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "connect failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "connect timeout"
	}
	return "connect failed: " + err.Error()
}

// stateView is a server's state as the page shows it: a name, a reason
// and how long it has held.
type stateView struct {
	State  string  `json:"state"`
	Reason string  `json:"reason,omitempty"`
	Since  string  `json:"since"` // RFC 3339
	For    float64 `json:"for_seconds"`
	// Text is the state as one phrase: "down 12s: connect refused".
	Text string `json:"text"`
}

// stateView describes s at now.
func (s *server) stateView(now int64) stateView {
	st := s.state(now)
	var since int64
	reason := ""
	switch st {
	case "drain", "maint":
		since, reason = s.track.modeAt.Load(), "API"
	case "down":
		if s.checkDown.Load() {
			since = s.track.checkAt.Load()
			if r := s.track.checkResult.Load(); r != nil {
				reason = "check " + *r
			}
		} else {
			since = s.track.downAt.Load()
			if r := s.track.failReason.Load(); r != nil {
				reason = *r
			}
		}
	case "retrying":
		since = s.track.failedAt.Load()
		reason = "failed " + shortDuration(time.Duration(now-since)) + " ago"
		if r := s.track.failReason.Load(); r != nil {
			reason += ", " + *r
		}
	default:
		since = max(s.track.born, s.track.modeAt.Load(), s.track.checkAt.Load(), s.track.answeredAt.Load())
	}
	if since == 0 || since > now {
		since = s.track.born
	}
	v := stateView{State: st, Reason: reason, Since: time.Unix(0, since).UTC().Format(time.RFC3339),
		For: time.Duration(now - since).Round(time.Second).Seconds()}
	switch st {
	case "retrying":
		v.Text = "retrying: " + reason
	case "drain", "maint":
		v.Text = fmt.Sprintf("%s %s (API)", st, shortDuration(time.Duration(now-since)))
	default:
		v.Text = st + " " + shortDuration(time.Duration(now-since))
		if reason != "" {
			v.Text += ": " + reason
		}
	}
	return v
}

// shortDuration writes d as HAProxy's page does: 12s, 5m3s, 2h10m, 3d4h.
func shortDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 0:
		return "0s"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}
