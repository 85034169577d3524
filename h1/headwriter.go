package h1

import "strconv"

// HeadWriter appends header fields to a head being built. The proxy's hooks
// use it to write the fields of the request that goes to a backend and of
// the response that goes to the client, without allocating.
type HeadWriter struct {
	b []byte
}

// Field appends "name: value".
func (w *HeadWriter) Field(name, value []byte) {
	w.b = append(w.b, name...)
	w.b = append(w.b, ':', ' ')
	w.b = append(w.b, value...)
	w.b = append(w.b, '\r', '\n')
}

// String appends a field given as strings.
func (w *HeadWriter) String(name, value string) {
	w.b = append(w.b, name...)
	w.b = append(w.b, ':', ' ')
	w.b = append(w.b, value...)
	w.b = append(w.b, '\r', '\n')
}

// Int appends a field with a decimal value.
func (w *HeadWriter) Int(name string, v int64) {
	w.b = append(w.b, name...)
	w.b = append(w.b, ':', ' ')
	w.b = strconv.AppendInt(w.b, v, 10)
	w.b = append(w.b, '\r', '\n')
}

// Begin starts a field whose value is appended in parts with Value and
// ValueString, and ended by End.
func (w *HeadWriter) Begin(name string) {
	w.b = append(w.b, name...)
	w.b = append(w.b, ':', ' ')
}

// Value appends part of the value of the field begun.
func (w *HeadWriter) Value(v []byte) { w.b = append(w.b, v...) }

// ValueString appends part of the value of the field begun.
func (w *HeadWriter) ValueString(v string) { w.b = append(w.b, v...) }

// Append exposes the head for appenders such as netip.Addr.AppendTo; it
// returns the head, to be handed back with SetBytes.
func (w *HeadWriter) Bytes() []byte { return w.b }

// SetBytes takes back the head given out by Bytes, with appended bytes.
func (w *HeadWriter) SetBytes(b []byte) { w.b = b }

// End ends the field begun.
func (w *HeadWriter) End() { w.b = append(w.b, '\r', '\n') }
