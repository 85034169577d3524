package proxy

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"testing"
)

// settings encodes id, value pairs as a SETTINGS payload.
func settings(pairs ...uint32) []byte {
	var b []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		b = binary.BigEndian.AppendUint16(b, uint16(pairs[i]))
		b = binary.BigEndian.AppendUint32(b, pairs[i+1])
	}
	return b
}

func TestMendSettings(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"no repeat", settings(4, 100, 5, 1<<14), settings(4, 100, 5, 1<<14)},
		{"window twice: the last wins", settings(4, 100, 4, 1), settings(0xffff, 100, 4, 1)},
		{"three times", settings(4, 1, 3, 10, 4, 2, 4, 3), settings(0xffff, 1, 3, 10, 0xfffe, 2, 4, 3)},
		{"unused ID skips those in the frame", settings(0xffff, 7, 4, 100, 4, 1), settings(0xffff, 7, 0xfffe, 100, 4, 1)},
		{"header table size left as sent", settings(1, 0, 1, 4096), settings(1, 0, 1, 4096)},
		{"an invalid value is kept, to be refused", settings(4, 1<<31, 4, 1), settings(4, 1<<31, 4, 1)},
		{"invalid push kept", settings(2, 2, 2, 0), settings(2, 2, 2, 0)},
		{"invalid frame size kept", settings(5, 100, 5, 1<<14), settings(5, 100, 5, 1<<14)},
		{"valid frame size renamed", settings(5, 1<<15, 5, 1<<14), settings(0xffff, 1<<15, 5, 1<<14)},
		{"unknown settings repeated", settings(0x99, 1, 0x99, 2), settings(0xffff, 1, 0x99, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bytes.Clone(tt.in)
			mendSettings(got)
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("mended % x, want % x", got, tt.want)
			}
		})
	}
}

func settingsFrame(flags byte, payload []byte) []byte {
	b := make([]byte, frameHeaderLen, frameHeaderLen+len(payload))
	putFrameHeader(b, len(payload), frameSettings, flags, 0)
	return append(b, payload...)
}

// TestGuardMendsSettings sends SETTINGS frames through the guard, however
// split into writes and reads: a frame with a repeated setting reaches the
// server mended, every other byte as sent.
func TestGuardMendsSettings(t *testing.T) {
	var sent, want []byte
	sent = append(sent, clientPreface...)
	sent = append(sent, settingsFrame(0, settings(4, 100, 4, 1))...)
	sent = append(sent, frame(frameHeaders, 1, 20)...)
	sent = append(sent, settingsFrame(flagAck, nil)...)
	sent = append(sent, settingsFrame(0, settings(3, 100))...)
	sent = append(sent, settingsFrame(0, settings(4, 7, 5, 1<<14, 4, 8))...)
	sent = append(sent, frame(frameRSTStream, 1, 4)...)
	want = bytes.Clone(sent)
	mendSettings(want[len(clientPreface)+frameHeaderLen : len(clientPreface)+frameHeaderLen+12])
	at := bytes.LastIndex(want, settings(4, 7, 5, 1<<14, 4, 8))
	mendSettings(want[at : at+18])
	if bytes.Equal(want, sent) {
		t.Fatal("the test sends nothing to mend")
	}
	tests := []struct {
		name      string
		writes    int // size of the client's writes
		frameWise bool
		reads     int
	}{
		{"one write, large reads", len(sent), false, 4096},
		{"one write, reads of 1", len(sent), false, 1},
		{"writes of 5, reads of 7", 5, false, 7},
		{"writes of 13, reads of 9", 13, false, 9},
		{"one write, reads as the server makes them", len(sent), true, 0},
		{"writes of 3, reads as the server makes them", 3, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+strconv.Itoa(tt.writes), func(t *testing.T) {
			server, client := tlsPair(t)
			g := newH2Guard(server, 100, nil)
			go func() {
				for off := 0; off < len(sent); off += tt.writes {
					client.Write(sent[off:min(off+tt.writes, len(sent))])
				}
			}()
			var got []byte
			if tt.frameWise {
				// As x/net's Framer reads: the preface, then each header
				// and each payload with one io.ReadFull.
				got = make([]byte, len(clientPreface))
				if _, err := io.ReadFull(g, got); err != nil {
					t.Fatal(err)
				}
				for len(got) < len(want) {
					var h [frameHeaderLen]byte
					if _, err := io.ReadFull(g, h[:]); err != nil {
						t.Fatalf("after %d bytes: %v", len(got), err)
					}
					payload := make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
					if _, err := io.ReadFull(g, payload); err != nil {
						t.Fatalf("after %d bytes: %v", len(got), err)
					}
					got = append(append(got, h[:]...), payload...)
				}
			} else {
				buf := make([]byte, tt.reads)
				for len(got) < len(want) {
					n, err := g.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil {
						t.Fatalf("after %d bytes: %v", len(got), err)
					}
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("the server got\n% x\nwant\n% x", got, want)
			}
		})
	}
}

// FuzzMendSettings: mending keeps the payload's length, leaves no valid
// setting (but HEADER_TABLE_SIZE) repeated, and keeps the last value of
// each.
func FuzzMendSettings(f *testing.F) {
	f.Add(settings(4, 100, 4, 1))
	f.Add(settings(0xffff, 7, 4, 100, 4, 1, 0xfffe, 3))
	f.Add(settings(1, 0, 1, 4096, 5, 1<<14, 5, 1<<15))
	f.Fuzz(func(t *testing.T, payload []byte) {
		payload = payload[:len(payload)/settingLen*settingLen]
		if len(payload) > maxSettingsMended*settingLen {
			return
		}
		mended := bytes.Clone(payload)
		mendSettings(mended)
		if len(mended) != len(payload) {
			t.Fatalf("length %d, want %d", len(mended), len(payload))
		}
		last := map[uint16]uint32{}
		for i := 0; i < len(payload); i += settingLen {
			last[binary.BigEndian.Uint16(payload[i:])] = binary.BigEndian.Uint32(payload[i+2:])
		}
		seen := map[uint16]uint32{}
		for i := 0; i < len(mended); i += settingLen {
			id, v := binary.BigEndian.Uint16(mended[i:]), binary.BigEndian.Uint32(mended[i+2:])
			if binary.BigEndian.Uint32(payload[i+2:]) != v {
				t.Fatalf("a value changed at %d", i)
			}
			if _, dup := seen[id]; dup && id != settingHeaderTableSize && validSetting(id, seen[id]) && id == binary.BigEndian.Uint16(payload[i:]) {
				t.Fatalf("setting %#x still repeated: % x", id, mended)
			}
			seen[id] = v
		}
		for id, v := range last {
			if got, ok := seen[id]; !ok || got != v {
				t.Fatalf("setting %#x ends at %d (present %v), want its last value %d: % x", id, got, ok, v, mended)
			}
		}
	})
}
