package main

import "testing"

// The sidecar's unit reloads with HUP, which `quill vrrp` takes as a
// reload of its instances.
func TestVRRPServiceUnit(t *testing.T) {
	_, exec := unitDirs(t, "../../configs/quill-vrrp.service")
	for key, want := range map[string]string{
		"ExecStart":  "/usr/local/bin/quill vrrp -c /etc/quill/quill.toml",
		"ExecReload": "/bin/kill -HUP $MAINPID",
	} {
		if exec[key] != want {
			t.Errorf("%s=%s, want %s", key, exec[key], want)
		}
	}
}
