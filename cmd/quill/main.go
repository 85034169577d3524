// Command quill is a layer-7 HTTP/TLS reverse proxy with sticky sessions,
// and the VRRP sidecar that moves its virtual address between two hosts.
package main

import (
	"fmt"
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

const defaultConfig = "/etc/quill/quill.toml"

const usage = `usage: quill COMMAND [flags]

commands:
  run     -c FILE        run the proxy
  check   -c FILE        validate a config file
  reload  -c FILE        validate, then make the running proxy reload it
  demo                   run an embedded example: two web servers, HTTP and HTTPS VIPs
  logs merge [-o FILE] FILE...
                         merge access logs (plain or gzip) in time order
  import-pen -- PEN ARGS  print the quill.toml equivalent of a pen command line
  vrrp    -c FILE        run the VRRP/CARP sidecar that moves the VIPs between two hosts
  ctl -c FILE servers | set POOL SERVER state=drain|maint|ready weight=N
                         the runtime API of a running quill
  version                print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "run":
		err = runCmd(args)
	case "check":
		err = checkCmd(args, os.Stdout)
	case "reload":
		err = reloadCmd(args, os.Stdout)
	case "demo":
		err = demoCmd(args)
	case "logs":
		err = logsCmd(args)
	case "import-pen":
		err = importPenCmd(args)
	case "vrrp":
		err = vrrpCmd(args)
	case "ctl":
		err = ctlCmd(args, os.Stdout)
	case "version", "-v", "--version":
		fmt.Printf("quill %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "quill: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		if err != errReported {
			fmt.Fprintln(os.Stderr, "quill:", err)
		}
		os.Exit(1)
	}
}
