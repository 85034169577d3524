package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Error is one problem in a config file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads, decodes, defaults and validates a config file. The error,
// when not nil, joins one *Error per problem found.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, string(src))
}

// Parse is Load on a file already read; name is used in messages.
func Parse(name, src string) (*Config, error) {
	var c Config
	md, err := toml.Decode(src, &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Msg: pe.Message}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	c.File = name
	sum := sha256.Sum256([]byte(src))
	c.Hash = hex.EncodeToString(sum[:6])
	v := &validator{file: name, pos: indexPositions(src)}
	for _, k := range md.Undecoded() {
		v.errorf(strings.Join(k, "."), "unknown key %q", k.String())
	}
	v.explicitZeros(&c)
	c.setDefaults()
	v.config(&c)
	c.pos = v.pos
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return &c, nil
}

// Errorf makes an error at the line of a dotted key path, for checks made
// outside this package (certificate files).
func (c *Config) Errorf(path, format string, args ...any) *Error {
	return &Error{File: c.File, Line: c.pos.line(path), Msg: fmt.Sprintf(format, args...)}
}
