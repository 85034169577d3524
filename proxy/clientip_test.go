package proxy

import (
	"net/http"
	"net/netip"
	"testing"

	"quill/config"
)

func TestClientIP(t *testing.T) {
	var trusted trustedSet
	for _, c := range []string{"10.0.0.0/8", "192.0.2.1"} {
		p, err := config.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		trusted = append(trusted, p)
	}
	tests := []struct {
		name    string
		trusted trustedSet
		peer    string
		xff     []string
		want    string
	}{
		{"untrusted peer: xff ignored", trusted, "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
		{"no trusted proxies: xff ignored", nil, "10.1.1.1", []string{"1.2.3.4"}, "10.1.1.1"},
		{"trusted peer: right-most untrusted", trusted, "10.1.1.1", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},
		{"trusted hops skipped", trusted, "10.1.1.1", []string{"6.6.6.6, 1.2.3.4, 10.2.2.2, 192.0.2.1"}, "1.2.3.4"},
		{"several header lines", trusted, "10.1.1.1", []string{"6.6.6.6", "1.2.3.4, 10.9.9.9"}, "1.2.3.4"},
		{"all trusted: left-most", trusted, "10.1.1.1", []string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},
		{"garbage hop stops the walk", trusted, "10.1.1.1", []string{"1.2.3.4, unknown, 10.4.4.4"}, "10.4.4.4"},
		{"trusted peer without xff", trusted, "10.1.1.1", nil, "10.1.1.1"},
		{"ipv6 client", trusted, "10.1.1.1", []string{"2001:db8::1"}, "2001:db8::1"},
		{"mapped address unmapped", trusted, "10.1.1.1", []string{"::ffff:1.2.3.4"}, "1.2.3.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.trusted.clientIP(netip.MustParseAddr(tt.peer), tt.xff)
			if got.String() != tt.want {
				t.Errorf("clientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPeerAddr(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"127.0.0.1:5000", "127.0.0.1"},
		{"[::1]:5000", "::1"},
		{"[::ffff:10.0.0.1]:80", "10.0.0.1"},
		{"garbage", "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			if got := peerAddr(tt.remote).String(); got != tt.want {
				t.Errorf("peerAddr(%q) = %s, want %s", tt.remote, got, tt.want)
			}
		})
	}
}

func TestPrivateCacheControl(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "private"},
		{"public, max-age=60", "private, max-age=60"},
		{"max-age=60, s-maxage=300", "private, max-age=60"},
		{"private, max-age=5", "private, max-age=5"},
		{"no-store", "no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := privateCacheControl(tt.in); got != tt.want {
				t.Errorf("privateCacheControl(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStripCookie(t *testing.T) {
	st := &stickiness{cfg: &config.Sticky{Cookie: "QUILL"}}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"only ours", []string{"QUILL=abc"}, nil},
		{"ours among others", []string{"a=1; QUILL=abc; b=2"}, []string{"a=1; b=2"}},
		{"prefix of another name kept", []string{"QUILLX=1; QUILL=abc"}, []string{"QUILLX=1"}},
		{"several lines", []string{"a=1", "QUILL=x"}, []string{"a=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Cookie": tt.in}
			st.stripCookie(h)
			got := h["Cookie"]
			if len(got) != len(tt.want) {
				t.Fatalf("Cookie = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Cookie = %q, want %q", got, tt.want)
				}
			}
		})
	}
	pass := &stickiness{cfg: &config.Sticky{Cookie: "QUILL", PassCookie: true}}
	h := http.Header{"Cookie": {"QUILL=abc"}}
	pass.stripCookie(h)
	if h.Get("Cookie") != "QUILL=abc" {
		t.Errorf("pass_cookie: Cookie = %q", h.Get("Cookie"))
	}
}
