package tlsterm

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// watchFixture serves pair a from fixed paths and watches them every 20ms.
// It returns the terminator, the server's address and the observed logs.
func watchFixture(t *testing.T, a CertFile) (*Terminator, string, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	term, err := New(Options{Certificates: []CertFile{a}}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(term.Stop)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		term.Watch(ctx, 20*time.Millisecond)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return term, serve(t, term, viaListener), logs
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWatchPicksUpReplacedFiles(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "live", leafSpec{names: []string{"quill.test"}})
	b := writePair(t, t.TempDir(), "next", leafSpec{names: []string{"quill.test"}})
	_, addr, logs := watchFixture(t, a)

	replaceFile(t, a.Key, readFile(t, b.Key))
	replaceFile(t, a.Cert, readFile(t, b.Cert))
	want := leafOf(t, b.Cert).Raw
	eventually(t, 5*time.Second, "the replaced certificate is served", func() bool {
		return bytes.Equal(servedLeaf(t, addr, "quill.test"), want)
	})
	if logs.FilterMessage("certificate files changed; reloaded").Len() != 1 {
		t.Errorf("logs: %v", logs.All())
	}
}

func TestWatchKeepsOldOnBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "live", leafSpec{names: []string{"quill.test"}})
	b := writePair(t, t.TempDir(), "next", leafSpec{names: []string{"quill.test"}})
	_, addr, logs := watchFixture(t, a)
	old := leafOf(t, a.Cert).Raw
	failures := func() int {
		return logs.FilterMessage("certificate files changed but do not load; keeping the current certificates").Len()
	}

	steps := []struct {
		name         string
		file         string
		data         []byte
		wantFailures int
	}{
		{name: "garbage certificate", file: a.Cert, data: []byte("not a certificate"), wantFailures: 1},
		{name: "new certificate with the old key", file: a.Cert, data: readFile(t, b.Cert), wantFailures: 2},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			replaceFile(t, s.file, s.data)
			eventually(t, 5*time.Second, "the failure is logged", func() bool { return failures() >= s.wantFailures })
			if !bytes.Equal(servedLeaf(t, addr, "quill.test"), old) {
				t.Error("the old certificate is no longer served")
			}
			// Logged once per change, not once per poll.
			time.Sleep(150 * time.Millisecond)
			if n := failures(); n != s.wantFailures {
				t.Errorf("%d failures logged, want %d", n, s.wantFailures)
			}
		})
	}
	t.Run("matching key arrives", func(t *testing.T) {
		replaceFile(t, a.Key, readFile(t, b.Key))
		want := leafOf(t, b.Cert).Raw
		eventually(t, 5*time.Second, "the new pair is served", func() bool {
			return bytes.Equal(servedLeaf(t, addr, "quill.test"), want)
		})
	})
}

func TestWatchStops(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a", leafSpec{names: []string{"quill.test"}})
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc, term *Terminator)
	}{
		{name: "context cancelled", stop: func(cancel context.CancelFunc, _ *Terminator) { cancel() }},
		{name: "terminator stopped", stop: func(_ context.CancelFunc, term *Terminator) { term.Stop() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := newTerminator(t, Options{Certificates: []CertFile{a}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				term.Watch(ctx, time.Hour)
			}()
			tt.stop(cancel, term)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Watch did not return")
			}
		})
	}
}
