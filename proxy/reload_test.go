package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/http2"

	"quill/config"
)

// reloadFixture is a proxy with a plain VIP, a TLS VIP, an admin listener
// and an access log, and the parts of the configs a test moves it to.
type reloadFixture struct {
	dir                  string
	web1, web2           *testBackend
	certA, certB         testCert
	plain, secure, admin string
	log                  string
}

// gen is what differs between the configs of the reload tests.
type gen struct {
	cert   testCert
	weight int    // of web1
	admin  string // the admin address
	log    string // the global access log
	// tls2 is the listen address of an extra TLS VIP with a log of its
	// own, or "".
	tls2 string
}

func newReloadFixture(t *testing.T) *reloadFixture {
	dir := t.TempDir()
	return &reloadFixture{
		dir:  dir,
		web1: newTestBackend(t, "web1"), web2: newTestBackend(t, "web2"),
		certA: newTestCert(t, dir, "a"), certB: newTestCert(t, dir, "b"),
		plain: freeAddr(t), secure: freeAddr(t), admin: freeAddr(t),
		log: filepath.Join(dir, "access.log"),
	}
}

func (f *reloadFixture) config(g gen) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nshutdown_timeout = \"2s\"\n[admin]\nlisten = %q\n", g.admin)
	fmt.Fprintf(&b, "[access_log]\npath = %q\nwindow = \"10ms\"\n", g.log)
	fmt.Fprintf(&b, "[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n", f.plain)
	fmt.Fprintf(&b, "[vips.secure]\nlisten = [%q]\n  [vips.secure.tls]\n  certificates = [{ cert = %q, key = %q }]\n  [[vips.secure.routes]]\n  pool = \"app\"\n",
		f.secure, g.cert.cert, g.cert.key)
	if g.tls2 != "" {
		fmt.Fprintf(&b, "[vips.tls2]\nlisten = [%q]\n  [vips.tls2.tls]\n  certificates = [{ cert = %q, key = %q }]\n  [vips.tls2.access_log]\n  path = %q\n  [[vips.tls2.routes]]\n  pool = \"app\"\n",
			g.tls2, f.certB.cert, f.certB.key, filepath.Join(f.dir, "tls2.log"))
	}
	fmt.Fprintf(&b, "[pools.app]\nbalance = \"weighted\"\nservers = [{ address = %q, name = \"web1\", weight = %d }, { address = %q, name = \"web2\" }]\n",
		f.web1.addr(), g.weight, f.web2.addr())
	return b.String()
}

// running is what a refused reload must leave as it was.
type running struct {
	cfg    *config.Config
	leaf   []byte
	weight int
}

func (f *reloadFixture) observe(t *testing.T, tp *testProxy, admin string) running {
	t.Helper()
	return running{cfg: tp.Config(), leaf: servedLeaf(t, f.secure), weight: apiServers(t, admin)["web1"].Weight}
}

