package manual

import (
	"fmt"
	"strings"
)

// roff escapes text for troff: backslashes, hyphens (so that options and
// paths can be searched for and copied), and a leading dot or quote, which
// troff would read as a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			b.WriteString(`\&`)
		}
		for _, r := range line {
			if r > 0x7e {
				// troff reads Latin-1 unless told otherwise.
				fmt.Fprintf(&b, `\[u%04X]`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// roffText renders plain text: paragraphs apart by blank lines, lines
// indented by two spaces as they are (examples).
func roffText(text string) string {
	var b strings.Builder
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		if strings.HasPrefix(para, "  ") {
			b.WriteString(".RS\n.nf\n")
			for _, line := range strings.Split(para, "\n") {
				b.WriteString(roff(strings.TrimPrefix(line, "  ")) + "\n")
			}
			b.WriteString(".fi\n.RE\n")
			continue
		}
		b.WriteString(roff(para) + "\n")
	}
	return b.String()
}

func manHeader(title, section, summary string) string {
	return fmt.Sprintf(".\\\" Rendered by go generate ./internal/manual from internal/manual and config/reference.toml; edit those.\n"+
		".TH %s %s \"\" \"quill\" \"quill manual\"\n.SH NAME\n%s\n", title, section, summary)
}

// ManQuill is the man page quill(1).
func ManQuill() string {
	var b strings.Builder
	b.WriteString(manHeader("QUILL", "1", `quill \- HTTP/TLS reverse proxy with sticky sessions, and its VRRP sidecar`))
	b.WriteString(".SH SYNOPSIS\n")
	for _, c := range Commands {
		for _, s := range c.Synopsis {
			b.WriteString(".B quill\n" + roff(s) + "\n.br\n")
		}
	}
	b.WriteString(".SH DESCRIPTION\n" + roffText(description) + ".SH COMMANDS\n")
	for _, c := range Commands {
		for _, s := range c.Synopsis {
			b.WriteString(".SS \"quill " + roff(s) + "\"\n")
		}
		b.WriteString(roffText(c.Description))
	}
	b.WriteString(".SH SIGNALS\n" + roffText(signals))
	b.WriteString(".SH EXIT STATUS\n" + roffText(exitStatus))
	b.WriteString(".SH FILES\n")
	for _, f := range files {
		b.WriteString(".TP\n.I " + roff(f[0]) + "\n" + roff(f[1]) + "\n")
	}
	b.WriteString(".SH SEE ALSO\n" + roffText(seeAlso))
	return b.String()
}

// ManQuillTOML is the man page quill-toml(5), the file format.
func ManQuillTOML() (string, error) {
	tables, err := Tables()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(manHeader("QUILL-TOML", "5", `quill.toml \- configuration file of quill(1)`))
	b.WriteString(".SH SYNOPSIS\n" + roff(DefaultConfig) + "\n")
	b.WriteString(".SH DESCRIPTION\n" + roffText(fileFormat))
	b.WriteString(".SH KEYS\n" + roffText(keysIntro))
	for _, t := range tables {
		b.WriteString(".SS \"" + roff(t.Header) + "\"\n")
		note := t.Note
		if t.Example {
			note = strings.TrimSpace("Optional. " + note)
		}
		if note != "" {
			b.WriteString(roff(note) + "\n")
		}
		for _, k := range t.Keys {
			b.WriteString(".TP\n\\fB" + roff(k.Name) + "\\fR = " + roff(k.Value) + "\n")
			doc := k.Doc
			if k.Example {
				doc = strings.TrimSpace("Optional. " + doc)
			}
			if doc != "" {
				b.WriteString(roff(doc) + "\n")
			}
		}
	}
	b.WriteString(".SH SEE ALSO\n" + roffText("quill(1); the README of quill, which explains the behaviour behind the keys at length."))
	return b.String(), nil
}

const description = `quill is a layer-7 HTTP/TLS reverse proxy with sticky sessions, for a
few web servers behind one or two load-balancer hosts that share a
virtual IP address (VIP). It terminates TLS, adds X-Forwarded-For, routes
requests by Host and path to pools of servers, keeps a client on one
server by a signed cookie or by its IP address, and writes one merged
access log in Common Log Format for every VIP. quill vrrp, a sidecar run
beside the proxy, moves the VIP between the two hosts (VRRPv2, VRRPv3,
CARP).

Commands that take a config file take it as -c FILE or as their one
argument; without either they read ` + DefaultConfig + `. The format of the
file is in quill-toml(5).`

const signals = `quill run follows nginx: HUP reloads the config (a file with errors is
refused whole and the running config stays), USR1 reopens the access log
files (logrotate), TERM and INT stop gracefully, USR2 upgrades the binary
without refusing a connection (the new process takes the listening
sockets; the old one finishes its requests and exits). quill vrrp reloads
its instances on HUP and stops on TERM and INT, a master first resigning.`

const exitStatus = `0 when the command did what it was asked, 1 when it failed (a refused
config, with every problem as FILE:LINE: message), 2 when the command line
is wrong (with the command's usage on stderr).`

var files = [][2]string{
	{DefaultConfig, "the config file of every command, unless -c FILE names another"},
	{"/var/log/quill/", "the access logs of the packaged config, rotated by /etc/logrotate.d/quill"},
	{"/var/lib/quill/", "ACME accounts and certificates (the unit's StateDirectory)"},
	{"/run/quill/quill.pid", "the pid file of the packaged config"},
	{"/usr/lib/systemd/system/quill.service", "the proxy's unit; quill-vrrp.service beside it runs the sidecar"},
}

const seeAlso = `quill-toml(5), systemctl(1), logrotate(8), webalizer(1), keepalived(8), pen(1)`

const fileFormat = `One TOML file. Unknown keys are errors (a typo never passes silently),
and every error names the file and line. Durations are Go duration
strings ("500ms", "5s", "12h"). Keys that name a choice take exactly the
spellings listed. Relative paths in the file are in the directory of the
file, not the working directory. quill check FILE validates a file as
quill run and a reload would.`

const keysIntro = `Every key with its default (or, where it has none, an example) and what
it does; "Optional." marks a key or table the example leaves out. NAME in vips.NAME and pools.NAME is yours to choose; the example
names below are www-http, www-https and app.`

// Pages are the man pages by file name.
func Pages() (map[string]string, error) {
	toml, err := ManQuillTOML()
	if err != nil {
		return nil, err
	}
	return map[string]string{"quill.1": ManQuill(), "quill-toml.5": toml}, nil
}
