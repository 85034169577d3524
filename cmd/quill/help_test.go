package main

import (
	"strings"
	"testing"

	"quill/internal/manual"
)

// TestHelp asks every command for its usage the three ways the help
// promises: each prints that command's usage on stdout and exits 0.
func TestHelp(t *testing.T) {
	for _, c := range manual.Commands {
		for _, args := range [][]string{{"help", c.Name}, {c.Name, "-h"}, {c.Name, "--help"}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, stdout, stderr := runQuill(t, args...)
				if code != 0 || stdout != c.Usage() || stderr != "" {
					t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and stdout:\n%s", code, stdout, stderr, c.Usage())
				}
			})
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, _ := runQuill(t, args...)
			if code != 0 || stdout != manual.Usage() {
				t.Errorf("exit %d, stdout:\n%s\nwant exit 0 and the list of commands", code, stdout)
			}
		})
	}
}

// TestUsageErrors checks that a command line a command cannot take exits 2
// with that command's usage on stderr.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"help", "nosuch"}, `quill help: unknown command "nosuch"`},
		{[]string{"help", "run", "check"}, "quill help: one command, not 2"},
		{[]string{"nosuch"}, `quill: unknown command "nosuch"`},
		{[]string{"version", "now"}, `quill version: unexpected argument "now"`},
		{[]string{"demo", "-x"}, "quill demo: flag provided but not defined: -x"},
		{[]string{"logs"}, "quill logs: what to do? merge"},
		{[]string{"logs", "merge"}, "quill logs: merge: no input files"},
		{[]string{"logs", "merge", "-x", "a.log"}, "quill logs: flag provided but not defined: -x"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runQuill(t, tt.args...)
			if code != 2 || stdout != "" || !strings.HasPrefix(stderr, tt.wantErr+"\n\nusage: quill ") {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and stderr starting %q and a usage", code, stdout, stderr, tt.wantErr)
			}
		})
	}
}
