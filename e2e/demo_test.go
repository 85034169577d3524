package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the README's first command: `quill demo` on its fixed
// addresses, and the curl commands it prints.
func TestDemo(t *testing.T) {
	q := start(t, nil, quillBin, "demo")
	for _, a := range []string{"127.0.0.1:8080", "127.0.0.1:8443", "127.0.0.1:9090"} {
		waitListening(t, a, q)
	}
	jar := filepath.Join(t.TempDir(), "jar")
	first := mustCurl(t, "-c", jar, "-b", jar, "http://127.0.0.1:8080/")
	if !strings.HasPrefix(first, "hello from web") {
		t.Fatalf("demo answered %q", first)
	}
	server := strings.SplitN(first, "\n", 2)[0]
	for i := 0; i < 5; i++ {
		if got := mustCurl(t, "-c", jar, "-b", jar, "http://127.0.0.1:8080/"); !strings.HasPrefix(got, server+"\n") {
			t.Errorf("sticky client moved: %q, want %s", got, server)
		}
	}
	https := mustCurl(t, "-k", "-b", jar, "https://127.0.0.1:8443/")
	if !strings.HasPrefix(https, server+"\n") || !strings.Contains(https, "proto: https") {
		t.Errorf("over HTTPS: %q, want %s with proto https", https, server)
	}
	if v := mustCurl(t, "-k", "--http2", "-o", "/dev/null", "-w", "%{http_version}", "https://127.0.0.1:8443/"); v != "2" {
		t.Errorf("HTTP version %s, want 2", v)
	}
	if got := mustCurl(t, "http://127.0.0.1:9090/healthz"); got != "ok\n" {
		t.Errorf("healthz %q", got)
	}
	if !strings.Contains(q.out.String(), "curl") {
		t.Error("demo printed no curl commands to try")
	}
	eventually(t, 5*time.Second, func() bool { return strings.Count(q.out.String(), "\"GET / HTTP/") >= 7 })
}
