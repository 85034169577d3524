package proxy

import (
	"encoding/binary"
	"io"
)

// RFC 9113 §6.5.3 has the values of a SETTINGS frame processed in the
// order they appear, so a setting sent twice takes its last value. Go's
// server instead closes the connection on any repeated setting
// (golang/go#56760). The guard mends such a frame on its way in: every
// setting that a later one of the same ID overrides is given an ID no
// one uses, which the server ignores (§6.5.2), so that the server ends
// with the values the client meant.
//
// HEADER_TABLE_SIZE is left as sent, as HPACK must see its smallest value
// and not only its last; so is a value the server would refuse, so that
// it still refuses it.

const (
	settingHeaderTableSize = 0x1
	settingEnablePush      = 0x2
	settingInitialWindow   = 0x4
	settingMaxFrameSize    = 0x5
	settingEnableConnect   = 0x8
	settingLen             = 6
	maxSettingsMended      = 100 // Go refuses a SETTINGS frame of more
	flagAck                = 0x1
)

// settingsToMend reports whether h is a SETTINGS frame the guard reads
// whole before the server, to mend it.
func settingsToMend(h frameHeader) bool {
	return h.typ == frameSettings && h.stream == 0 && h.flags&flagAck == 0 &&
		h.length > settingLen && h.length%settingLen == 0 && h.length <= maxSettingsMended*settingLen
}

// gatherSettings reads the rest of a SETTINGS payload of length bytes, of
// which got came with its header, mends it and queues it, with what
// followed it, to be handed to the server next.
func (g *h2Guard) gatherSettings(got []byte, length int) {
	payload := make([]byte, length)
	n := copy(payload, got)
	// got is the server's buffer: keep a copy of what follows the payload.
	rest := append(append([]byte(nil), got[n:]...), g.pending...)
	g.pending = nil
	if n < length {
		m := copy(payload[n:], rest)
		rest = rest[m:]
		n += m
	}
	if n < length {
		var m int
		m, g.pendingErr = io.ReadFull(g.Conn, payload[n:])
		n += m
	}
	if n == length {
		mendSettings(payload)
	}
	g.pending = append(payload[:n], rest...)
}

// mendSettings renames in place each setting of payload that a later one
// of the same ID overrides.
func mendSettings(payload []byte) {
	count := len(payload) / settingLen
	id := func(i int) uint16 { return binary.BigEndian.Uint16(payload[i*settingLen:]) }
	val := func(i int) uint32 { return binary.BigEndian.Uint32(payload[i*settingLen+2:]) }
	unused := uint16(0xffff)
	for i := range count {
		if id(i) == settingHeaderTableSize || !validSetting(id(i), val(i)) {
			continue
		}
		for j := i + 1; j < count; j++ {
			if id(j) != id(i) {
				continue
			}
			for inFrame(payload, unused) {
				unused--
			}
			binary.BigEndian.PutUint16(payload[i*settingLen:], unused)
			break
		}
	}
}

// validSetting mirrors the range checks of RFC 9113 §6.5.2.
func validSetting(id uint16, v uint32) bool {
	switch id {
	case settingEnablePush, settingEnableConnect:
		return v <= 1
	case settingInitialWindow:
		return v <= 1<<31-1
	case settingMaxFrameSize:
		return v >= 1<<14 && v < 1<<24
	}
	return true
}

func inFrame(payload []byte, id uint16) bool {
	for i := 0; i+settingLen <= len(payload); i += settingLen {
		if binary.BigEndian.Uint16(payload[i:]) == id {
			return true
		}
	}
	return false
}
