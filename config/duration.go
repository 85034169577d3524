package config

import (
	"fmt"
	"time"
)

// Duration is a Go duration string ("5s", "12h") in the file. A value that
// does not parse is kept with its error, so that validation can report it
// with its line beside every other error instead of stopping at the first.
type Duration struct {
	time.Duration
	bad string
	set bool // the file gave a value
}

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		d.bad = string(b)
		return nil
	}
	d.Duration, d.bad, d.set = v, "", true
	return nil
}

// MarshalText writes the duration back as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// err reports a value that did not parse.
func (d Duration) err() error {
	if d.bad == "" {
		return nil
	}
	return fmt.Errorf("%q is not a duration (use Go syntax such as \"500ms\", \"5s\", \"12h\")", d.bad)
}

// Or returns d, or def when the file did not set it. A zero the file did
// set is refused by validation where zero has no meaning (see
// validator.timeout), so that "0s" never silently becomes the default.
func (d Duration) Or(def time.Duration) time.Duration {
	if !d.set {
		return def
	}
	return d.Duration
}
