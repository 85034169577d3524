package accesslog

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// receive reads n datagrams from c.
func receive(t *testing.T, c net.PacketConn, n int) []string {
	t.Helper()
	var msgs []string
	buf := make([]byte, 64<<10)
	for range n {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(msgs), n, err)
		}
		msgs = append(msgs, string(buf[:k]))
	}
	return msgs
}

func TestSyslog(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	pid := strconv.Itoa(os.Getpid())
	stampRE := `[A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]`

	tests := []struct {
		name string
		// listen returns the receiving socket and the Syslog option for it.
		listen func(t *testing.T) (net.PacketConn, string)
		// header is the expected message start, before the tag.
		header   string
		withFile bool
	}{
		{name: "udp", header: `<134>` + stampRE + ` ` + regexp.QuoteMeta(host) + ` `,
			listen: func(t *testing.T) (net.PacketConn, string) {
				c, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				return c, "udp://" + c.LocalAddr().String()
			}},
		{name: "unix socket as /dev/log", header: `<134>` + stampRE + ` `,
			listen: func(t *testing.T) (net.PacketConn, string) {
				p := filepath.Join(t.TempDir(), "log")
				c, err := net.ListenPacket("unixgram", p)
				if err != nil {
					t.Fatal(err)
				}
				return c, "unix://" + p
			}},
		{name: "unixgram with a file too", header: `<134>` + stampRE + ` `, withFile: true,
			listen: func(t *testing.T) (net.PacketConn, string) {
				p := filepath.Join(t.TempDir(), "log.sock")
				c, err := net.ListenPacket("unixgram", p)
				if err != nil {
					t.Fatal(err)
				}
				return c, "unixgram://" + p
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, target := tt.listen(t)
			defer c.Close()
			opts := Options{Syslog: target, Window: 10 * time.Millisecond, Format: Combined}
			if tt.withFile {
				opts.Path = filepath.Join(t.TempDir(), "access.log")
			}
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			old := time.Now().Add(-time.Minute)
			want := []*Entry{entry("/one", old), entry("/two", old.Add(time.Second)), entry("/three\n", old.Add(2*time.Second))}
			l.Log(want[2])
			l.Log(want[0])
			l.Log(want[1])
			got := receive(t, c, len(want))
			for i, e := range want {
				line := strings.TrimSuffix(string(AppendCLF(nil, e, Combined)), "\n")
				re := regexp.MustCompile(`^` + tt.header + `quill\[` + pid + `\]: ` + regexp.QuoteMeta(line) + `$`)
				if !re.MatchString(got[i]) {
					t.Errorf("message %d = %q, want %s", i, got[i], re)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.withFile {
				if n := len(readLines(t, opts.Path)); n != 3 {
					t.Fatalf("file holds %d lines, want 3", n)
				}
			}
			if st := l.Stats(); st != (Stats{Lines: 3}) {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// TestSyslogGone counts sends to a vanished syslog socket as write errors
// and keeps writing the file.
func TestSyslogGone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	c, err := net.ListenPacket("unixgram", p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := Open(Options{Path: path, Syslog: "unix://" + p, Window: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	os.Remove(p)
	logBatch(l, "x", 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Lines != 3 || st.WriteErrors != 3 {
		t.Fatalf("stats = %+v, want 3 lines and 3 write errors", st)
	}
}
