package manual

import (
	"fmt"
	"strings"

	"quill/config"
)

// Table is a table of the reference with the keys listed under it.
type Table struct {
	// Header is the table's header as written: "[global]", "[[pools.app.servers]]".
	Header string
	// Note is the comment beside the header.
	Note string
	// Example marks a table written as a comment: optional, shown by example.
	Example bool
	Keys    []Key
}

// Key is one key of the reference.
type Key struct {
	Name string
	// Value is the default, or an example where the key has none.
	Value string
	// Doc is the comment beside the key and the comment lines under it.
	Doc string
	// Example marks a key written as a comment.
	Example bool
}

// Path is the dotted path of the table's header: "pools.app.servers".
func (t Table) Path() string {
	return strings.Trim(t.Header, "[]")
}

// referenceBody is the reference from its first table on: what the README
// shows.
func referenceBody() string {
	src := config.Reference
	for {
		if strings.HasPrefix(src, "[") {
			return src
		}
		_, rest, ok := strings.Cut(src, "\n")
		if !ok {
			return ""
		}
		src = rest
	}
}

// vrrpHeader starts the part of the reference that the README shows in
// its section on the sidecar.
const vrrpHeader = "[[vrrp.instances]]"

// ReadmeBlocks are the two TOML blocks of the README: the proxy's keys in
// "Configuration", the sidecar's in "High availability".
func ReadmeBlocks() (proxy, vrrp string) {
	body := referenceBody()
	i := strings.Index(body, "\n"+vrrpHeader)
	if i < 0 {
		return body, ""
	}
	return strings.TrimRight(body[:i], "\n") + "\n", body[i+1:]
}

// Tables parses the reference: a table header or a key on each line,
// either one perhaps commented out (an example of an optional table or
// key), comment lines under a key adding to its doc.
func Tables() ([]Table, error) {
	var tables []Table
	for n, line := range strings.Split(referenceBody(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		example := false
		if rest, ok := strings.CutPrefix(line, "# "); ok && (strings.HasPrefix(rest, "[") || isKeyLine(rest)) {
			example, line = true, rest
		}
		code, comment := splitComment(line)
		switch {
		case strings.HasPrefix(code, "["):
			tables = append(tables, Table{Header: code, Note: comment, Example: example})
		case strings.HasPrefix(code, "#"):
			if len(tables) == 0 {
				return nil, fmt.Errorf("reference line %d: a comment before any table", n+1)
			}
			t := &tables[len(tables)-1]
			text := strings.TrimSpace(strings.TrimPrefix(code, "#"))
			if len(t.Keys) == 0 {
				t.Note = joinDoc(t.Note, text)
			} else {
				k := &t.Keys[len(t.Keys)-1]
				k.Doc = joinDoc(k.Doc, text)
			}
		case len(tables) == 0 || !isKeyLine(code):
			return nil, fmt.Errorf("reference line %d: %q is neither a table nor a key", n+1, line)
		default:
			name, value, _ := strings.Cut(code, "=")
			t := &tables[len(tables)-1]
			t.Keys = append(t.Keys, Key{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value), Doc: comment, Example: example})
		}
	}
	return tables, nil
}

// isKeyLine tells a line "key = value" from prose.
func isKeyLine(line string) bool {
	name, _, ok := strings.Cut(line, " = ")
	if !ok || name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// splitComment splits a line at its first # outside a string.
func splitComment(line string) (code, comment string) {
	inString, escaped := false, false
	for i, r := range line {
		switch {
		case escaped:
			escaped = false
		case inString && r == '\\':
			escaped = true
		case r == '"':
			inString = !inString
		case r == '#' && !inString:
			if i == 0 {
				return line, ""
			}
			return strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		}
	}
	return line, ""
}

// joinDoc adds a comment line to a doc.
func joinDoc(doc, more string) string {
	if doc == "" {
		return more
	}
	return doc + "; " + more
}
