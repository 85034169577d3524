// Package e2e starts the real quill binary, real backend processes and
// real clients (curl, webalizer, keepalived) on loopback and checks what a
// user would see.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	quillBin string // the quill binary under test
	// vrrpBin is quill without the race detector, for the sidecars of the
	// VRRP tests: they measure failover times in milliseconds and soak
	// under CPU and GC load, which the detector's instrumentation slows
	// several times over. vrrp's own tests run with -race.
	vrrpBin    string
	backendBin string // testbackend
	// raceBuild is whether quillBin has the race detector: always, unless
	// QUILL_E2E_RACE=0 asks for a plain build (to measure, say). It costs
	// the suite about a minute and finds the races that only whole
	// scenarios (reloads under load, failovers) provoke.
	raceBuild = os.Getenv("QUILL_E2E_RACE") != "0"
)

// raceExitCode is the race detector's exit status for a process that
// found a race and otherwise exited normally.
const raceExitCode = 66

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quill-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	quillBin = filepath.Join(dir, "quill")
	vrrpBin = quillBin
	backendBin = filepath.Join(dir, "testbackend")
	builds := [][]string{{"build", "-o", backendBin, "quill/e2e/testbackend"}}
	if raceBuild {
		vrrpBin = filepath.Join(dir, "quill-vrrp")
		builds = append(builds, []string{"build", "-race", "-o", quillBin, "quill/cmd/quill"},
			[]string{"build", "-o", vrrpBin, "quill/cmd/quill"})
	} else {
		builds = append(builds, []string{"build", "-o", quillBin, "quill/cmd/quill"})
	}
	for _, args := range builds {
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			pkg := args[len(args)-1]
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a process a test started; it is killed (by its PID) when the
// test ends.
type proc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	exited error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, stdout io.Writer, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.out
	p.cmd.Stdout = p.out
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.exited = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if race := p.raceReport(); race != "" {
			t.Errorf("data race in %s %s:\n%s", filepath.Base(name), strings.Join(args, " "), race)
		} else if t.Failed() {
			t.Logf("output of %s %s:\n%s", filepath.Base(name), strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

// raceReport is what the race detector reported in the output of a
// process that has exited, or "". Reports are written as races happen, so
// a process killed at the end of its test has written them already.
func (p *proc) raceReport() string {
	out := p.out.String()
	if i := strings.Index(out, "WARNING: DATA RACE"); i >= 0 {
		return out[max(0, strings.LastIndex(out[:i], "\n=====")):]
	}
	var ee *exec.ExitError
	if errors.As(p.exited, &ee) && ee.ExitCode() == raceExitCode {
		return fmt.Sprintf("exit status %d (the race detector's) and no report in the output:\n%s", raceExitCode, out)
	}
	return ""
}

func (p *proc) signal(s syscall.Signal) { p.cmd.Process.Signal(s) }

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits for the process to exit, at most d.
func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.exited
	case <-time.After(d):
		t.Fatalf("process still running after %s", d)
		return nil
	}
}

// backend is a testbackend process.
type backend struct {
	*proc
	name, addr string
}

func startBackend(t *testing.T, name string, extra ...string) *backend {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), name+".addr")
	p := start(t, nil, backendBin, append([]string{"-name", name, "-addr-file", addrFile}, extra...)...)
	var addr string
	eventually(t, 10*time.Second, func() bool {
		b, err := os.ReadFile(addrFile)
		addr = string(b)
		return err == nil
	})
	return &backend{proc: p, name: name, addr: addr}
}

// quill is a running quill process and its config.
type quill struct {
	*proc
	config string
	stdout *syncBuffer
}

// startQuill writes config to a file, runs `quill run` on it, and waits
// until every address in waitFor accepts connections.
func startQuill(t *testing.T, config string, waitFor ...string) *quill {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quill.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout := &syncBuffer{}
	q := &quill{proc: start(t, stdout, quillBin, "run", "-c", path), config: path, stdout: stdout}
	for _, a := range waitFor {
		waitListening(t, a, q.proc)
	}
	return q
}

// rewrite replaces the config file (for reload tests).
func (q *quill) rewrite(t *testing.T, config string) {
	t.Helper()
	if err := os.WriteFile(q.config, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitListening(t *testing.T, addr string, p *proc) {
	t.Helper()
	eventually(t, 10*time.Second, func() bool {
		select {
		case <-p.done:
			t.Fatalf("process exited: %v\n%s", p.exited, p.out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// eventually polls cond every 20ms until it holds, failing after d.
func eventually(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// curl runs the real curl and returns its stdout; -s and a bounded time
// are always added.
func curl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", append([]string{"-s", "--max-time", "20"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("curl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

func mustCurl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := curl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// get is a plain Go client request, for loops where starting curl for
// every request would only measure process start-up.
func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; .ci/run must install it", name)
		}
		t.Skipf("%s is not installed", name)
	}
}

// TestRaceReport proves the check that fails a test whose process
// reported a data race, on real processes that print or exit like the
// race detector.
func TestRaceReport(t *testing.T) {
	tests := []struct {
		name, script string
		want         bool
	}{
		{"report in the output", `echo ==================; echo "WARNING: DATA RACE"; echo "Write at 0x00c000 by goroutine 7:"`, true},
		{"the detector's exit status", "exit 66", true},
		{"clean exit", "echo fine", false},
		{"other failure", "exit 1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &proc{cmd: exec.Command("sh", "-c", tt.script), out: &syncBuffer{}, done: make(chan struct{})}
			p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
			p.exited = p.cmd.Run()
			close(p.done)
			if got := p.raceReport() != ""; got != tt.want {
				t.Errorf("race reported: %v, want %v (%q)", got, tt.want, p.raceReport())
			}
		})
	}
}
