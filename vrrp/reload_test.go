package vrrp

import (
	"reflect"
	"testing"

	"quill/config"
)

func TestPlanReload(t *testing.T) {
	yes, no := true, false
	www := config.VRRPInstance{Name: "www", Interface: "eth0", VRID: 51, Priority: 150, Addresses: []string{"10.0.0.3/24"}, Preempt: &yes, Listen: "127.0.0.1:9091"}
	api := config.VRRPInstance{Name: "api", Interface: "eth0", VRID: 52, Priority: 100, Addresses: []string{"10.0.0.4/24"}, Preempt: &yes}
	with := func(in config.VRRPInstance, f func(*config.VRRPInstance)) config.VRRPInstance {
		in.Addresses = append([]string(nil), in.Addresses...)
		f(&in)
		return in
	}
	tests := []struct {
		name          string
		running, next []config.VRRPInstance
		want          Changes
	}{
		{"same file", []config.VRRPInstance{www, api}, []config.VRRPInstance{www, api}, Changes{Unchanged: []string{"www", "api"}}},
		{"reordered", []config.VRRPInstance{www, api}, []config.VRRPInstance{api, www}, Changes{Unchanged: []string{"api", "www"}}},
		{"listen moved only", []config.VRRPInstance{www}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { in.Listen = "127.0.0.1:9092" })},
			Changes{Unchanged: []string{"www"}}},
		{"empty list equals none", []config.VRRPInstance{www}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { in.UnicastPeers = []string{} })},
			Changes{Unchanged: []string{"www"}}},
		{"same preempt, another pointer", []config.VRRPInstance{www}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { t := true; in.Preempt = &t })},
			Changes{Unchanged: []string{"www"}}},
		{"priority", []config.VRRPInstance{www, api}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { in.Priority = 200 }), api},
			Changes{Unchanged: []string{"api"}, Changed: []string{"www"}}},
		{"preempt", []config.VRRPInstance{www}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { in.Preempt = &no })},
			Changes{Changed: []string{"www"}}},
		{"an address", []config.VRRPInstance{www}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { in.Addresses[0] = "10.0.0.5/24" })},
			Changes{Changed: []string{"www"}}},
		{"unicast peers", []config.VRRPInstance{www}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { in.UnicastPeers = []string{"10.0.0.2"} })},
			Changes{Changed: []string{"www"}}},
		{"unicast source", []config.VRRPInstance{www}, []config.VRRPInstance{with(www, func(in *config.VRRPInstance) { in.UnicastSource = "10.0.0.1" })},
			Changes{Changed: []string{"www"}}},
		{"removed", []config.VRRPInstance{www, api}, []config.VRRPInstance{www}, Changes{Unchanged: []string{"www"}, Removed: []string{"api"}}},
		{"added", []config.VRRPInstance{www}, []config.VRRPInstance{www, api}, Changes{Unchanged: []string{"www"}, Added: []string{"api"}}},
		{"renamed", []config.VRRPInstance{api}, []config.VRRPInstance{with(api, func(in *config.VRRPInstance) { in.Name = "api2" })},
			Changes{Removed: []string{"api"}, Added: []string{"api2"}}},
		{"all four", []config.VRRPInstance{www, api, with(api, func(in *config.VRRPInstance) { in.Name = "old" })},
			[]config.VRRPInstance{www, with(api, func(in *config.VRRPInstance) { in.VRID = 53 }), with(api, func(in *config.VRRPInstance) { in.Name = "new" })},
			Changes{Unchanged: []string{"www"}, Changed: []string{"api"}, Removed: []string{"old"}, Added: []string{"new"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planReload(tt.running, tt.next); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
