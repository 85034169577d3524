package main

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHandoverEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		want    []handedSocket
		wantErr string
	}{
		{name: "none", env: ""},
		{name: "one", env: "3=127.0.0.1:80", want: []handedSocket{{3, "127.0.0.1:80"}}},
		{name: "HTTP, HTTPS, IPv6, wildcard and admin", env: "3=127.0.0.1:80,4=127.0.0.1:443,5=[::1]:8443,6=:8080,7=127.0.0.1:9090",
			want: []handedSocket{{3, "127.0.0.1:80"}, {4, "127.0.0.1:443"}, {5, "[::1]:8443"}, {6, ":8080"}, {7, "127.0.0.1:9090"}}},
		{name: "duplicate descriptor", env: "3=127.0.0.1:80,3=127.0.0.1:443", wantErr: "descriptor 3 named twice"},
		{name: "duplicate address", env: "3=127.0.0.1:80,4=127.0.0.1:80", wantErr: "address 127.0.0.1:80 named twice"},
		{name: "a standard stream", env: "2=127.0.0.1:80", wantErr: "not a number from 3 up"},
		{name: "negative descriptor", env: "-4=127.0.0.1:80", wantErr: "not a number from 3 up"},
		{name: "no descriptor", env: "127.0.0.1:80", wantErr: "is not FD=ADDRESS"},
		{name: "no address", env: "3=", wantErr: "is not FD=ADDRESS"},
		{name: "not an address", env: "3=localhost", wantErr: "missing port"},
		{name: "empty entry", env: "3=127.0.0.1:80,", wantErr: "is not FD=ADDRESS"},
		{name: "unknown entry", env: "3=127.0.0.1:80,ready=5", wantErr: `descriptor "ready"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeHandover(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decode %q: error %v, want one with %q", tt.env, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode %q: %v", tt.env, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decode %q = %v, want %v", tt.env, got, tt.want)
			}
			if back := encodeHandover(got); back != tt.env {
				t.Errorf("encode(decode(%q)) = %q", tt.env, back)
			}
		})
	}
}

// TestInheritListeners hands real descriptors over by number and checks
// that what is inherited accepts on the same kernel socket, and that a
// descriptor that is not a listening TCP socket of its address is refused.
func TestInheritListeners(t *testing.T) {
	listen := func(t *testing.T) (*net.TCPListener, int) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln.(*net.TCPListener), dupFD(t, ln.(*net.TCPListener))
	}
	t.Run("sockets accept where they were handed", func(t *testing.T) {
		a, fdA := listen(t)
		b, fdB := listen(t)
		env := encodeHandover([]handedSocket{{fdA, "127.0.0.1:" + port(a)}, {fdB, b.Addr().String()}})
		got, err := inheritListeners(env)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("inherited %v", got)
		}
		for addr, ln := range got {
			// The old listener stops: the inherited one alone accepts
			// what comes to the address.
			if addr == a.Addr().String() {
				a.Close()
			} else {
				b.Close()
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			ln.SetDeadline(time.Now().Add(5 * time.Second))
			s, err := ln.Accept()
			if err != nil {
				t.Fatalf("accept on the inherited %s: %v", addr, err)
			}
			s.Close()
			c.Close()
			ln.Close()
		}
		if _, err := os.Stat("/proc/self/fd/" + strconv.Itoa(fdA)); err == nil {
			t.Errorf("descriptor %d still open after the hand-over", fdA)
		}
	})

	pipe := func(t *testing.T) (int, string) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		fd, err := syscall.Dup(int(r.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return fd, "127.0.0.1:80"
	}
	connected := func(t *testing.T) (int, string) {
		ln, _ := listen(t)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return fd, c.LocalAddr().String()
	}
	otherPort := func(t *testing.T) (int, string) {
		_, fd := listen(t)
		return fd, "127.0.0.1:1"
	}
	otherIP := func(t *testing.T) (int, string) {
		ln, fd := listen(t)
		return fd, "127.0.0.2:" + port(ln)
	}
	wildcard := func(t *testing.T) (int, string) {
		ln, fd := listen(t)
		return fd, ":" + port(ln)
	}
	refused := []struct {
		name    string
		handed  func(t *testing.T) (int, string)
		wantErr string
	}{
		{"a pipe", pipe, "socket operation on non-socket"},
		{"a connected socket", connected, "not a listening socket"},
		{"another port", otherPort, "not to port 1"},
		{"another IP", otherIP, "not to 127.0.0.2"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			fd, addr := tt.handed(t)
			_, fdOK := listen(t)
			ln, _ := listen(t)
			env := encodeHandover([]handedSocket{{fdOK, ln.Addr().String()}, {fd, addr}})
			_, err := inheritListeners(env)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("inherit %s: error %v, want one with %q", env, err, tt.wantErr)
			}
			for _, n := range []int{fd, fdOK} {
				if _, err := os.Stat("/proc/self/fd/" + strconv.Itoa(n)); err == nil {
					t.Errorf("descriptor %d left open after a refused hand-over", n)
				}
			}
		})
	}
	t.Run("a wildcard address takes a socket bound to any IP of its port", func(t *testing.T) {
		fd, addr := wildcard(t)
		got, err := inheritListeners(encodeHandover([]handedSocket{{fd, addr}}))
		if err != nil {
			t.Fatal(err)
		}
		got[addr].Close()
	})
}

// dupFD is a descriptor of ln's socket that the test owns, as the new
// process owns those it inherits.
func dupFD(t *testing.T, ln *net.TCPListener) int {
	t.Helper()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func port(ln net.Listener) string { return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) }

func TestRemovePidFile(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		wantKept bool
	}{
		{"this process's pid", strconv.Itoa(os.Getpid()) + "\n", false},
		{"the pid of the process after an upgrade", strconv.Itoa(os.Getpid()+1) + "\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "quill.pid")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			removePidFile(path)
			_, err := os.Stat(path)
			if kept := err == nil; kept != tt.wantKept {
				t.Errorf("pid file kept: %v, want %v", kept, tt.wantKept)
			}
		})
	}
}

func TestNotifyServing(t *testing.T) {
	for _, name := range []string{"path", "abstract"} {
		t.Run(name, func(t *testing.T) {
			addr := filepath.Join(t.TempDir(), "notify")
			if name == "abstract" {
				addr = "@quill-test-notify-" + strconv.Itoa(os.Getpid())
			}
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			t.Setenv("NOTIFY_SOCKET", addr)
			if err := notifyServing(); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 256)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(b)
			if err != nil {
				t.Fatal(err)
			}
			if want := "MAINPID=" + strconv.Itoa(os.Getpid()) + "\nREADY=1"; string(b[:n]) != want {
				t.Errorf("notified %q, want %q", b[:n], want)
			}
		})
	}
	t.Run("not run by systemd", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		if err := notifyServing(); err != nil {
			t.Errorf("without NOTIFY_SOCKET: %v", err)
		}
	})
}
