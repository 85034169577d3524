package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"quill/internal/manual"
)

const defaultConfig = manual.DefaultConfig

// usageError is a command line a command cannot take: main prints it with
// the command's usage and exits 2.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string { return "quill " + e.cmd + ": " + e.msg }

// errHelp asks main to print the command's usage and exit 0.
var errHelp = errors.New("help")

// configArgs reads the command line of a command that takes a config file:
// "-c FILE" or one positional FILE, in any order, the same for every such
// command; naming the same file both ways is allowed, two different files
// are not. verbs are the words that end the file arguments and start the
// command's own (ctl's "servers" and "set"): they and what follows them are
// returned as rest. A command without verbs takes nothing else.
func configArgs(cmd string, args []string, verbs ...string) (path string, rest []string, err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var files []string
	fs.Func("c", "config file", func(v string) error {
		files = append(files, v)
		return nil
	})
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", nil, errHelp
			}
			return "", nil, &usageError{cmd, err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if slices.Contains(verbs, args[0]) {
			rest = args
			break
		}
		files = append(files, args[0])
		args = args[1:]
	}
	files = distinct(files)
	switch {
	case len(files) > 1:
		return "", nil, &usageError{cmd, fmt.Sprintf("one config file, not %d: %s", len(files), quoteAll(files))}
	case len(verbs) > 0 && len(rest) == 0:
		return "", nil, &usageError{cmd, "what to do? " + strings.Join(verbs, " or ")}
	case len(files) == 1:
		return files[0], rest, nil
	}
	return defaultConfig, rest, nil
}

// noArgs reads the command line of a command that takes no argument: only
// -h or --help, which ask for its usage.
func noArgs(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	return parseFlags(fs, cmd, args)
}

// parseFlags parses the flags of cmd and takes nothing else: -h and
// --help give errHelp, anything wrong a usage error.
func parseFlags(fs *flag.FlagSet, cmd string, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{cmd, err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{cmd, fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// distinct keeps the first of each value, in order.
func distinct(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
