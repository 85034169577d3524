package manual

import (
	"encoding"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"quill/config"
)

const regenerate = "run go generate ./internal/manual"

// TestReadmeIsRendered fails when the README's configuration reference is
// not what config/reference.toml renders.
func TestReadmeIsRendered(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := RenderReadme(string(src))
	if err != nil {
		t.Fatal(err)
	}
	if string(src) != want {
		t.Errorf("README.md differs from config/reference.toml: %s\n%s", regenerate, firstDifference(string(src), want))
	}
}

// TestManPagesAreRendered fails when a committed man page is not what the
// command table and the reference render.
func TestManPagesAreRendered(t *testing.T) {
	pages, err := Pages()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join("../../man", name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("man/%s differs from its sources: %s\n%s", name, regenerate, firstDifference(string(got), want))
		}
	}
}

// TestManPagesFormat runs the man pages through groff with every warning
// on: a troff mistake of the renderer shows as a warning.
func TestManPagesFormat(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("groff is missing")
		}
		t.Skip("groff is missing")
	}
	pages, err := Pages()
	if err != nil {
		t.Fatal(err)
	}
	for name, page := range pages {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = strings.NewReader(page)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff on %s: %v\n%s", name, err, out)
		}
	}
}

// TestReferenceDecodes decodes the reference as quill decodes a file: every
// key it sets is one the config knows.
func TestReferenceDecodes(t *testing.T) {
	var c config.Config
	md, err := toml.Decode(config.Reference, &c)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("config/reference.toml sets keys the config does not know: %v", u)
	}
}

// TestReferenceCoversConfig checks both ways between the reference and the
// config types: every key the reference names, examples in comments
// included, is a field of the config, and every field of every config
// type is named somewhere in the reference.
func TestReferenceCoversConfig(t *testing.T) {
	tables, err := Tables()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[field]bool{}
	root := reflect.TypeFor[config.Config]()
	for _, tb := range tables {
		typ, err := resolve(root, strings.Split(tb.Path(), "."), covered)
		if err != nil {
			t.Errorf("table %s: %v", tb.Header, err)
			continue
		}
		for _, k := range tb.Keys {
			var value map[string]any
			if _, err := toml.Decode(k.Name+" = "+k.Value, &value); err != nil {
				t.Errorf("%s %s: the value does not parse: %v", tb.Header, k.Name, err)
				continue
			}
			for _, path := range keyPaths(k.Name, value[k.Name]) {
				if _, err := resolve(typ, path, covered); err != nil {
					t.Errorf("%s %s: %v", tb.Header, strings.Join(path, "."), err)
				}
			}
		}
	}
	for _, f := range fields(root, map[reflect.Type]bool{}) {
		if !covered[f] {
			t.Errorf("config.%s field %q is not in config/reference.toml: add a line for it, then %s", f.typ.Name(), f.key, regenerate)
		}
	}
}

// field is a key of a config type.
type field struct {
	typ reflect.Type
	key string
}

// resolve follows a key path from a config type, marking the fields it
// passes as covered, and returns the type the path ends at. A map takes
// any name (the NAME of vips.NAME).
func resolve(typ reflect.Type, path []string, covered map[field]bool) (reflect.Type, error) {
	for _, seg := range path {
		typ = table(typ)
		switch typ.Kind() {
		case reflect.Map:
			typ = typ.Elem()
			continue
		case reflect.Struct:
		default:
			return nil, fmt.Errorf("%q: %s has no keys", seg, typ)
		}
		f, ok := fieldByKey(typ, seg)
		if !ok {
			return nil, fmt.Errorf("config.%s has no key %q", typ.Name(), seg)
		}
		covered[field{typ, seg}] = true
		typ = f.Type
	}
	return table(typ), nil
}

// table is the type of the table a value of typ holds: pointers and
// arrays of tables stripped.
func table(typ reflect.Type) reflect.Type {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice && isTable(typ.Elem()) {
		typ = typ.Elem()
	}
	return typ
}

// isTable tells a type decoded from a TOML table from a leaf value
// (a Duration is a struct decoded from a string).
func isTable(typ reflect.Type) bool {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if reflect.PointerTo(typ).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) ||
		reflect.PointerTo(typ).Implements(reflect.TypeFor[toml.Unmarshaler]()) {
		return false
	}
	return typ.Kind() == reflect.Struct || typ.Kind() == reflect.Map
}

func fieldByKey(typ reflect.Type, key string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// fields lists every key of every config type reachable from typ.
func fields(typ reflect.Type, seen map[reflect.Type]bool) []field {
	typ = table(typ)
	if typ.Kind() == reflect.Map {
		return fields(typ.Elem(), seen)
	}
	if typ.Kind() != reflect.Struct || !isTable(typ) || seen[typ] {
		return nil
	}
	seen[typ] = true
	var out []field
	for i := range typ.NumField() {
		f := typ.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		out = append(out, field{typ, key})
		out = append(out, fields(f.Type, seen)...)
	}
	return out
}

// keyPaths are the key paths a value names: the key itself, and the keys
// of the inline tables it holds.
func keyPaths(key string, value any) [][]string {
	paths := [][]string{{key}}
	var inner []map[string]any
	switch v := value.(type) {
	case map[string]any:
		inner = append(inner, v)
	case []map[string]any:
		inner = v
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				inner = append(inner, m)
			}
		}
	}
	for _, m := range inner {
		for k, v := range m {
			for _, p := range keyPaths(k, v) {
				paths = append(paths, append([]string{key}, p...))
			}
		}
	}
	return paths
}

// firstDifference shows the first line where got and want part.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  have %q\n  want %q", i+1, gl, wl)
		}
	}
	return ""
}
