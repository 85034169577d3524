package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"quill/accesslog"
)

func logsCmd(args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		return errHelp
	}
	if len(args) == 0 || args[0] != "merge" {
		return &usageError{"logs", "what to do? merge"}
	}
	fs := flag.NewFlagSet("logs merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	outPath := fs.String("o", "", "write to FILE instead of stdout")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{"logs", err.Error()}
	}
	if fs.NArg() == 0 {
		return &usageError{"logs", "merge: no input files"}
	}
	out := os.Stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return fmt.Errorf("logs merge: %w", err)
		}
		defer f.Close()
		out = f
	}
	w := bufio.NewWriterSize(out, 1<<20)
	stats, err := accesslog.MergeFiles(w, fs.Args())
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if stats.Unparsed > 0 {
		fmt.Fprintf(os.Stderr, "quill logs merge: %d of %d lines had no timestamp and were kept after the line before them\n", stats.Unparsed, stats.Lines)
	}
	if err != nil {
		return fmt.Errorf("logs merge: %w", err)
	}
	if *outPath != "" {
		return out.Close()
	}
	return nil
}
