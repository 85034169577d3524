package proxy

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"quill/config"
)

func TestCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "all good")
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/host":
			fmt.Fprint(w, r.Host)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	sum := md5.Sum([]byte("all good"))
	digest := hex.EncodeToString(sum[:])

	tests := []struct {
		name   string
		addr   string
		health string
		ok     bool
		why    string
	}{
		{"200", addr, `path = "/ok"`, true, ""},
		{"404 is down", addr, `path = "/missing"`, false, "status 404, want 200"},
		{"redirect not followed", addr, `path = "/redirect"`, false, "status 302"},
		{"class", addr, "path = \"/redirect\"\nexpect_status = \"3xx\"", true, ""},
		{"range", addr, "path = \"/missing\"\nexpect_status = \"200-499\"", true, ""},
		{"body substring", addr, "path = \"/ok\"\nexpect_body = \"good\"", true, ""},
		{"body substring missing", addr, "path = \"/ok\"\nexpect_body = \"bad\"", false, `body lacks "bad"`},
		{"md5 digest", addr, "path = \"/ok\"\nexpect_md5 = \"" + digest + "\"", true, ""},
		{"md5 digest differs", addr, "path = \"/ok\"\nexpect_md5 = \"" + strings.Repeat("0", 32) + "\"", false, "body digest"},
		{"host header", addr, "path = \"/host\"\nhost = \"www.example.com\"\nexpect_body = \"www.example.com\"", true, ""},
		{"connection refused", closedAddr, `path = "/ok"`, false, "refused"},
		{"tcp up", addr, `type = "tcp"`, true, ""},
		{"tcp down", closedAddr, `type = "tcp"`, false, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("quill.toml", fmt.Sprintf("[vips.w]\nlisten = [\"127.0.0.1:1\"]\n  [[vips.w.routes]]\n  pool = \"p\"\n[pools.p]\nservers = [{ address = %q }]\n[pools.p.health]\n%s\n", tt.addr, tt.health))
			if err != nil {
				t.Fatal(err)
			}
			h := cfg.Pools["p"].Health
			client := &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			ok, why := check(context.Background(), client, tt.addr, h)
			if ok != tt.ok || !strings.Contains(why, tt.why) {
				t.Errorf("check = %v %q, want %v %q", ok, why, tt.ok, tt.why)
			}
		})
	}
}
