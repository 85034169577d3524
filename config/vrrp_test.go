package config

import (
	"strings"
	"testing"
	"time"
)

// vrrpBase is a valid file with one VRRP instance; the cases below append
// keys to that instance or add another.
const vrrpBase = base + `
[[vrrp.instances]]
name = "www"
interface = "eth0"
vrid = 51
addresses = ["10.0.0.3/24"]
`

func TestVRRPDefaults(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(in VRRPInstance) bool
	}{
		{"version 3", "", func(in VRRPInstance) bool { return in.Version == 3 }},
		{"protocol vrrp", "", func(in VRRPInstance) bool { return in.Protocol == "vrrp" }},
		{"priority 100", "", func(in VRRPInstance) bool { return in.Priority == 100 }},
		{"advert 1s", "", func(in VRRPInstance) bool { return in.AdvertInterval.Duration == time.Second }},
		{"preempt", "", func(in VRRPInstance) bool { return *in.Preempt }},
		{"debounce 10 adverts", "", func(in VRRPInstance) bool { return in.Debounce.Duration == 10*time.Second }},
		{"debounce at least 1s", "advert_interval = \"50ms\"\n", func(in VRRPInstance) bool { return in.Debounce.Duration == time.Second }},
		{"debounce set", "debounce = \"3s\"\n", func(in VRRPInstance) bool { return in.Debounce.Duration == 3*time.Second }},
		{"track weight with a URL", "track_url = \"http://127.0.0.1:9090/healthz\"\n", func(in VRRPInstance) bool { return in.TrackWeight == 100 }},
		{"interface weight 0", "track_interfaces = [\"eth1\"]\n", func(in VRRPInstance) bool { return in.TrackInterfaceWeight == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("quill.toml", vrrpBase+tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			if in := c.VRRP.Instances[0]; !tt.check(in) {
				t.Fatalf("%+v", in)
			}
		})
	}
}

