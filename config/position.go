package config

import (
	"strconv"
	"strings"
)

// positions maps dotted key paths to the line that defines them, so that
// validation errors can name a line. BurntSushi/toml keeps positions to
// itself, so this reads the source once more; it only needs to understand
// table headers and "key =" lines, which is all a position needs.
//
// Elements of arrays of tables get their index: "pools.app.servers.1.address".
type positions map[string]int

func indexPositions(src string) positions {
	pos := positions{}
	counts := map[string]int{}
	table := ""
	for i, line := range strings.Split(src, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "[["):
			name := joinKey(splitKey(strings.TrimSuffix(strings.TrimSpace(cutComment(line[2:])), "]]")))
			idx := counts[name]
			counts[name] = idx + 1
			table = name + "." + strconv.Itoa(idx)
			// Later tables nested under a new array element start over.
			for k := range counts {
				if strings.HasPrefix(k, table+".") {
					delete(counts, k)
				}
			}
			pos.set(table, n)
		case line[0] == '[':
			table = resolve(joinKey(splitKey(strings.TrimSuffix(strings.TrimSpace(cutComment(line[1:])), "]"))), counts)
			pos.set(table, n)
		default:
			eq := strings.IndexByte(line, '=')
			if eq < 0 {
				continue
			}
			key := joinKey(splitKey(line[:eq]))
			if key == "" {
				continue
			}
			if table != "" {
				key = table + "." + key
			}
			pos.set(key, n)
		}
	}
	return pos
}

// set records the first line of key, and of key without array indices,
// which is how toml.MetaData names undecoded keys.
func (p positions) set(key string, line int) {
	for _, k := range []string{key, stripIndices(key)} {
		if _, ok := p[k]; !ok {
			p[k] = line
		}
	}
}

func stripIndices(key string) string {
	parts := strings.Split(key, ".")
	out := parts[:0]
	for _, part := range parts {
		if _, err := strconv.Atoi(part); err != nil {
			out = append(out, part)
		}
	}
	return strings.Join(out, ".")
}

// line returns the line of key, or of its nearest defined parent.
func (p positions) line(key string) int {
	for key != "" {
		if n, ok := p[key]; ok {
			return n
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// resolve points a [a.b.c] header inside an array of tables at its last element.
func resolve(name string, counts map[string]int) string {
	parts := strings.Split(name, ".")
	out := make([]string, 0, len(parts)+2)
	for i, part := range parts {
		out = append(out, part)
		if c, ok := counts[strings.Join(out, ".")]; ok && i < len(parts)-1 {
			out = append(out, strconv.Itoa(c-1))
		}
	}
	return strings.Join(out, ".")
}

func cutComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

// splitKey splits a dotted TOML key, honouring quoted parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func joinKey(parts []string) string { return strings.Join(parts, ".") }
