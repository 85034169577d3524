// Command quill is a layer-7 HTTP/TLS reverse proxy with sticky sessions,
// and the VRRP sidecar that moves its virtual address between two hosts.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"quill/internal/manual"
)

// version and commit are set at build time with -ldflags "-X main.version=…".
var (
	version = "dev"
	commit  = "unknown"
)

// buildCommit is the commit set at build time, else the one Go recorded
// when it built from a checkout.
func buildCommit() string {
	if commit != "unknown" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return commit
}

// usage lists the commands; commandUsage(CMD) is the usage of one.
var usage = manual.Usage()

// commandUsage is what `quill help CMD` and `quill CMD -h` print, and what
// follows a usage error of CMD.
func commandUsage(cmd string) string {
	c, ok := manual.Lookup(cmd)
	if !ok {
		return usage
	}
	return c.Usage()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status: 0, 1 when
// the command failed, 2 when the command line is wrong.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = runCmd(args)
	case "check":
		err = checkCmd(args, stdout, stderr)
	case "reload":
		err = reloadCmd(args, stdout)
	case "demo":
		err = demoCmd(args)
	case "logs":
		err = logsCmd(args)
	case "import-pen":
		err = importPenCmd(args)
	case "vrrp":
		err = vrrpCmd(args)
	case "ctl":
		err = ctlCmd(args, stdout)
	case "version", "-v", "--version":
		if err = noArgs(cmd, args); err != nil {
			break
		}
		fmt.Fprintf(stdout, "quill %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
	case "help", "-h", "--help":
		switch {
		case len(args) == 0:
			fmt.Fprint(stdout, usage)
		case len(args) > 1:
			fmt.Fprintf(stderr, "quill help: one command, not %d\n\n%s", len(args), usage)
			return 2
		case args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
			fmt.Fprint(stdout, commandUsage("help"))
		default:
			if _, ok := manual.Lookup(args[0]); !ok {
				fmt.Fprintf(stderr, "quill help: unknown command %q\n\n%s", args[0], usage)
				return 2
			}
			fmt.Fprint(stdout, commandUsage(args[0]))
		}
	default:
		fmt.Fprintf(stderr, "quill: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		fmt.Fprint(stdout, commandUsage(cmd))
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%v\n\n%s", ue, commandUsage(ue.cmd))
		return 2
	case !errors.Is(err, errReported):
		fmt.Fprintln(stderr, "quill:", err)
	}
	return 1
}
