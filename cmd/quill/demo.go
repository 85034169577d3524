package main

import (
	_ "embed"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"quill/config"
	"quill/tlsterm"
)

//go:embed demo.toml
var demoConfig string

// demoCmd runs the embedded example: two demo web servers inside the
// process, quill in front of them on 127.0.0.1:8080 (HTTP) and :8443
// (HTTPS, a self-signed certificate made now).
func demoCmd(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	printConfig := fs.Bool("print", false, "print the demo config and exit")
	if err := parseFlags(fs, "demo", args); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "quill-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certPEM, keyPEM, fingerprint, err := tlsterm.SelfSigned([]string{"localhost", "127.0.0.1"})
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(dir, "demo.pem"), filepath.Join(dir, "demo.key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	web1, err := demoBackend("web1")
	if err != nil {
		return err
	}
	web2, err := demoBackend("web2")
	if err != nil {
		return err
	}
	src := strings.NewReplacer("{{CERT}}", certFile, "{{KEY}}", keyFile, "{{WEB1}}", web1, "{{WEB2}}", web2).Replace(demoConfig)
	if *printConfig {
		fmt.Print(src)
		return nil
	}
	path := filepath.Join(dir, "quill.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	return serve(cfg, func() (*config.Config, error) { return config.Load(path) }, func() {
		fmt.Fprintf(os.Stderr, `
quill demo is running: web1 on %s and web2 on %s behind
  http://127.0.0.1:8080   and   https://127.0.0.1:8443 (self-signed, SHA-256 %s)
Try:
  curl -i http://127.0.0.1:8080/                       # a new client: balanced, gets a QUILL cookie
  curl -c /tmp/jar -b /tmp/jar http://127.0.0.1:8080/  # again and again: the cookie keeps you on one server
  curl -k -b /tmp/jar https://127.0.0.1:8443/          # the same server over HTTPS
  curl -k --http2 -sI https://127.0.0.1:8443/          # HTTP/2
  curl http://127.0.0.1:9090/status                    # status page (also /healthz, /api/servers)
Access log lines follow on stdout; Ctrl-C stops.

`, web1, web2, fingerprint)
	}, nil)
}

// demoBackend starts a web server that answers with its name and what it
// was told about the client.
func demoBackend(name string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from %s\nclient: %s\nproto: %s\nhost: %s\npath: %s\n", name,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Host, r.URL.Path)
	}))
	return ln.Addr().String(), nil
}
