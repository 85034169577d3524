// Command quill-man renders quill's man pages, quill(1) and quill-toml(5),
// and the configuration reference of the README, from the command table
// and config/reference.toml (see package quill/internal/manual).
//
//	go run ./cmd/quill-man -readme README.md -man man
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"quill/internal/manual"
)

func main() {
	readme := flag.String("readme", "", "render the reference blocks of this README in place")
	manDir := flag.String("man", "", "write quill.1 and quill-toml.5 into this directory")
	flag.Parse()
	if *readme == "" && *manDir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: quill-man [-readme README.md] [-man DIR]")
		os.Exit(2)
	}
	if err := generate(*readme, *manDir); err != nil {
		fmt.Fprintln(os.Stderr, "quill-man:", err)
		os.Exit(1)
	}
}

func generate(readme, manDir string) error {
	if readme != "" {
		src, err := os.ReadFile(readme)
		if err != nil {
			return err
		}
		out, err := manual.RenderReadme(string(src))
		if err != nil {
			return fmt.Errorf("%s: %w", readme, err)
		}
		if err := os.WriteFile(readme, []byte(out), 0o644); err != nil {
			return err
		}
	}
	if manDir == "" {
		return nil
	}
	pages, err := manual.Pages()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(manDir, 0o755); err != nil {
		return err
	}
	for name, page := range pages {
		if err := os.WriteFile(filepath.Join(manDir, name), []byte(page), 0o644); err != nil {
			return err
		}
	}
	return nil
}
