package tlsterm

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// serveMode is how the proxy may hand a Terminator to http.Server.
type serveMode int

const (
	viaListener  serveMode = iota // srv.Serve(t.Listener(ln)), TLSConfig set
	viaNilConfig                  // srv.Serve(t.Listener(ln)), TLSConfig nil
	viaServeTLS                   // srv.ServeTLS(ln, "", "")
)

func (m serveMode) String() string {
	return [...]string{"Listener", "Listener without TLSConfig", "ServeTLS"}[m]
}

// serve runs a real HTTPS server for term on loopback until the test ends.
// Its handler answers with the request's protocol and server name.
func serve(t testing.TB, term *Terminator, mode serveMode) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.ServerName)
		}),
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 5 * time.Second,
	}
	if mode != viaNilConfig {
		srv.TLSConfig = term.TLSConfig()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if mode == viaServeTLS {
			srv.ServeTLS(ln, "", "")
		} else {
			srv.Serve(term.Listener(ln))
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// handshake dials addr, completes a handshake and closes the connection.
func handshake(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState(), nil
}

// get does one HTTP/1.1 request on an open TLS connection.
func get(t testing.TB, c *tls.Conn, host string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestVersions(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	tests := []struct {
		name        string
		serverMin   uint16
		clientMin   uint16
		clientMax   uint16
		wantVersion uint16 // zero means the handshake must fail
	}{
		{name: "TLS 1.2 client", serverMin: tls.VersionTLS12, clientMax: tls.VersionTLS12, wantVersion: tls.VersionTLS12},
		{name: "TLS 1.3 client", serverMin: tls.VersionTLS12, clientMin: tls.VersionTLS13, wantVersion: tls.VersionTLS13},
		{name: "TLS 1.1 client refused", serverMin: tls.VersionTLS12, clientMin: tls.VersionTLS10, clientMax: tls.VersionTLS11},
		{name: "TLS 1.2 client refused by a 1.3 VIP", serverMin: tls.VersionTLS13, clientMax: tls.VersionTLS12},
		{name: "TLS 1.3 client on a 1.3 VIP", serverMin: tls.VersionTLS13, wantVersion: tls.VersionTLS13},
	}
	for _, mode := range []serveMode{viaListener, viaServeTLS} {
		for _, tt := range tests {
			t.Run(mode.String()+"/"+tt.name, func(t *testing.T) {
				term := newTerminator(t, Options{Certificates: []CertFile{pair}, MinVersion: tt.serverMin})
				addr := serve(t, term, mode)
				cfg := clientConfig("quill.test")
				cfg.MinVersion, cfg.MaxVersion = tt.clientMin, tt.clientMax
				st, err := handshake(addr, cfg)
				if tt.wantVersion == 0 {
					if err == nil {
						t.Fatalf("handshake succeeded with %s", tls.VersionName(st.Version))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if st.Version != tt.wantVersion {
					t.Errorf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(tt.wantVersion))
				}
			})
		}
	}
}

func TestHTTP2(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	tests := []struct {
		name      string
		mode      serveMode
		clientH2  bool
		wantProto string
	}{
		{name: "h2 through Listener", mode: viaListener, clientH2: true, wantProto: "HTTP/2.0"},
		{name: "h2 through Listener without server TLSConfig", mode: viaNilConfig, clientH2: true, wantProto: "HTTP/2.0"},
		{name: "h2 through ServeTLS", mode: viaServeTLS, clientH2: true, wantProto: "HTTP/2.0"},
		{name: "HTTP/1.1 client through Listener", mode: viaListener, wantProto: "HTTP/1.1"},
		{name: "HTTP/1.1 client through ServeTLS", mode: viaServeTLS, wantProto: "HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := newTerminator(t, Options{Certificates: []CertFile{pair}})
			addr := serve(t, term, tt.mode)
			tr := &http.Transport{TLSClientConfig: clientConfig("quill.test"), ForceAttemptHTTP2: tt.clientH2}
			if !tt.clientH2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			resp, err := client.Get("https://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.Proto != tt.wantProto {
				t.Errorf("response %s, want %s", resp.Proto, tt.wantProto)
			}
			if want := tt.wantProto + " quill.test"; string(body) != want {
				t.Errorf("server saw %q, want %q", body, want)
			}
		})
	}
}

func TestHandshakeCounting(t *testing.T) {
	dir := t.TempDir()
	pair := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	type outcome struct {
		version uint16
		failed  bool
	}
	var (
		mu   sync.Mutex
		seen []outcome
	)
	term := newTerminator(t, Options{
		Certificates: []CertFile{pair},
		OnHandshake: func(v uint16, err error) {
			mu.Lock()
			seen = append(seen, outcome{v, err != nil})
			mu.Unlock()
		},
	})
	addr := serve(t, term, viaListener)

	clients := []struct {
		name    string
		min     uint16
		max     uint16
		wantErr bool
	}{
		{name: "TLS 1.2", max: tls.VersionTLS12},
		{name: "TLS 1.3", min: tls.VersionTLS13},
		{name: "TLS 1.1", min: tls.VersionTLS10, max: tls.VersionTLS11, wantErr: true},
	}
	for _, c := range clients {
		cfg := clientConfig("quill.test")
		cfg.MinVersion, cfg.MaxVersion = c.min, c.max
		if _, err := handshake(addr, cfg); (err != nil) != c.wantErr {
			t.Fatalf("%s: handshake error %v, want error %v", c.name, err, c.wantErr)
		}
	}
	// A TCP health check: connect and leave without a ClientHello.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()

	want := map[string]uint64{"1.2/ok": 1, "1.3/ok": 1, "error": 2}
	eventually(t, 5*time.Second, "handshakes counted", func() bool {
		return fmt.Sprint(term.Handshakes()) == fmt.Sprint(want)
	})
	mu.Lock()
	defer mu.Unlock()
	var ok12, ok13, failed int
	for _, o := range seen {
		switch {
		case o.failed:
			failed++
		case o.version == tls.VersionTLS12:
			ok12++
		case o.version == tls.VersionTLS13:
			ok13++
		}
	}
	if ok12 != 1 || ok13 != 1 || failed != 2 {
		t.Errorf("OnHandshake saw %+v, want one 1.2, one 1.3 and two failures", seen)
	}
}