// TestRefusedReloadChangesNothing refuses a reload for each reason a
// reload can fail, each time in a file that also changes a certificate, a
// weight, the admin address and the access log, and adds a TLS VIP with a
// log of its own, so that the attempt has prepared or opened all of those
// when it fails. Afterwards the proxy must serve exactly as before and
// hold no more goroutines or descriptors than before.
func TestRefusedReloadChangesNothing(t *testing.T) {
	f := newReloadFixture(t)
	first := gen{cert: f.certA, weight: 1, admin: f.admin, log: f.log}
	tp := startProxy(t, f.config(first))
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAddr := taken.Addr().String()

	tests := []struct {
		name    string
		edit    func(c *config.Config)
		wantErr string
	}{
		{"a VIP address is taken", func(c *config.Config) {
			c.VIPs["tls2"].Listen = append(c.VIPs["tls2"].Listen, takenAddr)
		}, "address already in use"},
		{"the admin address is taken", func(c *config.Config) { c.Admin.Listen = takenAddr }, "address already in use"},
		{"the admin address is a VIP's", func(c *config.Config) { c.Admin.Listen = f.plain }, `vip "web"`},
		{"a key does not match its certificate", func(c *config.Config) {
			c.VIPs["tls2"].TLS.Certificates[0].Key = f.certA.key
		}, "does not match"},
		{"a key file is missing", func(c *config.Config) {
			c.VIPs["tls2"].TLS.Certificates[0].Key = filepath.Join(f.dir, "missing.key")
		}, "missing.key"},
		{"an access log directory is missing", func(c *config.Config) {
			c.VIPs["tls2"].AccessLog.Path = filepath.Join(f.dir, "missing", "tls2.log")
		}, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.observe(t, tp, f.admin)
			newAdmin, tls2 := freeAddr(t), freeAddr(t)
			refused := gen{cert: f.certB, weight: 9, admin: newAdmin, log: filepath.Join(f.dir, "new.log"), tls2: tls2}
			goroutines, fds := settled(t)

			err := tp.reload(t, f.config(refused), tt.edit)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("reload error %v, want one mentioning %q", err, tt.wantErr)
			}
			backTo(t, goroutines, fds)

			after := f.observe(t, tp, f.admin)
			if after.cfg != before.cfg {
				t.Error("the config in force changed")
			}
			if !sameLeaf(after.leaf, f.certA.leaf) {
				t.Error("the TLS VIP serves another certificate")
			}
			if after.weight != 1 {
				t.Errorf("web1 has weight %d, want 1", after.weight)
			}
			for _, addr := range []string{newAdmin, tls2} {
				if bound(t, addr) {
					t.Errorf("%s of the refused file is still bound", addr)
				}
			}
			lines := countLines(f.log)
			if code, body := getBody(t, "http://"+f.plain+"/"); code != http.StatusOK || !strings.HasPrefix(body, "web") {
				t.Errorf("plain VIP answers %d %q", code, body)
			}
			waitFor(t, 5*time.Second, "the request is in the running access log", func() bool { return countLines(f.log) > lines })
		})
	}

	t.Run("the same changes without the fault apply", func(t *testing.T) {
		newAdmin, tls2 := freeAddr(t), freeAddr(t)
		newLog := filepath.Join(f.dir, "new.log")
		if err := tp.reload(t, f.config(gen{cert: f.certB, weight: 9, admin: newAdmin, log: newLog, tls2: tls2}), nil); err != nil {
			t.Fatal(err)
		}
		now := f.observe(t, tp, newAdmin)
		if !sameLeaf(now.leaf, f.certB.leaf) || !sameLeaf(servedLeaf(t, tls2), f.certB.leaf) {
			t.Error("the new certificate is not served")
		}
		if now.weight != 9 {
			t.Errorf("web1 has weight %d, want 9", now.weight)
		}
		waitFor(t, 5*time.Second, "the old admin address is closed", func() bool { return !bound(t, f.admin) })
		getBody(t, "http://"+f.plain+"/")
		waitFor(t, 5*time.Second, "the request is in the new access log", func() bool { return countLines(newLog) > 0 })
	})
}

// TestReloadMovesAdminListener changes [admin] listen and reloads through
// the admin API itself: the answer comes back on the old address, and
// from then on the new one serves the API, reloads included.
func TestReloadMovesAdminListener(t *testing.T) {
	f := newReloadFixture(t)
	tp := startProxy(t, f.config(gen{cert: f.certA, weight: 1, admin: f.admin, log: f.log}))
	steps := []struct {
		name   string
		from   string
		to     string
		weight int
	}{
		{"to a new address", f.admin, freeAddr(t), 2},
		{"and on again", "", freeAddr(t), 3},
	}
	for i := range steps {
		s := &steps[i]
		if s.from == "" {
			s.from = steps[i-1].to
		}
		t.Run(s.name, func(t *testing.T) {
			writeTestFile(t, tp.path, []byte(f.config(gen{cert: f.certA, weight: s.weight, admin: s.to, log: f.log})))
			resp, err := client.Post("http://"+s.from+"/api/reload", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			var res struct{ Applied bool }
			err = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if err != nil || !res.Applied {
				t.Fatalf("reload through the old address: %s %v %+v", resp.Status, err, res)
			}
			if w := apiServers(t, s.to)["web1"].Weight; w != s.weight {
				t.Errorf("the new admin address shows weight %d, want %d", w, s.weight)
			}
			waitFor(t, 5*time.Second, "the old admin address is closed", func() bool { return !bound(t, s.from) })
		})
	}
}

// TestAdminOnVIPAddressRefusedAtStart: the admin listener may not share a
// VIP's address, even through a wildcard.
func TestAdminOnVIPAddressRefusedAtStart(t *testing.T) {
	vip := freeAddr(t)
	_, port, _ := net.SplitHostPort(vip)
	tests := []struct {
		name, admin string
	}{
		{"same address", vip},
		{"wildcard on the VIP's port", "0.0.0.0:" + port},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// config refuses the file itself; the edit makes the address
			// reach the proxy, which must refuse it too.
			src := fmt.Sprintf("[admin]\nlisten = %q\n[vips.web]\nlisten = [%q]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = \"127.0.0.1:1\" }]\n", "127.0.0.1:1", vip)
			cfg := parseConfig(t, "quill.toml", src, func(c *config.Config) { c.Admin.Listen = tt.admin })
			p, err := New(cfg, zap.NewNop())
			if err == nil {
				p.Shutdown(t.Context())
				t.Fatal("started with the admin listener on a VIP's address")
			}
			if !strings.Contains(err.Error(), `vip "web"`) {
				t.Errorf("error %q does not name the VIP", err)
			}
			if bound(t, vip) {
				t.Error("the VIP address stayed bound after the refused start")
			}
		})
	}
}

