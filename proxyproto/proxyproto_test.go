package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// haproxyVectors reads testdata/haproxy.txt (see capture.sh there).
func haproxyVectors(t testing.TB) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/haproxy.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vectors := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, h, ok := strings.Cut(line, " ")
		b, err := hex.DecodeString(h)
		if !ok || err != nil || len(b) == 0 {
			t.Fatalf("haproxy.txt: bad line %q", line)
		}
		vectors[name] = b
	}
	return vectors
}

const request = "GET / HTTP/1.0\r\n\r\n"

func TestHAProxyVectors(t *testing.T) {
	vectors := haproxyVectors(t)
	tests := []struct {
		name string
		want Header
		rest string
	}{
		{"v2_local_health_check", Header{Version: 2, Command: Local}, ""},
		{"v1_tcp4", Header{Version: 1, Command: Proxy, Source: ap("127.0.0.5:40001"), Destination: ap("127.0.0.1:18101")}, request},
		{"v2_tcp4", Header{Version: 2, Command: Proxy, Source: ap("127.0.0.5:40002"), Destination: ap("127.0.0.1:18102")}, request},
		{"v1_tcp6", Header{Version: 1, Command: Proxy, Source: ap("[::1]:40003"), Destination: ap("[::1]:18103")}, request},
		{"v2_tcp6", Header{Version: 2, Command: Proxy, Source: ap("[::1]:40004"), Destination: ap("[::1]:18104")}, request},
		{"v2_tcp4_crc32c_unique_id", Header{Version: 2, Command: Proxy, Source: ap("127.0.0.5:40005"), Destination: ap("127.0.0.1:18105"),
			TLVs: []TLV{{TypeCRC32C, []byte{0x28, 0xf8, 0x38, 0xbe}}, {0x05, []byte("abc123")}}}, request},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := vectors[tt.name]
			if !ok {
				t.Fatalf("no vector %s in testdata/haproxy.txt", tt.name)
			}
			h, n, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("Parse = %+v, want %+v", h, tt.want)
			}
			if rest := string(b[n:]); rest != tt.rest {
				t.Errorf("after the header: %q, want %q", rest, tt.rest)
			}
			// What quill would write for the same header is what HAProxy
			// wrote, checksum field and all.
			enc, err := h.Append(nil)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(enc, b[:n]) {
				t.Errorf("Append = %x, HAProxy sent %x", enc, b[:n])
			}
		})
	}
	if len(vectors) != len(tests) {
		t.Errorf("haproxy.txt has %d vectors, the test checks %d", len(vectors), len(tests))
	}
}

// roundTrips are headers that Append and Parse carry unchanged.
var roundTrips = []struct {
	name string
	h    Header
}{
	{"v1 tcp4", Header{Version: 1, Command: Proxy, Source: ap("192.0.2.10:51000"), Destination: ap("198.51.100.1:443")}},
	{"v1 tcp4 extremes", Header{Version: 1, Command: Proxy, Source: ap("255.255.255.255:65535"), Destination: ap("0.0.0.0:0")}},
	{"v1 tcp6", Header{Version: 1, Command: Proxy, Source: ap("[2001:db8::1]:51000"), Destination: ap("[2001:db8::2]:80")}},
	{"v1 tcp6 longest", Header{Version: 1, Command: Proxy, Source: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Destination: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}},
	{"v1 tcp6 mapped v4", Header{Version: 1, Command: Proxy, Source: ap("[::ffff:192.0.2.1]:1"), Destination: ap("[::ffff:192.0.2.2]:2")}},
	{"v1 unknown", Header{Version: 1, Command: Proxy}},
	{"v2 tcp4", Header{Version: 2, Command: Proxy, Source: ap("192.0.2.10:51000"), Destination: ap("198.51.100.1:443")}},
	{"v2 tcp6", Header{Version: 2, Command: Proxy, Source: ap("[2001:db8::1]:51000"), Destination: ap("[2001:db8::2]:80")}},
	{"v2 local", Header{Version: 2, Command: Local}},
	{"v2 proxy unspec", Header{Version: 2, Command: Proxy}},
	{"v2 unspec with tlvs", Header{Version: 2, Command: Proxy, TLVs: []TLV{{0x02, []byte("www.example.com")}}}},
	{"v2 tcp4 with tlvs", Header{Version: 2, Command: Proxy, Source: ap("192.0.2.10:51000"), Destination: ap("198.51.100.1:443"),
		TLVs: []TLV{{0x01, []byte("h2")}, {TypeNoop, []byte{}}, {0xe0, bytes.Repeat([]byte{7}, 300)}}}},
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range roundTrips {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.h.Append([]byte("x"))
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			b = append(b, request...)
			h, n, err := Parse(b[1:])
			if err != nil {
				t.Fatalf("Parse(%q): %v", b[1:], err)
			}
			if !reflect.DeepEqual(h, tt.h) {
				t.Errorf("Parse = %+v, want %+v", h, tt.h)
			}
			if rest := string(b[1+n:]); rest != request {
				t.Errorf("after the header: %q", rest)
			}
		})
	}
}

