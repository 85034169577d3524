package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"quill/tlsterm"
)

// splitLine splits a command line at spaces; single quotes group words.
func splitLine(t *testing.T, line string) []string {
	t.Helper()
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args
}

// writePEM writes a self-signed certificate and its key: into one file
// when key is "" (pen -E alone), else into two.
func writePEM(t *testing.T, dir, cert, key string) {
	t.Helper()
	certPEM, keyPEM, _, err := tlsterm.SelfSigned([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if key == "" {
		certPEM = append(certPEM, keyPEM...)
	} else if err := os.WriteFile(filepath.Join(dir, key), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cert), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestImportPen translates real pen command lines (from the README, pen's
// manual, usage text, HOWTO and ChangeLog) and loads each result the way
// `quill check` does, from a directory other than the one import-pen ran
// in, so that relative names of the pen line must have been resolved.
func TestImportPen(t *testing.T) {
	tests := []struct {
		name       string
		line       string
		cert, key  string   // PEM files the line names, created in the run directory
		want, dont []string // must and must not appear in the output; $DIR is the run directory
	}{
		{name: "README example", line: "pen -r -H 80 host1:8180 host2:8180",
			want: []string{`listen = ["0.0.0.0:80"]`, `balance = "roundrobin"`, `forwarded_for = "append"`, `address = "host1:8180"`, `address = "host2:8180"`},
			dont: []string{`mode = "ip"`, "Relative file names"}},
		{name: "default port is the listen port", line: "pen 8080 h1",
			want: []string{`address = "h1:8080"`, `mode = "ip"`, "max_clients = 2048", "max_connections = 500", `connect_timeout = "3s"`, `fail_timeout = "30s"`, `forwarded_for = "off"`},
			dont: []string{"balance ="}},
		{name: "manual example with maxconn", line: "pen 80 www1:8000:10 www2:80:10 www3",
			want: []string{`address = "www1:8000"`, `address = "www2:80"`, `address = "www3:80"`, "pen maxconn 10: quill has no limit per server"}},
		{name: "usage example with service names", line: "pen smtp mailhost1:smtp mailhost2:25 mailhost3",
			want: []string{`listen = ["0.0.0.0:25"]`, `address = "mailhost1:25"`, `address = "mailhost3:25"`, "only if port 25 carries HTTP"}},
		{name: "HOWTO http with relative log and pid", line: "pen -l pen.log -p pen.pid lbhost:80 host1:80 host2:80",
			want: []string{`listen = ["lbhost:80"]`, `path = "$DIR/pen.log"`, `pid_file = "$DIR/pen.pid"`, "resolved against $DIR", "use /run/quill/quill.pid there"}},
		{name: "HOWTO https with one PEM", line: "pen -l pen.log -p pen.pid -E mycert.pem lbhost:443 host1:80 host2:80", cert: "mycert.pem",
			want: []string{"[vips.pen.tls]", `certificates = [{ cert = "$DIR/mycert.pem", key = "$DIR/mycert.pem" }]`, "without -K: one PEM file holds"},
			dont: []string{"passed TLS through"}},
		{name: "HOWTO hash", line: "pen -l pen80.log -p pen80.pid -h lbhost:80 host1:80 host2:80",
			want: []string{`mode = "ip"`, "pen -h placed a new client by a hash of its IP address"}},
		{name: "HOWTO smtp round robin", line: "pen -l pen.log -p pen.pid -r lbhost:25 host1:25 host2:25",
			want: []string{`balance = "roundrobin"`, `address = "host2:25"`}},
		{name: "HOWTO pop3 by service name", line: "pen -p pen.pid pop3 localhost:1110 otherhost:pop3",
			want: []string{`listen = ["0.0.0.0:110"]`, `address = "localhost:1110"`, `address = "otherhost:110"`}},
		{name: "HOWTO debugging in the foreground", line: "pen -d -d -f 3890 localhost:389",
			want: []string{`level = "debug"`, `address = "localhost:389"`, "# pen -f: stay in the foreground"}},
		{name: "IPv6 in brackets", line: "pen [::1]:8080 [::1]:8081 [::1] [2001:db8::2]::5",
			want: []string{`listen = ["[::1]:8080"]`, `address = "[::1]:8081"`, `address = "[::1]:8080"`, `address = "[2001:db8::2]:8080"`, "pen maxconn 5"}},
		{name: "IPv6 listen as pen writes it (ChangeLog)", line: "pen -df -S 2 -r :::2222 [::1]:22 [127.0.0.1]:22",
			want: []string{`listen = ["[::]:2222"]`, `address = "[::1]:22"`, `address = "127.0.0.1:22"`, "# pen -S 2: the server table size"}},
		{name: "weights", line: "pen -W -r 127.0.0.1:8080 a:8180:0:0:3 b:8180:0:0:1 c:8180",
			want: []string{`balance = "leastconn"`, "weight = 3", `listen = ["127.0.0.1:8080"]`, "pen -W never chose this server first (weight 0)"}},
		{name: "weights without -W", line: "pen -r 80 a:8180:0:0:3",
			want: []string{"weight = 3", "unused here, as pen used it only with -W"}},
		{name: "status page beside a VIP on the admin port", line: "pen -w status.html 9090 a",
			want: []string{`listen = "127.0.0.1:9091"`, `listen = ["0.0.0.0:9090"]`}},
		{name: "-h has no effect with -r", line: "pen -r -h -T 3600 -c 20000 80 a b",
			want: []string{`balance = "roundrobin"`, "pen -h: no effect with -r", "# pen -T 3600: no effect with -r", "# pen -c 20000: no effect with -r"},
			dont: []string{`mode = "ip"`, "ttl =", "max_clients ="}},
		{name: "limits and timeouts", line: "pen -x 1000 -t 5 -b 60 -s -T 600 -c 5000 80 a:1 b:2",
			want: []string{"max_connections = 1000", `connect_timeout = "5s"`, `fail_timeout = "60s"`, "stubborn = true", `ttl = "600s"`, "max_clients = 5000"}},
		{name: "no blacklisting", line: "pen -b 0 80 a",
			want: []string{`fail_timeout = "1s"`, "pen never left a failed server alone"}},
		{name: "emergency server, control port and status", line: "pen -e c:8180 -C 8888 -w status.html -X 80 a:8180",
			want: []string{`address = "c:8180"`, "backup = true", `listen = "127.0.0.1:8888"`, "http://127.0.0.1:8888/status", "# pen -X: the exit command"}},
		{name: "emergency server on the default port", line: "pen -e spare 8080 a",
			want: []string{`address = "spare:8080"`, "backup = true"}},
		{name: "certificate and key apart", line: "pen -E cert.pem -K key.pem 443 a:8180", cert: "cert.pem", key: "key.pem",
			want: []string{`cert = "$DIR/cert.pem", key = "$DIR/key.pem"`, "pen -E cert.pem, pen -K key.pem"}},
		{name: "TLS passed through", line: "pen -r 443 a:443 b:443",
			want: []string{"pen passed TLS through to the servers"}},
		{name: "clustered switches, attached argument, options after operands", line: "pen -rHx100 80 a:8180 -s",
			want: []string{"max_connections = 100", `forwarded_for = "append"`, `balance = "roundrobin"`, "stubborn = true"}},
		{name: "penctl commands", line: "pen -o roundrobin -o 'timeout 7' -O 'conn_max 50' -o 'acl 0 deny 10.0.0.0 255.0.0.0' -o 'idle_timeout 30' 80 a",
			want: []string{`balance = "roundrobin"`, `connect_timeout = "7s"`, "max_connections = 50", `idle_timeout = "30s"`, "# pen -o 'acl 0 deny 10.0.0.0 255.0.0.0': ACLs"}},
		{name: "a later penctl command wins", line: "pen -r -o 'no roundrobin' 80 a",
			want: []string{`mode = "ip"`}, dont: []string{"balance ="}},
		{name: "log to penlogd", line: "pen -l loghost:10000 80 a",
			want: []string{"# pen -l loghost:10000: the log went to penlogd"}, dont: []string{"path ="}},
		{name: "hash without a client table", line: "pen -N 80 a b",
			want: []string{`balance = "hash"`}, dont: []string{"[pools.pen.sticky]"}},
		{name: "control socket", line: "pen -C /var/run/pen.ctl 80 a",
			want: []string{`listen = "127.0.0.1:9090"`, "not a Unix socket"}},
		{name: "options without equivalent", line: "pen -a -P -Q -n -D -U -Z -R -m 4 -q 100 -u nobody -j /var/empty -i svc -B abuse:80 -F pen.cfg -G ca.pem -A /etc/ssl/certs -L tls1 80 a",
			want: []string{"# pen -a:", "# pen -P:", "# pen -Q:", "# pen -n:", "# pen -D:", "# pen -U:", "# pen -Z:", "# pen -R:", "# pen -m 4:", "# pen -q 100:",
				"# pen -u nobody:", "# pen -j /var/empty:", "# pen -i svc:", "# pen -B abuse:80:", "# pen -F pen.cfg:", "# pen -G ca.pem:", "# pen -A /etc/ssl/certs:", "# pen -L tls1:"}},
		{name: "end of options and a server named twice", line: "pen -r -- 80 a a b",
			want: []string{"pen lists a:80 2 times"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runDir, saveDir := t.TempDir(), t.TempDir()
			if tt.cert != "" {
				writePEM(t, runDir, tt.cert, tt.key)
			}
			out, err := importPen(splitLine(t, tt.line), runDir)
			if err != nil {
				t.Fatalf("importPen: %v", err)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "$DIR", runDir); !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, d := range tt.dont {
				if strings.Contains(out, d) {
					t.Errorf("output has %q:\n%s", d, out)
				}
			}
			path := filepath.Join(saveDir, "quill.toml")
			if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := load(path); err != nil {
				t.Errorf("quill check refuses the output: %v\n%s", err, out)
			}
		})
	}
}

// TestImportPenEveryOption proves that no option of pen's getopt string is
// dropped silently: each one is named in the output, translated or noted.
func TestImportPenEveryOption(t *testing.T) {
	args := map[byte]string{'C': "8888", 'e': "spare:81", 'L': "tls1", 'o': "dummy", 'O': "tcp_nodelay"}
	for _, f := range []byte(penArgOptions + penSwitches) {
		t.Run(string(f), func(t *testing.T) {
			line := []string{"pen", "-" + string(f)}
			if strings.IndexByte(penArgOptions, f) >= 0 {
				a, ok := args[f]
				if !ok {
					a = "5"
				}
				line = append(line, a)
			}
			line = append(line, "80", "a")
			out, err := importPen(line, t.TempDir())
			if err != nil {
				t.Fatalf("importPen(%q): %v", line, err)
			}
			if !strings.Contains(out, "pen -"+string(f)) {
				t.Errorf("the output of %q does not name -%c:\n%s", line, f, out)
			}
		})
	}
}

func TestImportPenErrors(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"not a number", "pen -x abc 80 a", `-x "abc": not a number`},
		{"zero connections", "pen -x 0 80 a", `-x "0": must be at least 1`},
		{"zero connect timeout", "pen -t 0 80 a", `-t "0": must be at least 1`},
		{"negative tracking time", "pen -T -5 80 a", `-T "-5": must be at least 0`},
		{"too large", "pen -T 99999999999999999999 80 a", `-T "99999999999999999999": must be at most`},
		{"unknown option", "pen -Y 80 a", "-Y: not a pen option"},
		{"unknown option in a cluster", "pen -rY 80 a", "-Y: not a pen option"},
		{"missing argument", "pen 80 a -x", "-x: needs an argument"},
		{"no servers", "pen 80", "at least one server"},
		{"bad weight", "pen 80 a:1:0:0:x", `server "a:1:0:0:x": weight "x": not a number`},
		{"bad maxconn", "pen 80 a:1:-3", `server "a:1:-3": maxconn "-3": must be at least 0`},
		{"port out of range", "pen 80 a:99999", `server "a:99999": port "99999": not 1..65535`},
		{"unknown service", "pen 80 a:nosuchservice", `port "nosuchservice": not a number or a known service name`},
		{"bad listen port", "pen 0 a", `listen address "0": port "0": not 1..65535`},
		{"IPv6 server without brackets", "pen 80 ::1", "an IPv6 address goes in brackets"},
		{"unclosed bracket", "pen 80 [::1", "no closing bracket"},
		{"unbalanced listen brackets", "pen [::1:80 a", "unbalanced brackets"},
		{"Unix socket listen", "pen /tmp/pen.sock a", "a Unix socket"},
		{"too many fields", "pen 80 a:1:2:3:4:5:6", "more fields than"},
		{"unknown SSL protocol", "pen -L tls9 443 a", `-L "tls9": not ssl23, ssl2, ssl3 or tls1`},
		{"penctl number", "pen -o 'timeout x' 80 a", `-o 'timeout x' "x": not a number`},
		{"bad emergency server", "pen -e a:b 80 c", `-e "a:b": port "b"`},
		{"bad control port", "pen -C 70000 80 a", `-C "70000": port "70000": not 1..65535`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := importPen(splitLine(t, tt.line), t.TempDir())
			if err == nil {
				t.Fatalf("importPen(%q) succeeded:\n%s", tt.line, out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("importPen(%q) = %q, want it to hold %q", tt.line, err, tt.want)
			}
		})
	}
}

// TestImportPenCommand runs the command in a process of its own (this test
// binary, re-executed) for its exit status and its stdout and stderr.
func TestImportPenCommand(t *testing.T) {
	if args := os.Getenv("QUILL_IMPORTPEN_ARGS"); args != "" {
		os.Args = append([]string{"quill", "import-pen"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	tests := []struct {
		name, line string
		code       int
		stdout     string
		stderr     string
	}{
		{"default port", "-- pen 8080 h1", 0, `address = "h1:8080"`, ""},
		{"without --", "pen -r 80 h1", 0, `balance = "roundrobin"`, ""},
		{"bad number", "-- pen -x abc 80 h1", 1, "", "quill import-pen: -x \"abc\": not a number\n"},
		{"unknown option", "-- pen -Y 80 h1", 1, "", "quill import-pen: -Y: not a pen option\n"},
		{"help", "--help", 0, "usage: quill import-pen", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestImportPenCommand$")
			cmd.Env = append(os.Environ(), "QUILL_IMPORTPEN_ARGS="+strings.Join(splitLine(t, tt.line), "\x1f"))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
			defer timer.Stop()
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit status %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, stdout.String())
			}
			if tt.stderr != "" && stderr.String() != tt.stderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.stderr)
			}
			if tt.code != 0 && stdout.Len() > 0 {
				t.Errorf("a refused line printed:\n%s", stdout.String())
			}
		})
	}
}