// TestRuntimeAPIChangesAcrossReload: a state set through the API survives
// reloads; a weight set through the API survives them until the file
// changes that server's weight.
func TestRuntimeAPIChangesAcrossReload(t *testing.T) {
	f := newReloadFixture(t)
	file := func(w int) string { return f.config(gen{cert: f.certA, weight: w, admin: f.admin, log: f.log}) }
	tp := startProxy(t, file(1))
	resp, err := client.Post("http://"+f.admin+"/api/servers/app/web1?state=drain&weight=7", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setting web1: %s", resp.Status)
	}
	steps := []struct {
		name       string
		fileWeight int
		wantWeight int
	}{
		{"file weight unchanged: the API's stays", 1, 7},
		{"file weight changed: the file's wins", 4, 4},
		{"file weight back: the API's is gone", 1, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := tp.reload(t, file(s.fileWeight), nil); err != nil {
				t.Fatal(err)
			}
			got := apiServers(t, f.admin)["web1"]
			if got.Weight != s.wantWeight || got.State != "drain" {
				t.Errorf("web1 is %s with weight %d, want drain with %d", got.State, got.Weight, s.wantWeight)
			}
		})
	}
}

// TestReloadAppliesEngineSettingsToKeptAddress: a reload that keeps a
// listening address applies its HTTP/1 limits and timeouts there, to
// connections already open as to new ones.
func TestReloadAppliesEngineSettingsToKeptAddress(t *testing.T) {
	backend := newTestBackend(t, "web1")
	addr, tlsAddr := freeAddr(t), freeAddr(t)
	cert := newTestCert(t, t.TempDir(), "a")
	file := func(maxFields int, headTimeout string, maxHeaderBytes int) string {
		return fmt.Sprintf(`[global]
max_header_count = %d
read_header_timeout = %q
max_header_bytes = %d

[vips.web]
listen = [%q]
  [[vips.web.routes]]
  pool = "app"

[vips.secure]
listen = [%q]
  [vips.secure.tls]
  certificates = [{ cert = %q, key = %q }]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ address = %q }]
`, maxFields, headTimeout, maxHeaderBytes, addr, tlsAddr, cert.cert, cert.key, backend.addr())
	}
	tp := startProxy(t, file(100, "10s", 16384))
	if got := h2HeaderListSize(t, tlsAddr); got != 16384+320 {
		t.Fatalf("HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE %d before the reload, want %d", got, 16384+320)
	}

	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	br := bufio.NewReader(open)
	fields := strings.Repeat("X-A: b\r\n", 20)
	ask := func(c net.Conn, r *bufio.Reader) int {
		t.Helper()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", fields)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := ask(open, br); got != http.StatusOK {
		t.Fatalf("21 fields under max_header_count 100: %d", got)
	}

	if err := tp.reload(t, file(10, "1s", 8192), nil); err != nil {
		t.Fatal(err)
	}
	if got := h2HeaderListSize(t, tlsAddr); got != 8192+320 {
		t.Errorf("HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE %d after max_header_bytes = 8192, want %d", got, 8192+320)
	}
	if got := ask(open, br); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("21 fields on the open connection after max_header_count = 10: %d, want 431", got)
	}
	fresh, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if got := ask(fresh, bufio.NewReader(fresh)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("21 fields on a new connection after max_header_count = 10: %d, want 431", got)
	}

	// A head left unfinished is cut off by the new read_header_timeout.
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET / HTTP/1.1\r\nHost: a\r\n")
	slow.SetReadDeadline(time.Now().Add(8 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatalf("unfinished head: %v (no 408 within 8s of read_header_timeout = 1s)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("unfinished head: %d, want 408", resp.StatusCode)
	}
}

// h2HeaderListSize is the SETTINGS_MAX_HEADER_LIST_SIZE a new HTTP/2
// connection to addr announces (max_header_bytes and net/http's allowance).
func h2HeaderListSize(t *testing.T, addr string) uint32 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no SETTINGS from %s: %v", addr, err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			v, _ := sf.Value(http2.SettingMaxHeaderListSize)
			return v
		}
	}
}
