package proxy

import (
	"errors"
	"path"
	"strings"
	"testing"

	"quill/h1"
	"quill/urlpath"
)

// pathRoutes are the routes of the tests below: a /static/ pool with an
// /static/admin/ pool inside it, a few prefixes that dots, escapes and
// missing slashes could confuse, and a catch-all.
var pathRoutes = []struct{ prefix, pool string }{
	{"/static/", "static"},
	{"/static/admin/", "admin"},
	{"/app", "appPrefix"},
	{"/a.b/", "dotted"},
	{"/%41/", "escaped"},
	{"/B/", "letter"},
	{"/", "catchAll"},
}

func pathRouter() *router {
	rt := newRouter()
	for _, r := range pathRoutes {
		rt.add("", r.prefix, &pool{name: r.pool})
	}
	return rt
}

// h1PathQuery is the target of a request line as the HTTP/1 engine hands
// it to the router: origin form, or an error where the parser refuses it.
func h1PathQuery(target string) (string, error) {
	var r h1.Request
	if _, err := h1.ParseRequest([]byte("GET "+target+" HTTP/1.1\r\nHost: www.example.com\r\n\r\n"), &r, h1.Limits{}); err != nil {
		return "", err
	}
	return string(r.PathQuery()), nil
}

// TestRoutingOnNormalizedPath shows the pool each hostile target reaches
// through the HTTP/1 engine's parser, routingPath and the router, as the
// HTTP/1 front takes them, or the refusal.
func TestRoutingOnNormalizedPath(t *testing.T) {
	rt := pathRouter()
	tests := []struct {
		name, target string
		pool         string // "" when refused
		err          error  // routingPath's refusal
		parser       bool   // refused by the HTTP/1 parser already (400)
	}{
		{"plain", "/static/x", "static", nil, false},
		{"parent out of a prefix", "/static/../app", "appPrefix", nil, false},
		{"parent out of a prefix, %2e%2e", "/static/%2e%2e/app", "appPrefix", nil, false},
		{"parent out of a prefix, %2E.", "/static/%2E./x", "catchAll", nil, false},
		{"parent into a prefix", "/app/../static/x", "static", nil, false},
		{"parent into an inner prefix", "/static/x/../admin/y", "admin", nil, false},
		{"parent out of an inner prefix", "/static/admin/../x", "static", nil, false},
		{"current directory", "/./static/x", "static", nil, false},
		{"doubled slash", "//static/x", "static", nil, false},
		{"doubled slash inside", "/static//admin/y", "admin", nil, false},
		{"prefix directory itself", "/static/.", "static", nil, false},
		{"parent of the prefix directory", "/static/..", "catchAll", nil, false},
		{"prefix without its slash", "/static", "catchAll", nil, false},
		{"%2e in a name", "/a%2eb/x", "dotted", nil, false},
		{"other escapes are kept", "/%41/x", "escaped", nil, false},
		{"other escapes are not decoded", "/A/x", "catchAll", nil, false},
		{"letters are not encoded", "/%42/x", "catchAll", nil, false},
		{"%2f then a parent", "/x/..%2fstatic/y", "catchAll", nil, false},
		{"%2f is not a separator", "/static%2fx", "catchAll", nil, false},
		{"query with parents", "/app?next=/static/../x", "appPrefix", nil, false},
		{"query does not route", "/x?/static/", "catchAll", nil, false},
		{"absolute form", "http://www.example.com/static/../app", "appPrefix", nil, false},
		{"absolute form, doubled slash", "http://www.example.com//static/x", "static", nil, false},
		{"absolute form, empty path", "http://www.example.com", "catchAll", nil, false},
		{"above the root, encoded", "/%2e%2e/", "", urlpath.ErrAboveRoot, false},
		{"above the root", "/static/../../x", "", urlpath.ErrAboveRoot, false},
		{"absolute form above the root", "https://www.example.com/..", "", urlpath.ErrAboveRoot, false},
		{"NUL", "/a%00b", "", urlpath.ErrNUL, false},
		{"NUL in a prefix", "/static/x%00.png", "", urlpath.ErrNUL, false},
		{"fragment", "/static/x#frag", "", nil, true},
		{"fragment after a query", "/static/x?a#frag", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pq, err := h1PathQuery(tt.target)
			if tt.parser {
				var he *h1.Error
				if !errors.As(err, &he) || he.Status != 400 {
					t.Fatalf("HTTP/1 parser: %v, want a 400 refusal", err)
				}
				// HTTP/2 has no such parser: routingPath refuses it.
				if _, _, err := routingPath(tt.target); err != urlpath.ErrFragment {
					t.Fatalf("routingPath(%q): %v, want %v", tt.target, err, urlpath.ErrFragment)
				}
				return
			}
			if err != nil {
				t.Fatalf("HTTP/1 parser refused %q: %v", tt.target, err)
			}
			p, _, err := routingPath(pq)
			if err != tt.err {
				t.Fatalf("routingPath(%q) = %q, %v; want error %v", pq, p, err, tt.err)
			}
			if err != nil {
				return
			}
			got := rt.match("www.example.com", p)
			if got == nil || got.name != tt.pool {
				t.Errorf("%q routes on %q to %v, want %s", tt.target, p, got, tt.pool)
			}
		})
	}
}

