package proxy

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"quill/tlsterm"
)

func TestResetWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name string
		max  int
		at   []time.Time
		want []bool
	}{
		{"within the limit", 3, []time.Time{at(0), at(100), at(900)}, []bool{true, true, true}},
		{"one over in the same second", 3, []time.Time{at(0), at(1), at(2), at(3)}, []bool{true, true, true, false}},
		{"stays over until the second ends", 2, []time.Time{at(0), at(1), at(2), at(999)}, []bool{true, true, false, false}},
		{"a new second starts afresh", 2, []time.Time{at(0), at(1), at(2), at(1000), at(1001)}, []bool{true, true, false, true, true}},
		{"a clock going back starts afresh", 1, []time.Time{at(500), at(100)}, []bool{true, true}},
		{"limit of one", 1, []time.Time{at(0), at(10)}, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := resetWindow{max: tt.max}
			for i, now := range tt.at {
				if got := w.allow(now); got != tt.want[i] {
					t.Fatalf("frame %d at %v: allow = %v, want %v", i+1, now.Sub(t0), got, tt.want[i])
				}
			}
		})
	}
}

// frame builds an HTTP/2 frame with a payload of n bytes.
func frame(typ byte, stream uint32, n int) []byte {
	b := make([]byte, frameHeaderLen+n)
	putFrameHeader(b, n, typ, 0, stream)
	for i := range n {
		b[frameHeaderLen+i] = byte(i)
	}
	return b
}

type seenHeader struct {
	offset int // in the whole stream
	frameHeader
}

// scan feeds stream to a scanner in pieces of size step and returns the
// headers it saw, where each began.
func scan(s frameScanner, stream []byte, step int) []seenHeader {
	var seen []seenHeader
	begun := -1 // where the header under way began, perhaps in an earlier piece
	for base := 0; base < len(stream); base += step {
		p := stream[base:min(base+step, len(stream))]
		for off := 0; off < len(p); {
			k, headerBegan, complete := s.next(p[off:])
			if headerBegan {
				begun = base + off
			}
			if complete {
				seen = append(seen, seenHeader{begun, s.header()})
			}
			off += k
		}
	}
	return seen
}

func TestFrameScanner(t *testing.T) {
	var stream []byte
	stream = append(stream, clientPreface...)
	stream = append(stream, frame(0x4, 0, 12)...)                 // SETTINGS at 24
	stream = append(stream, frame(frameHeaders, 1, 20)...)        // at 45
	stream = append(stream, frame(frameRSTStream, 1, 4)...)       // at 74
	stream = append(stream, frame(0x4, 0, 0)...)                  // SETTINGS ack at 87
	stream = append(stream, frame(0x0, 3, 300)...)                // DATA at 96
	stream = append(stream, frame(frameRSTStream, 1<<31|3, 4)...) // reserved bit set, at 405
	want := []seenHeader{
		{24, frameHeader{12, 0x4, 0, 0}},
		{45, frameHeader{20, frameHeaders, 1, 0}},
		{74, frameHeader{4, frameRSTStream, 1, 0}},
		{87, frameHeader{0, 0x4, 0, 0}},
		{96, frameHeader{300, 0x0, 3, 0}},
		{405, frameHeader{4, frameRSTStream, 3, 0}},
	}
	for _, step := range []int{1, 2, 5, 9, 10, 13, 64, len(stream)} {
		t.Run("pieces of "+strconv.Itoa(step), func(t *testing.T) {
			got := scan(frameScanner{skip: len(clientPreface)}, stream, step)
			if len(got) != len(want) {
				t.Fatalf("saw %d headers, want %d: %+v", len(got), len(want), got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("header %d: got %+v, want %+v", i+1, got[i], want[i])
				}
			}
		})
	}
}

func TestFrameScannerBoundaryIn(t *testing.T) {
	two := append(frame(0x0, 1, 10), frame(0x1, 3, 4)...)
	tests := []struct {
		name    string
		written int // bytes of two already through the scanner
		next    int // length of the next write
		want    int
	}{
		{"at a boundary", 0, 5, 0},
		{"inside a header", 4, 20, 15},
		{"inside a payload", 12, 10, 7},
		{"frame goes on past the write", 12, 3, -1},
		{"write ends the frame exactly", 12, 7, 7},
		{"between the two frames", 19, 5, 0},
		{"empty write inside a frame", 3, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s frameScanner
			s.advance(two[:tt.written])
			if got := s.boundaryIn(two[tt.written : tt.written+tt.next]); got != tt.want {
				t.Fatalf("boundaryIn = %d, want %d", got, tt.want)
			}
		})
	}
}

