package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestNewInheriting gives a new proxy the sockets an old process listens
// on: the addresses its config keeps serve on the same kernel sockets
// (the old process's listeners are closed and the addresses still
// answer), one it dropped is closed, one it added is bound; and
// ListenerFiles hands on the sockets in use, the admin listener's too.
func TestNewInheriting(t *testing.T) {
	web := newTestBackend(t, "web1")
	kept, dropped, added, admin := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	old := map[string]*net.TCPListener{}
	inherited := Inherited{}
	for _, addr := range []string{kept, dropped, admin} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		old[addr] = ln.(*net.TCPListener)
		dup, err := dupListener(ln.(*net.TCPListener))
		if err != nil {
			t.Fatal(err)
		}
		inherited[addr] = dup
	}
	src := fmt.Sprintf("[admin]\nlisten = %q\n[vips.web]\nlisten = [%q, %q]\n  [[vips.web.routes]]\n  pool = \"app\"\n[pools.app]\nservers = [{ address = %q }]\n",
		admin, kept, added, web.addr())
	p, err := NewInheriting(parseConfig(t, filepath.Join(t.TempDir(), "quill.toml"), src, nil), zap.NewNop(), inherited)
	if err != nil {
		t.Fatal(err)
	}
	p.Serve()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	}()

	// The old process stops: what answers now is the new one.
	for _, ln := range old {
		ln.Close()
	}
	for _, addr := range []string{kept, added} {
		if code, body := getBody(t, "http://"+addr+"/"); code != http.StatusOK || body != "web1\n" {
			t.Errorf("%s: %d %q, want web1's answer", addr, code, body)
		}
	}
	if code, _ := getBody(t, "http://"+admin+"/healthz"); code != http.StatusOK {
		t.Errorf("admin %s: %d", admin, code)
	}
	if bound(t, dropped) {
		t.Errorf("%s, inherited but not in the config, is still bound", dropped)
	}

	files, err := p.ListenerFiles()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, lf := range files {
		got = append(got, lf.Addr)
		ln, err := net.FileListener(lf.File)
		lf.File.Close()
		if err != nil {
			t.Fatalf("%s: %v", lf.Addr, err)
		}
		if ln.Addr().String() != lf.Addr {
			t.Errorf("the file of %s is a socket bound to %s", lf.Addr, ln.Addr())
		}
		ln.Close()
	}
	want := []string{admin, kept, added}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ListenerFiles hands on %v, want %v", got, want)
	}
}