// fileServerPath is where a file server that decodes "%2e" takes a path:
// path.Clean (net/http's FileServer), keeping the slash of a last
// segment that names a directory.
func fileServerPath(p string) string {
	decoded := strings.NewReplacer("%2e", ".", "%2E", ".").Replace(p)
	clean := path.Clean(decoded)
	last := decoded[strings.LastIndexByte(decoded, '/')+1:]
	if clean != "/" && (last == "" || last == "." || last == "..") {
		clean += "/"
	}
	return clean
}

// longestPrefix is the route a path belongs to, by brute force over
// pathRoutes rather than by the router's own ordering.
func longestPrefix(p string) (prefix, pool string) {
	for _, r := range pathRoutes {
		if strings.HasPrefix(p, r.prefix) && len(r.prefix) > len(prefix) {
			prefix, pool = r.prefix, r.pool
		}
	}
	return prefix, pool
}

// FuzzRoutingPath checks that no target routes outside the prefix its
// normalized form names: for every target the HTTP/1 parser accepts (and
// every :path as HTTP/2 carries it) whose routing path is not refused,
// the pool chosen is that of the longest prefix of the path a file server
// would resolve, and that path starts with the chosen route's prefix.
func FuzzRoutingPath(f *testing.F) {
	for _, s := range []string{
		"/static/../app", "/static/%2e%2e/app", "/app/../static/x", "/./static/x", "//static/x",
		"/%2e%2e/", "/a%00b", "/static/x#frag", "/static/admin/../x", "/static/x/../admin/y",
		"/static/.", "/static/..", "/a%2Eb/", "/%41/x", "http://h/static/../app", "http://h//static/x",
		"/static%2f../x", "/x?/static/", "*",
	} {
		f.Add(s)
	}
	rt := pathRouter()
	f.Fuzz(func(t *testing.T, target string) {
		check := func(via, sent string) {
			p, _, err := routingPath(sent)
			if err != nil || p == "*" {
				return
			}
			rawPath, _, _ := strings.Cut(sent, "?")
			if rawPath == "" {
				rawPath = "/"
			}
			want := fileServerPath(rawPath)
			if p != want {
				t.Fatalf("%s %q: routed on %q, a file server resolves %q", via, sent, p, want)
			}
			prefix, pool := longestPrefix(want)
			got := rt.match("www.example.com", p)
			if got == nil || got.name != pool {
				t.Fatalf("%s %q: pool %v, but %q is under %q (pool %s)", via, sent, got, want, prefix, pool)
			}
		}
		if pq, err := h1PathQuery(target); err == nil {
			check("HTTP/1", pq)
		}
		if strings.HasPrefix(target, "/") {
			check("HTTP/2", target)
		}
	})
}

// BenchmarkRoutingPath is the routing path of a request already in normal
// form, which must not allocate.
func BenchmarkRoutingPath(b *testing.B) {
	rt := pathRouter()
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := routingPath("/static/css/site.css?v=3")
		if err != nil || rt.match("www.example.com", p) == nil {
			b.Fatal(p, err)
		}
	}
}
