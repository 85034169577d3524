package vrrp

import "time"

// hold applies quill's debounce rule to one health signal (a penalty, or
// a fault as 0/1):
//
//   - a worse value (higher) takes effect at once;
//   - a better value (lower) takes effect only after no worse value has
//     been seen for the debounce period; a relapse inside the period
//     starts it again.
//
// So a flapping signal moves the effective value up once, when it first
// goes bad, and down once, after it has been good for the whole period.
type hold struct {
	eff   int       // the value in effect
	raw   int       // the last value observed
	since time.Time // when raw first went below eff; zero when nothing is pending
	peak  int       // the highest raw value since then
}

// observe records a raw value and reports whether the value in effect
// changed.
func (h *hold) observe(now time.Time, raw int, d time.Duration) bool {
	h.raw = raw
	if raw >= h.eff {
		changed := raw != h.eff
		h.eff, h.since = raw, time.Time{}
		return changed
	}
	if h.since.IsZero() {
		h.since, h.peak = now, raw
	} else if raw > h.peak {
		// Still better than what is in effect, but worse than the
		// value that was waiting: wait again for this one.
		h.since, h.peak = now, raw
	}
	return h.settle(now, d)
}

// settle lowers the value in effect when the period has passed.
func (h *hold) settle(now time.Time, d time.Duration) bool {
	if h.since.IsZero() || now.Sub(h.since) < d {
		return false
	}
	h.eff, h.since = h.peak, time.Time{}
	if h.raw < h.eff {
		h.since, h.peak = now, h.raw
	}
	return true
}

// due is when a pending lowering takes effect; zero when none is pending.
func (h *hold) due(d time.Duration) time.Time {
	if h.since.IsZero() {
		return time.Time{}
	}
	return h.since.Add(d)
}