func TestVRRPErrors(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  string
	}{
		{"mixed families", "addresses = [\"10.0.0.3/24\", \"fd00::3/64\"]\n", `vrrp instance "x": addresses mix IPv4 and IPv6`},
		{"v2 ipv6", "version = 2\naddresses = [\"fd00::3/64\"]\n", `vrrp instance "x": IPv6 addresses need VRRPv3`},
		{"carp without password", "protocol = \"carp\"\naddresses = [\"10.0.0.4/24\"]\n", `vrrp instance "x": CARP needs a password`},
		{"carp long password", "protocol = \"carp\"\npassword = \"01234567890123456789\"\naddresses = [\"10.0.0.4/24\"]\n", `CARP needs a password of 1 to 19`},
		{"carp two addresses", "protocol = \"carp\"\npassword = \"pw\"\naddresses = [\"10.0.0.4/24\", \"10.0.0.5/24\"]\n", `CARP (as ucarp speaks it) carries exactly one address`},
		{"carp sub-second", "protocol = \"carp\"\npassword = \"pw\"\nadvert_interval = \"500ms\"\naddresses = [\"10.0.0.4/24\"]\n", `must be whole seconds`},
		{"v3 password", "password = \"pw\"\naddresses = [\"10.0.0.4/24\"]\n", `VRRPv3 has no authentication`},
		{"same vrid", "vrid = 51\naddresses = [\"10.0.0.4/24\"]\n", `vrid 51 on eth0 is already used by instance "www"`},
		{"bad interface weight", "track_interface_weight = 300\naddresses = [\"10.0.0.4/24\"]\n", `track_interface_weight must be 0..254`},
		{"bad debounce", "debounce = \"soon\"\naddresses = [\"10.0.0.4/24\"]\n", `debounce: "soon" is not a duration`},
		{"bad tracked interface", "track_interfaces = [\"a b\"]\naddresses = [\"10.0.0.4/24\"]\n", `"a b" is not an interface name`},
		{"unicast peer not an address", "addresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"lb2\"]\n", `quill.toml:20: vrrp instance "x": unicast peer "lb2" is not an IP address`},
		{"unicast peer a CIDR", "addresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"10.0.0.2/24\"]\n", `unicast peer "10.0.0.2/24" is not an IP address`},
		{"unicast peer of the wrong family", "addresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"fd00::2\"]\n", `quill.toml:20: vrrp instance "x": unicast peer fd00::2 is IPv6, and the virtual addresses are not`},
		{"unicast peer IPv4 for IPv6", "addresses = [\"fd00::4/64\"]\nunicast_peers = [\"10.0.0.2\"]\n", `unicast peer 10.0.0.2 is IPv4, and the virtual addresses are not`},
		{"unicast peer is a VIP", "addresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"10.0.0.4\"]\n", `unicast peer 10.0.0.4 is one of the instance's own virtual addresses`},
		{"unicast peer is the source", "addresses = [\"10.0.0.4/24\"]\nunicast_source = \"10.0.0.1\"\nunicast_peers = [\"10.0.0.2\", \"10.0.0.1\"]\n", `quill.toml:21: vrrp instance "x": unicast peer 10.0.0.1 is this router's own unicast_source`},
		{"unicast peer twice", "addresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"10.0.0.2\", \"10.0.0.2\"]\n", `unicast peer 10.0.0.2 appears twice`},
		{"unicast peer multicast", "addresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"224.0.0.18\"]\n", `unicast peer 224.0.0.18 is not a unicast address`},
		{"unicast peer loopback", "addresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"127.0.0.1\"]\n", `unicast peer 127.0.0.1 is not a unicast address`},
		{"unicast source without peers", "addresses = [\"10.0.0.4/24\"]\nunicast_source = \"10.0.0.1\"\n", `quill.toml:20: vrrp instance "x": unicast_source needs unicast_peers`},
		{"unicast source of the wrong family", "addresses = [\"10.0.0.4/24\"]\nunicast_source = \"fd00::1\"\nunicast_peers = [\"10.0.0.2\"]\n", `quill.toml:20: vrrp instance "x": unicast_source fd00::1 is IPv6`},
		{"unicast source is a VIP", "addresses = [\"10.0.0.4/24\"]\nunicast_source = \"10.0.0.4\"\nunicast_peers = [\"10.0.0.2\"]\n", `unicast_source 10.0.0.4 is one of the instance's own virtual addresses`},
		{"unicast carp", "protocol = \"carp\"\npassword = \"pw\"\naddresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"10.0.0.2\"]\n", `CARP (as ucarp speaks it) has no unicast mode`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := vrrpBase + "\n[[vrrp.instances]]\nname = \"x\"\ninterface = \"eth0\"\n"
			if !strings.Contains(tt.extra, "vrid") {
				src += "vrid = 52\n"
			}
			_, err := Parse("quill.toml", src+tt.extra)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	// Same VRID on another family or interface is fine; so are unicast
	// peers of the instance's family, with or without a source.
	for _, extra := range []string{
		"vrid = 51\naddresses = [\"fd00::3/64\"]\n",
		"vrid = 51\ninterface = \"eth1\"\naddresses = [\"10.0.0.4/24\"]\n",
		"vrid = 52\naddresses = [\"10.0.0.4/24\"]\nunicast_peers = [\"10.0.0.2\", \"192.168.7.2\"]\n",
		"vrid = 52\naddresses = [\"10.0.0.4/24\"]\nunicast_source = \"10.0.0.1\"\nunicast_peers = [\"10.0.0.2\"]\n",
		"vrid = 52\naddresses = [\"fd00::4/64\"]\nunicast_source = \"fd00::1\"\nunicast_peers = [\"fd00::2\", \"fe80::2\"]\n",
	} {
		src := vrrpBase + "\n[[vrrp.instances]]\nname = \"x\"\n"
		if !strings.Contains(extra, "interface") {
			src += "interface = \"eth0\"\n"
		}
		if _, err := Parse("quill.toml", src+extra); err != nil {
			t.Errorf("%q: %v", extra, err)
		}
	}
}