// tlsPair is a TLS connection over loopback TCP: the server end (for the
// guard) and the client end.
func tlsPair(t *testing.T) (server *tls.Conn, client *tls.Conn) {
	t.Helper()
	certPEM, keyPEM, _, err := tlsterm.SelfSigned([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	server = tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}})
	client = tls.Client(cc, &tls.Config{InsecureSkipVerify: true})
	errs := make(chan error, 1)
	go func() { errs <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestGuardGoAwayBetweenFrames cuts a connection off while the server has
// written part of a frame: the GOAWAY must come after the whole frame, and
// nothing after the GOAWAY.
func TestGuardGoAwayBetweenFrames(t *testing.T) {
	data := frame(0x0, 1, 100)
	tests := []struct {
		name   string
		before int   // bytes of data written before the cut
		writes []int // then written in these pieces
		want   int   // bytes of data the client gets before the GOAWAY
	}{
		{"between frames", 0, []int{len(data)}, 0},
		{"inside a header", 5, []int{len(data) - 5}, len(data)},
		{"inside a payload, rest in one write", 50, []int{len(data) - 50}, len(data)},
		{"inside a payload, rest in two writes", 50, []int{20, len(data) - 70}, len(data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := tlsPair(t)
			g := newH2Guard(server, 1, nil)
			g.in.skip = 0
			g.lastStream.Store(7)
			if _, err := g.Write(data[:tt.before]); err != nil {
				t.Fatal(err)
			}
			g.cutOff()
			if tt.before == 0 {
				select {
				case <-g.goAwayDone:
				case <-time.After(5 * time.Second):
					t.Fatal("no GOAWAY written at a frame boundary")
				}
			}
			off := tt.before
			for _, n := range tt.writes {
				g.Write(data[off : off+n])
				off += n
			}
			if _, err := g.Write(frame(0x0, 1, 3)); err == nil {
				t.Fatal("a write after the GOAWAY succeeded")
			}
			received := make(chan []byte, 1)
			go func() {
				client.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, _ := io.ReadAll(client) // to the guard's close_notify
				client.Close()               // which ends its lingering close
				received <- got
			}()
			g.Close()
			got := <-received
			if !bytes.Equal(got[:tt.want], data[:tt.want]) {
				t.Fatalf("the frame under way was not completed: got % x", got)
			}
			rest := got[tt.want:]
			if len(rest) < frameHeaderLen+8 {
				t.Fatalf("after the frame: % x, want a GOAWAY", rest)
			}
			var s frameScanner
			s.advance(rest[:frameHeaderLen])
			h := s.header()
			if h.typ != frameGoAway || h.stream != 0 || h.length != len(rest)-frameHeaderLen {
				t.Fatalf("after the frame: header %+v, %d bytes in all; want one GOAWAY and nothing after", h, len(rest))
			}
			if last, code := binary.BigEndian.Uint32(rest[9:]), binary.BigEndian.Uint32(rest[13:]); last != 7 || code != errCodeEnhanceYourCalm {
				t.Fatalf("GOAWAY last stream %d code %#x, want 7 and ENHANCE_YOUR_CALM", last, code)
			}
		})
	}
}

// TestGuardReadCut sends streams opened and reset, one more reset than the
// limit allows, then a new stream: the server must get every byte before
// the reset over the limit and never a whole frame from it on, however the
// bytes are split into Reads, and the client a GOAWAY naming the last
// stream opened.
func TestGuardReadCut(t *testing.T) {
	const limit = 2
	var stream []byte
	stream = append(stream, clientPreface...)
	for id := uint32(1); id <= 2*limit+1; id += 2 {
		stream = append(stream, frame(frameHeaders, id, 7)...)
		stream = append(stream, frame(frameRSTStream, id, 4)...)
	}
	cut := len(stream) - (frameHeaderLen + 4) // where the reset over the limit begins
	stream = append(stream, frame(frameHeaders, 7, 7)...)
	for _, size := range []int{1, 4, 9, 13, 4096} {
		t.Run("reads of "+strconv.Itoa(size), func(t *testing.T) {
			server, client := tlsPair(t)
			g := newH2Guard(server, limit, nil)
			go client.Write(stream)
			var got []byte
			var err error
			buf := make([]byte, size)
			for err == nil && len(got) < len(stream) {
				var n int
				n, err = g.Read(buf)
				got = append(got, buf[:n]...)
			}
			if err != errTooManyResets {
				t.Fatalf("Read ended with %v after %d bytes, want errTooManyResets", err, len(got))
			}
			// Part of the header of the reset over the limit may have gone
			// before its type was known, never all of it.
			if len(got) < cut || len(got) >= cut+frameHeaderLen || !bytes.Equal(got, stream[:len(got)]) {
				t.Fatalf("the server got %d bytes, want the %d before the reset over the limit and at most part of its header", len(got), cut)
			}
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			var h [frameHeaderLen + 8]byte
			if _, err := io.ReadFull(client, h[:]); err != nil {
				t.Fatalf("no GOAWAY: %v", err)
			}
			if h[3] != frameGoAway || binary.BigEndian.Uint32(h[9:]) != 5 || binary.BigEndian.Uint32(h[13:]) != errCodeEnhanceYourCalm {
				t.Fatalf("got frame % x, want GOAWAY last stream 5 ENHANCE_YOUR_CALM", h)
			}
		})
	}
}

// FuzzFrameScanner: however a byte stream is split, the scanner finds the
// same frame headers at the same offsets as in one piece.
func FuzzFrameScanner(f *testing.F) {
	seed := append([]byte(clientPreface), frame(0x4, 0, 12)...)
	seed = append(seed, frame(frameHeaders, 1, 20)...)
	seed = append(seed, frame(frameRSTStream, 1, 4)...)
	f.Add(seed, 1)
	f.Add(seed, 7)
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0, 0, 1}, 2)
	f.Fuzz(func(t *testing.T, stream []byte, step int) {
		if step < 1 {
			step = 1
		}
		whole := scan(frameScanner{}, stream, len(stream)+1)
		split := scan(frameScanner{}, stream, step)
		if len(whole) != len(split) {
			t.Fatalf("in one piece %d headers, in pieces of %d %d", len(whole), step, len(split))
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("header %d: %+v in one piece, %+v in pieces of %d", i+1, whole[i], split[i], step)
			}
		}
	})
}
