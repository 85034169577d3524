package urlpath

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, target, path, query string
		err                       error
	}{
		// The probes that went the wrong way before paths were normalized.
		{"parent of a prefix", "/static/../app", "/app", "", nil},
		{"parent spelled %2e%2e", "/static/%2e%2e/app", "/app", "", nil},
		{"parent spelled %2E%2E", "/static/%2E%2E/app", "/app", "", nil},
		{"parent spelled half encoded", "/static/.%2E/app", "/app", "", nil},
		{"parent spelled other half", "/static/%2e./app", "/app", "", nil},
		{"into a prefix through a parent", "/app/../static/x", "/static/x", "", nil},
		{"current directory first", "/./static/x", "/static/x", "", nil},
		{"current directory %2e", "/%2e/static/x", "/static/x", "", nil},
		{"doubled slash first", "//static/x", "/static/x", "", nil},
		{"many slashes", "///static///x", "/static/x", "", nil},
		{"parent of the root, encoded", "/%2e%2e/", "", "", ErrAboveRoot},
		{"NUL encoded", "/a%00b", "", "", ErrNUL},
		{"NUL raw", "/a\x00b", "", "", ErrNUL},
		{"fragment", "/static/x#frag", "", "", ErrFragment},
		{"fragment after a query", "/static/x?a=1#frag", "", "", ErrFragment},
		{"encoded fragment is a character", "/static/x%23frag", "/static/x%23frag", "", nil},

		// Climbing above the root.
		{"parent of the root", "/..", "", "", ErrAboveRoot},
		{"parent of the root, slash", "/../", "", "", ErrAboveRoot},
		{"parent of the root, then a name", "/../static/x", "", "", ErrAboveRoot},
		{"climbs out and back", "/a/../../a/b", "", "", ErrAboveRoot},
		{"two up from one down", "/a/../..", "", "", ErrAboveRoot},
		{"doubled slash does not make a level", "/a//../../b", "", "", ErrAboveRoot},

		// Dot segments that stay inside.
		{"parent at the end", "/a/..", "/", "", nil},
		{"parent at the end, deeper", "/a/b/..", "/a/", "", nil},
		{"current at the end", "/a/.", "/a/", "", nil},
		{"current in the middle", "/a/./b/", "/a/b/", "", nil},
		{"RFC 3986 example", "/a/b/c/./../../g", "/a/g", "", nil},
		{"trailing parent and slash", "/a/b/../", "/a/", "", nil},
		{"root dot", "/.", "/", "", nil},
		{"root dot slash", "/./", "/", "", nil},
		{"doubled slash then parent", "/a//../b", "/b", "", nil},
		{"trailing slashes merged", "/a//", "/a/", "", nil},
		{"trailing slash kept", "/a/", "/a/", "", nil},

		// Names that only look like dot segments.
		{"three dots", "/.../a", "/.../a", "", nil},
		{"dotfile", "/.well-known/acme-challenge/x", "/.well-known/acme-challenge/x", "", nil},
		{"dots inside a name", "/a..b/c.", "/a..b/c.", "", nil},
		{"%2e inside a name is decoded", "/a%2eb", "/a.b", "", nil},
		{"%2e%2e%2e is three dots", "/%2e%2e%2e/a", "/.../a", "", nil},
		{"%2f is not a separator", "/static%2f..%2fapp", "/static%2f..%2fapp", "", nil},
		{"%2f beside a parent", "/a/..%2f../b", "/a/..%2f../b", "", nil},
		{"%252e is not decoded twice", "/a/%252e%252e/b", "/a/%252e%252e/b", "", nil},
		{"other escapes untouched", "/%41%62/%2E", "/%41%62/", "", nil},
		{"%2 at the end", "/a%2", "/a%2", "", nil},
		{"%2e at the end", "/a/%2e", "/a/", "", nil},
		{"%0 is not NUL", "/a%0", "/a%0", "", nil},
		{"%000 is NUL", "/a%000", "", "", ErrNUL},
		{"%2500 is not NUL", "/a%2500", "/a%2500", "", nil},

		// Queries are apart and untouched.
		{"query with parents", "/a/?x=../../etc", "/a/", "?x=../../etc", nil},
		{"query with %2e and //", "/a?p=%2e%2e//b", "/a", "?p=%2e%2e//b", nil},
		{"query with %00", "/a?p=%00", "/a", "?p=%00", nil},
		{"empty query kept", "/a/./b?", "/a/b", "?", nil},
		{"query after an unclean path", "/static/../app?x=1", "/app", "?x=1", nil},
		{"slashes in the query only", "/a?//b", "/a", "?//b", nil},

		// Targets that are not a path from the root.
		{"empty", "", "/", "", nil},
		{"query only", "?x=1", "/", "?x=1", nil},
		{"root", "/", "/", "", nil},
		{"asterisk", "*", "", "", ErrNotOriginForm},
		{"absolute URI", "http://example.com/a", "", "", ErrNotOriginForm},
		{"relative", "a/b", "", "", ErrNotOriginForm},
		{"dot first", "../a", "", "", ErrNotOriginForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, q, err := Normalize(tt.target)
			if !errors.Is(err, tt.err) || p != tt.path || q != tt.query {
				t.Errorf("Normalize(%q) = %q, %q, %v; want %q, %q, %v", tt.target, p, q, err, tt.path, tt.query, tt.err)
			}
		})
	}
}

