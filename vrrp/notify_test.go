package vrrp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestNotifyRunsInOrderWithKeepalivedArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "notify.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$* $QUILL_VRRP_STATE\" >> \""+out+"\"\n"), 0o755)
	n := newNotifier(script+" --flag", "www", zap.NewNop())
	n.notify("BACKUP", 100)
	n.notify("MASTER", 100)
	n.notify("STOP", 100)
	n.close(5 * time.Second)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "--flag INSTANCE www BACKUP 100 BACKUP\n--flag INSTANCE www MASTER 100 MASTER\n--flag INSTANCE www STOP 100 STOP\n"
	if string(b) != want {
		t.Fatalf("calls:\n%s\nwant:\n%s", b, want)
	}
}

func TestNotifyWithoutCommand(t *testing.T) {
	n := newNotifier("", "www", zap.NewNop())
	n.notify("MASTER", 1)
	n.close(time.Second)
}

func TestNotifyFailureIsLogged(t *testing.T) {
	var logged strings.Builder
	log := zap.New(zapcoreFor(&logged))
	n := newNotifier("/nonexistent/notify", "www", log)
	n.notify("FAULT", 1)
	n.close(5 * time.Second)
	if !strings.Contains(logged.String(), "notify command failed") {
		t.Fatalf("log: %s", logged.String())
	}
}
