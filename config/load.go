package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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

// Parse is Load on a file already read. name is used in messages, and its
// directory is where the relative paths of the file are.
func Parse(name, src string) (*Config, error) {
	var c Config
	md, err := toml.Decode(src, &c)
	if err != nil {
		return nil, decodeError(name, src, err)
	}
	c.File = name
	sum := sha256.Sum256([]byte(src))
	c.Hash = hex.EncodeToString(sum[:6])
	v := &validator{file: name, pos: indexPositions(src)}
	for _, k := range md.Undecoded() {
		v.errorf(strings.Join(k, "."), "unknown key %q", k.String())
	}
	v.explicitZeros(&c)
	c.SetDefaults()
	v.notify(&c, filepath.Dir(name))
	c.resolvePaths(filepath.Dir(name))
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

// BurntSushi/toml reports a syntax error as a ParseError with its position,
// but a value of the wrong type only as text:
//
//	toml: line 31 (last key "global.max_connections"): incompatible types: TOML value has type string; destination has type integer
//
// These read that text back into the file:line form of every other error.
var (
	tomlContext  = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)
	tomlMismatch = regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)
	tomlNotTable = regexp.MustCompile(`^type mismatch for \S+: expected table but found (.+)$`)
)

// decodeError turns an error of toml.Decode into an *Error at its line.
func decodeError(name, src string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" && !strings.Contains(msg, pe.LastKey) {
			msg = lastPart(pe.LastKey) + ": " + msg
		}
		return &Error{File: name, Line: pe.Position.Line, Msg: msg}
	}
	m := tomlContext.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	if line == 0 {
		line = indexPositions(src).line(m[2])
	}
	msg := m[3]
	if t := tomlMismatch.FindStringSubmatch(msg); t != nil {
		msg = fmt.Sprintf("%s where %s is expected", tomlType(t[1]), destType(t[2]))
	} else if t := tomlNotTable.FindStringSubmatch(msg); t != nil {
		msg = tomlType(t[1]) + " where a table is expected"
	}
	return &Error{File: name, Line: line, Msg: lastPart(m[2]) + ": " + msg}
}

// tomlType names a decoded TOML value (a Go type in toml's message) as the
// TOML specification does.
func tomlType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "int64":
		return "an integer"
	case goType == "float64":
		return "a float"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "a table"
	case strings.HasPrefix(goType, "time.") || strings.HasPrefix(goType, "toml.Local"):
		return "a date or time"
	}
	return goType
}

// destType names what a key takes, from toml's name for the Go type.
func destType(dest string) string {
	switch dest {
	case "integer":
		return "an integer"
	case "float", "boolean":
		return "a " + dest
	case "string", "primitive (string-like)":
		return "a string"
	case "slice":
		return "an array"
	case "map":
		return "a table"
	}
	return dest
}
