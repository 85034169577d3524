package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"

	"quill/accesslog"
)

func logsCmd(args []string) error {
	if len(args) == 0 || args[0] != "merge" {
		return errors.New("usage: quill logs merge [-o FILE] LOG [LOG]")
	}
	fs := flag.NewFlagSet("logs merge", flag.ExitOnError)
	outPath := fs.String("o", "", "write to FILE instead of stdout")
	fs.Parse(args[1:])
	if fs.NArg() == 0 {
		return fmt.Errorf("logs merge: no input files")
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
