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

const usage = `usage: quill COMMAND [flags]

commands:
  run     [-c FILE | FILE]   run the proxy
  check   [-c FILE | FILE]   validate a config file as run and reload would
  reload  [-c FILE | FILE]   validate, then make the running proxy reload it
  demo                       run an embedded example: two web servers, HTTP and HTTPS VIPs
  logs merge [-o FILE] FILE...
                             merge access logs (plain or gzip) in time order
  import-pen -- PEN ARGS     print the quill.toml equivalent of a pen command line
  vrrp    [-c FILE | FILE]   run the VRRP/CARP sidecar that moves the VIPs between two hosts
  ctl [-c FILE | FILE] servers | set POOL SERVER state=drain|maint|ready weight=N
                             the runtime API of a running quill
  version                    print the version

FILE defaults to ` + defaultConfig + `. quill help COMMAND tells more.
`

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
		fmt.Fprintf(stdout, "quill %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
	case "help", "-h", "--help":
		if len(args) == 1 && commandUsage[args[0]] != "" {
			fmt.Fprint(stdout, commandUsage[args[0]])
		} else {
			fmt.Fprint(stdout, usage)
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
		fmt.Fprint(stdout, commandUsage[cmd])
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%v\n\n%s", ue, commandUsage[ue.cmd])
		return 2
	case !errors.Is(err, errReported):
		fmt.Fprintln(stderr, "quill:", err)
	}
	return 1
}