// TestNormalFormIsReturnedAsIs checks the promise that a path in normal
// form costs no allocation: it is the caller's string, and the call
// allocates nothing.
func TestNormalFormIsReturnedAsIs(t *testing.T) {
	for _, target := range []string{"/", "/index.html", "/static/app.js?v=3", "/a/b/c/", "/.well-known/x", "/a..b/...", "/%41/%2f"} {
		p, q, err := Normalize(target)
		if err != nil || p+q != target {
			t.Errorf("Normalize(%q) = %q, %q, %v; want it back", target, p, q, err)
			continue
		}
		if n := testing.AllocsPerRun(100, func() { Normalize(target) }); n != 0 {
			t.Errorf("Normalize(%q) allocates %.0f times, want 0", target, n)
		}
	}
}

// decodeDots decodes "%2e" and "%2E", the only escapes Normalize decodes.
func decodeDots(p string) string {
	return strings.NewReplacer("%2e", ".", "%2E", ".").Replace(p)
}

// fileServerPath is how a file server resolves a path it decodes "%2e"
// in: Go's path.Clean (the resolution of net/http's FileServer), with the
// trailing slash kept when the last segment names a directory.
func fileServerPath(p string) string {
	decoded := decodeDots(p)
	clean := path.Clean(decoded)
	last := decoded[strings.LastIndexByte(decoded, '/')+1:]
	if clean != "/" && (last == "" || last == "." || last == "..") {
		clean += "/"
	}
	return clean
}

// climbsAboveRoot reports whether resolving p ever goes above the root,
// by resolving it below a directory no path can name: one whose name holds
// a NUL, which Normalize refuses.
func climbsAboveRoot(p string) bool {
	const jail = "/\x00"
	clean := path.Clean(jail + decodeDots(p))
	return clean != jail && !strings.HasPrefix(clean, jail+"/")
}

// FuzzNormalize checks Normalize against what a file server does with the
// same target: Go's path.Clean of the %2e-decoded path. For any target,
// the normalized path is the file the server would serve (modulo a
// trailing slash it decides from the last segment), climbing above the
// root is refused exactly when resolution would climb, NUL and fragments
// are refused, the query is untouched, and normal form is a fixed point.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"/static/../app", "/static/%2e%2e/app", "/app/../static/x", "/./static/x", "//static/x",
		"/%2e%2e/", "/a%00b", "/static/x#frag", "/a/..", "/..", "/a/./b/", "/a/b/.%2E", "",
		"/a?b=../c", "/a//../b", "/%2e%2e%2e", "/a%2fb/../c", "/.well-known/acme-challenge/t",
		"/x/%2E%2e/%2e/y//", "?q", "/a%2", "/%", "/a/%2e%2", "*",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		p, q, err := Normalize(target)
		rawPath, rawQuery, _ := strings.Cut(target, "?")
		if strings.Contains(target, "?") {
			rawQuery = "?" + rawQuery
		}
		switch {
		case rawPath != "" && rawPath[0] != '/':
			if err != ErrNotOriginForm {
				t.Fatalf("Normalize(%q) = %q, %v; want ErrNotOriginForm", target, p, err)
			}
			return
		case strings.Contains(target, "#"):
			if err != ErrFragment {
				t.Fatalf("Normalize(%q) = %q, %v; want ErrFragment", target, p, err)
			}
			return
		case strings.Contains(rawPath, "\x00") || strings.Contains(rawPath, "%00"):
			if err != ErrNUL {
				t.Fatalf("Normalize(%q) = %q, %v; want ErrNUL", target, p, err)
			}
			return
		}
		if rawPath == "" {
			rawPath = "/"
		}
		if climbsAboveRoot(rawPath) {
			if err != ErrAboveRoot {
				t.Fatalf("Normalize(%q) = %q, %v; want ErrAboveRoot", target, p, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Normalize(%q): %v", target, err)
		}
		if want := fileServerPath(rawPath); p != want {
			t.Fatalf("Normalize(%q) = %q; a file server resolves %q", target, p, want)
		}
		if q != rawQuery {
			t.Fatalf("Normalize(%q) query %q, want %q", target, q, rawQuery)
		}
		again, _, err := Normalize(p)
		if err != nil || again != p {
			t.Fatalf("Normalize(%q) = %q, but Normalize of that is %q, %v", target, p, again, err)
		}
		if r, err := resolve(rawPath); err != nil || r != p {
			t.Fatalf("resolve(%q) = %q, %v; Normalize gave %q: the fast path let an unclean path through", rawPath, r, err, p)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, bm := range []struct{ name, target string }{
		{"normal", "/static/css/site.css?v=20261201"},
		{"dot segments", "/static/../app/./index.html?v=1"},
		{"encoded dots", "/static/%2e%2e/app/index.html"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Normalize(bm.target); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
