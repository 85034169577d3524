// Package manual holds what quill tells its users about itself, once: the
// usage of every command (what `quill help CMD` and `quill CMD --help`
// print) and the annotated reference of quill.toml. It renders them as the
// command line's help, as the man pages quill(1) and quill-toml(5), and as
// the configuration reference of the README, so that these cannot disagree.
package manual

import (
	"fmt"
	"strings"
)

// DefaultConfig is the config file of every command that takes one and is
// not told which.
const DefaultConfig = "/etc/quill/quill.toml"

// Command is one subcommand of quill.
type Command struct {
	// Name is the word that selects the command.
	Name string
	// Synopsis are its command lines, each without the leading "quill ".
	Synopsis []string
	// Summary says what it does in a few words, for the list of commands.
	Summary string
	// Description is plain text: paragraphs separated by blank lines,
	// lines indented by two spaces kept as they are (examples).
	Description string
}

const configFileArgs = "[-c FILE | FILE]"

// Commands are quill's subcommands in the order the help lists them.
var Commands = []Command{
	{
		Name:     "run",
		Synopsis: []string{"run " + configFileArgs},
		Summary:  "run the proxy",
		Description: `Run the proxy with the config FILE (default ` + DefaultConfig + `).
HUP reloads the file, USR1 reopens the access logs, TERM and INT stop
gracefully: stop accepting, finish the requests in flight for at most
global.shutdown_timeout, flush the access log, exit. USR2 upgrades the
binary: the binary at the path run was started from takes over the
listening sockets, then this process finishes its requests and exits.`,
	},
	{
		Name:     "check",
		Synopsis: []string{"check " + configFileArgs},
		Summary:  "validate a config file as run and reload would",
		Description: `Validate the config FILE (default ` + DefaultConfig + `) as run and reload
would, short of binding its addresses: exit 0 with a summary of what it
serves, or 1 with every problem as FILE:LINE: message. Run it as the
service's user: an access log or pid file that user cannot write is an
error.`,
	},
	{
		Name:     "reload",
		Synopsis: []string{"reload " + configFileArgs},
		Summary:  "validate, then make the running proxy reload it",
		Description: `Validate the config FILE (default ` + DefaultConfig + `), then make the
quill running with it reload it: through the [admin] API, which answers
whether the proxy applied it (exit 0) or refused it (exit 1), else with
SIGHUP to global.pid_file.`,
	},
	{
		Name:     "demo",
		Synopsis: []string{"demo [-print]"},
		Summary:  "run an embedded example: two web servers, HTTP and HTTPS VIPs",
		Description: `Run an embedded example: two demo web servers inside the process and
quill in front of them, HTTP on 127.0.0.1:8080, HTTPS on 127.0.0.1:8443
(a self-signed certificate made at start), the admin listener on
127.0.0.1:9090 and the access log on stdout. It prints curl commands to
try. -print prints its config and exits.`,
	},
	{
		Name:     "logs",
		Synopsis: []string{"logs merge [-o OUT] FILE..."},
		Summary:  "merge access logs (plain or gzip) in time order",
		Description: `Merge access logs in Common Log Format or combined format, plain or
gzip-compressed, into one in time order (the mergelog replacement), on
stdout or into OUT. Lines without a timestamp stay after the line before
them, and are counted on stderr.

  quill logs merge lb1/access.log lb2/access.log.1.gz > access_log`,
	},
	{
		Name:     "import-pen",
		Synopsis: []string{"import-pen -- pen [OPTIONS] [HOST:]PORT SERVER..."},
		Summary:  "print the quill.toml equivalent of a pen command line",
		Description: `Print the quill.toml equivalent of a pen command line. SERVER is
host[:port[:maxconn[:hard[:weight[:prio]]]]], IPv6 addresses in brackets;
the port defaults to the listen port, as in pen. Options without an
equivalent become comments that say why.

  quill import-pen -- pen -r -H 80 host1:8180 host2:8180`,
	},
	{
		Name:     "vrrp",
		Synopsis: []string{"vrrp " + configFileArgs},
		Summary:  "run the VRRP/CARP sidecar that moves the VIPs between two hosts",
		Description: `Run the VRRP/CARP sidecar for the [[vrrp.instances]] of the config FILE
(default ` + DefaultConfig + `). It needs CAP_NET_ADMIN and CAP_NET_RAW.
TERM and INT make a master resign (priority 0) and remove the addresses
it added. HUP reloads the instances: unchanged ones keep running, changed
ones restart, removed ones resign; a file with errors changes nothing.`,
	},
	{
		Name: "ctl",
		Synopsis: []string{
			"ctl " + configFileArgs + " servers",
			"ctl " + configFileArgs + " set POOL SERVER [state=ready|drain|maint] [weight=N]",
		},
		Summary: "the runtime API of a running quill",
		Description: `Talk to the runtime API of the quill running with the config FILE (default
` + DefaultConfig + `): list the servers, or change one until the next reload.`,
	},
	{
		Name:        "version",
		Synopsis:    []string{"version"},
		Summary:     "print the version",
		Description: `Print the version, the commit it was built from and the Go version.`,
	},
	{
		Name:        "help",
		Synopsis:    []string{"help [COMMAND]"},
		Summary:     "print the usage of quill or of COMMAND",
		Description: `Print the usage of quill, or of COMMAND; quill COMMAND -h and quill COMMAND --help print the same.`,
	},
}

// Lookup returns the command named name.
func Lookup(name string) (Command, bool) {
	for _, c := range Commands {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Usage is what `quill help CMD` and `quill CMD --help` print.
func (c Command) Usage() string {
	var b strings.Builder
	for i, s := range c.Synopsis {
		if i == 0 {
			b.WriteString("usage: quill " + s + "\n")
		} else {
			b.WriteString("       quill " + s + "\n")
		}
	}
	b.WriteString("\n" + c.Description + "\n")
	return b.String()
}

// summaryColumn is where the summaries start in the list of commands.
const summaryColumn = 29

// Usage is what `quill help` prints: every command with its summary.
func Usage() string {
	var b strings.Builder
	b.WriteString("usage: quill COMMAND [flags]\n\ncommands:\n")
	for _, c := range Commands {
		last := len(c.Synopsis) - 1
		for _, s := range c.Synopsis[:last] {
			b.WriteString("  " + s + "\n")
		}
		if line := "  " + c.Synopsis[last]; len(line) < summaryColumn-1 {
			fmt.Fprintf(&b, "%-*s%s\n", summaryColumn, line, c.Summary)
		} else {
			fmt.Fprintf(&b, "%s\n%*s%s\n", line, summaryColumn, "", c.Summary)
		}
	}
	b.WriteString("\nFILE defaults to " + DefaultConfig + ". quill help COMMAND tells more.\n")
	return b.String()
}