// TestIncomplete cuts every header short at every byte: each beginning is
// ErrIncomplete, never an error or a header.
func TestIncomplete(t *testing.T) {
	var whole [][]byte
	for _, tt := range roundTrips {
		b, err := tt.h.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		whole = append(whole, b)
	}
	for name, b := range haproxyVectors(t) {
		h, n, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v (%+v)", name, err, h)
		}
		whole = append(whole, b[:n])
	}
	for _, b := range whole {
		for i := range len(b) {
			if _, _, err := Parse(b[:i]); !errors.Is(err, ErrIncomplete) {
				t.Errorf("Parse(%q) = %v, want ErrIncomplete", b[:i], err)
			}
		}
	}
}

// v2 builds a v2 header by hand: command byte, family byte, length field
// and the bytes after it.
func v2(verCmd, fam byte, length uint16, rest ...byte) []byte {
	b := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), verCmd, fam, byte(length>>8), byte(length))
	return append(b, rest...)
}

func TestMalformed(t *testing.T) {
	tcp4 := []byte{192, 0, 2, 1, 192, 0, 2, 2, 0, 80, 1, 187}
	crc := v2(0x21, 0x11, 19, append(append([]byte{}, tcp4...), TypeCRC32C, 0, 4, 0, 0, 0, 0)...)
	long := v2(0x21, 0x11, MaxV2Body+1)
	tests := []struct {
		name string
		in   string
		want string // in the error
	}{
		{"HTTP request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "no PROXY protocol signature"},
		{"TLS hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "no PROXY protocol signature"},
		{"lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "no PROXY protocol signature"},
		{"PROXY without space", "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "no PROXY protocol signature"},
		{"v2 bad signature", "\r\n\r\n\x00\r\nQUIT\r\x21\x11\x00\x0c", "no PROXY protocol signature"},
		{"v1 line too long", "PROXY UNKNOWN " + strings.Repeat("a", 93) + "\r\n", "longer than 107"},
		{"v1 no CRLF in 107 bytes", "PROXY TCP4 " + strings.Repeat("1", 200), "longer than 107"},
		{"v1 longest is fine but one more is not", "PROXY UNKNOWN " + strings.Repeat("f", 92) + "\r\n", "longer than 107"},
		{"v1 LF alone", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR"},
		{"v1 CR alone", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "CR without LF"},
		{"v1 unknown protocol", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", `"UDP4"`},
		{"v1 empty protocol", "PROXY \r\n", `protocol ""`},
		{"v1 missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "4 fields"},
		{"v1 double space", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "6 fields"},
		{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "6 fields"},
		{"v1 v6 address in TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n", "not a TCP4 address"},
		{"v1 v4 address in TCP6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", "not a TCP6 address"},
		{"v1 leading zero in address", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "not a TCP4 address"},
		{"v1 address with zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "not a TCP6 address"},
		{"v1 name for address", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n", "not a TCP4 address"},
		{"v1 port too large", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", `port "65536"`},
		{"v1 port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", `port "01"`},
		{"v1 port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", `port "+1"`},
		{"v1 port negative", "PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", `port "-2"`},
		{"v1 port hex", "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n", `port "0x1"`},
		{"v1 port empty", "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", `port ""`},
		{"v2 version 1", string(v2(0x11, 0x11, 12, tcp4...)), "version 1"},
		{"v2 version 3", string(v2(0x31, 0x11, 12, tcp4...)), "version 3"},
		{"v2 command 2", string(v2(0x22, 0x11, 12, tcp4...)), "command 2"},
		{"v2 family 4", string(v2(0x21, 0x41, 12, tcp4...)), "0x41"},
		{"v2 protocol 3", string(v2(0x21, 0x13, 12, tcp4...)), "0x13"},
		{"v2 inet without protocol", string(v2(0x21, 0x10, 12, tcp4...)), "0x10"},
		{"v2 length beyond limit", string(long), "beyond 4096"},
		{"v2 length 65535", string(v2(0x21, 0x11, 0xffff)), "beyond 4096"},
		{"v2 length short of tcp4 addresses", string(v2(0x21, 0x11, 11, tcp4[:11]...)), "too short"},
		{"v2 length short of tcp6 addresses", string(v2(0x21, 0x21, 12, tcp4...)), "too short"},
		{"v2 length short of unix addresses", string(v2(0x21, 0x31, 12, tcp4...)), "too short"},
		{"v2 TLV truncated", string(v2(0x21, 0x11, 14, append(append([]byte{}, tcp4...), 0x04, 0)...)), "TLV truncated"},
		{"v2 TLV overruns", string(v2(0x21, 0x11, 16, append(append([]byte{}, tcp4...), 0x04, 0, 2, 'x')...)), "overruns the header by 1"},
		{"v2 CRC32C wrong", string(crc), "CRC32C mismatch"},
		{"v2 CRC32C short", string(v2(0x21, 0x11, 18, append(append([]byte{}, tcp4...), TypeCRC32C, 0, 3, 0, 0, 0)...)), "CRC32C TLV of 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := Parse([]byte(tt.in))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %+v, %d, %v; want an invalid header: %s", tt.in, h, n, err, tt.want)
			}
		})
	}
}

// TestSpecFallbacks covers the valid headers that carry no usable TCP
// address: they parse, with no Source, so the connection's own endpoints
// stay in force.
func TestSpecFallbacks(t *testing.T) {
	tcp4 := []byte{192, 0, 2, 1, 192, 0, 2, 2, 0, 80, 1, 187}
	tests := []struct {
		name string
		in   []byte
		n    int
	}{
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ::1 ::1 1 2\r\nGET"), 27},
		{"v1 unknown with anything", []byte("PROXY UNKNOWN whatever\r\n"), 24},
		{"v1 longest line", []byte("PROXY UNKNOWN " + strings.Repeat("f", 91) + "\r\n"), 107},
		{"v2 udp4", v2(0x21, 0x12, 12, tcp4...), 28},
		{"v2 unix stream", v2(0x21, 0x31, 216, make([]byte, 216)...), 232},
		{"v2 unspec with bytes", v2(0x21, 0x00, 3, 0x04, 0, 0), 19},
		{"v2 local with addresses", v2(0x20, 0x11, 12, tcp4...), 28},
		{"v2 local with any family", v2(0x20, 0xff, 2, 1, 2), 18},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != tt.n || h.Source.IsValid() || h.Destination.IsValid() {
				t.Errorf("Parse = %+v, %d; want no addresses, %d bytes", h, n, tt.n)
			}
		})
	}
}

func TestAppendRefuses(t *testing.T) {
	tests := []struct {
		name string
		h    Header
	}{
		{"mixed families", Header{Version: 2, Command: Proxy, Source: ap("192.0.2.1:1"), Destination: ap("[2001:db8::1]:2")}},
		{"source only", Header{Version: 1, Command: Proxy, Source: ap("192.0.2.1:1")}},
		{"zone", Header{Version: 1, Command: Proxy, Source: ap("[fe80::1%eth0]:1"), Destination: ap("[fe80::2]:2")}},
		{"local with addresses", Header{Version: 2, Command: Local, Source: ap("192.0.2.1:1"), Destination: ap("192.0.2.2:2")}},
		{"v1 local", Header{Version: 1, Command: Local}},
		{"v1 TLVs", Header{Version: 1, Command: Proxy, TLVs: []TLV{{1, nil}}}},
		{"v2 too long", Header{Version: 2, Command: Proxy, TLVs: []TLV{{0xe0, make([]byte, MaxV2Body)}}}},
		{"version 3", Header{Version: 3, Command: Proxy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.h.Append(nil); err == nil {
				t.Errorf("Append = %q, want an error", b)
			}
		})
	}
}

// FuzzParse holds Parse to its contract on any input: no panic, a length
// within the input, and the header alone parses the same.
func FuzzParse(f *testing.F) {
	for _, b := range haproxyVectors(f) {
		f.Add(b)
	}
	for _, tt := range roundTrips {
		b, _ := tt.h.Append(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrIncomplete) {
				t.Fatalf("Parse: unexpected error %v", err)
			}
			return
		}
		if n <= 0 || n > len(b) || n > MaxLength {
			t.Fatalf("Parse: length %d of %d bytes", n, len(b))
		}
		h2, n2, err := Parse(b[:n])
		if err != nil || n2 != n || !reflect.DeepEqual(h, h2) {
			t.Fatalf("the header alone parses as %+v, %d, %v; with what follows as %+v, %d", h2, n2, err, h, n)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	vectors := haproxyVectors(b)
	for _, name := range []string{"v1_tcp4", "v2_tcp4", "v1_tcp6", "v2_tcp6"} {
		in := vectors[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
