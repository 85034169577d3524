package proxy

import "testing"

func TestRouterPrecedence(t *testing.T) {
	pools := map[string]*pool{}
	for _, n := range []string{"exact", "exactStatic", "wild", "deepWild", "wildApi", "any", "anyStatic"} {
		pools[n] = &pool{name: n}
	}
	rt := newRouter()
	rt.add("www.example.com", "/", pools["exact"])
	rt.add("WWW.example.com", "/static/", pools["exactStatic"])
	rt.add("*.example.com", "/", pools["wild"])
	rt.add("*.api.example.com", "/", pools["deepWild"])
	rt.add("*.example.com", "/api/", pools["wildApi"])
	rt.add("", "/", pools["any"])
	rt.add("", "/static/", pools["anyStatic"])

	tests := []struct {
		name, host, path, want string
	}{
		{"exact host", "www.example.com", "/index.html", "exact"},
		{"exact host, longest prefix", "www.example.com", "/static/a.css", "exactStatic"},
		{"host case and port ignored", "WWW.Example.COM:8080", "/static/a.css", "exactStatic"},
		{"trailing dot", "www.example.com.", "/", "exact"},
		{"wildcard", "shop.example.com", "/", "wild"},
		{"wildcard, longest prefix", "shop.example.com", "/api/v1", "wildApi"},
		{"longer wildcard first", "v1.api.example.com", "/", "deepWild"},
		{"wildcard any depth", "a.b.example.com", "/", "wild"},
		{"wildcard does not match the bare domain", "example.com", "/", "any"},
		{"unknown host falls to any", "other.org", "/static/x", "anyStatic"},
		{"no host", "", "/", "any"},
		{"ipv6 host with port", "[::1]:8080", "/", "any"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rt.match(tt.host, tt.path)
			if got == nil || got.name != tt.want {
				t.Errorf("match(%q, %q) = %v, want %s", tt.host, tt.path, got, tt.want)
			}
		})
	}
}

func TestRouterNoMatch(t *testing.T) {
	rt := newRouter()
	rt.add("www.example.com", "/app/", &pool{name: "app"})
	tests := []struct{ name, host, path string }{
		{"other host", "other.org", "/app/"},
		{"other path", "www.example.com", "/"},
		{"prefix is not a substring match", "www.example.com", "/ap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rt.match(tt.host, tt.path); got != nil {
				t.Errorf("match(%q, %q) = %s, want no route", tt.host, tt.path, got.name)
			}
		})
	}
}

func BenchmarkRouterMatch(b *testing.B) {
	rt := newRouter()
	for _, h := range []string{"a.example.com", "b.example.com", "www.example.com", "c.example.org"} {
		rt.add(h, "/", &pool{name: h})
		rt.add(h, "/static/", &pool{name: h + "static"})
	}
	rt.add("*.example.net", "/", &pool{name: "wild"})
	rt.add("", "/", &pool{name: "any"})
	b.ReportAllocs()
	for b.Loop() {
		if rt.match("www.example.com:8080", "/static/app.js") == nil {
			b.Fatal("no match")
		}
		if rt.match("x.example.net", "/") == nil {
			b.Fatal("no match")
		}
	}
}
