// Package urlpath puts the path of a request target in the normal form
// that routing decides on, so that a path-prefix route cannot be bypassed
// by spelling the same file another way.
//
// A web server resolves "/static/../app" to /app and "//static/x" to
// /static/x. A proxy that matched prefixes on the path as sent would send
// the first to the pool of /static/ and the second to the catch-all, while
// the server behind it serves /app and /static/x: the route names one
// place and the request reaches another. Normalize gives routing the path
// the server will resolve, and refuses what no server should be sent.
//
// What it does, and why only that:
//
//   - "%2e" and "%2E" are decoded to ".", because servers decode them
//     before they resolve dot segments ("/static/%2e%2e/app" is /app to
//     them), and "." is unreserved, so the two spellings are the same
//     path (RFC 3986 §6.2.2.2). No other escape is decoded: "%2f" stays
//     "%2f", part of a segment, never a separator, as RFC 3986 §2.2 makes
//     it; "%41" stays "%41".
//   - Dot segments are removed (RFC 3986 §5.2.4), and repeated slashes
//     merged first, as nginx (merge_slashes) and Go's path.Clean do:
//     "/a//../b" is /b.
//   - A path that climbs above "/" is refused (ErrAboveRoot). RFC 3986
//     would stop at the root; nginx refuses, and a client that asks for
//     a parent of the root is probing, not browsing.
//   - A NUL, sent as "%00" or raw, is refused (ErrNUL): file systems and C
//     strings end there, so the server would see a shorter path than the
//     one routed.
//   - A fragment ('#' anywhere in the target) is refused (ErrFragment):
//     clients never send one (RFC 9110 §7.1), and forwarding it either
//     raw or re-encoded as "%23" hands the server another target.
//   - The query is kept apart and never touched.
//
// A trailing slash is kept, and so is one that a final dot segment
// implies: "/a/." and "/a/b/.." are both "/a/", the directory. The empty
// path is "/".
package urlpath

import (
	"bytes"
	"errors"
	"strings"
	"unsafe"
)

// The refusals. A proxy answers each with 400.
var (
	// ErrNotOriginForm is a target that is neither empty nor a path from
	// the root: "*", an absolute URI, a relative path.
	ErrNotOriginForm = errors.New("request target is not a path from /")
	// ErrFragment is a target holding '#'.
	ErrFragment = errors.New("fragment in request target")
	// ErrNUL is a path holding a NUL byte, as "%00" or raw.
	ErrNUL = errors.New("NUL (%00) in path")
	// ErrAboveRoot is a path whose ".." segments climb above "/".
	ErrAboveRoot = errors.New("path climbs above /")
)

// Normalize splits an origin-form target ("/path?query") into its path in
// normal form and its query, which starts at '?' (empty when the target
// has none) and is returned exactly as it came. A path already in normal
// form is returned as is, a substring of target, without allocating.
//
// Errors are checked in a fixed order: ErrNotOriginForm, ErrFragment,
// ErrNUL, then ErrAboveRoot.
func Normalize(target string) (path, query string, err error) {
	path = target
	if i := strings.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i:]
	}
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return "", "", ErrNotOriginForm
	}
	if strings.IndexByte(target, '#') >= 0 {
		return "", "", ErrFragment
	}
	clean := true
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case 0:
			return "", "", ErrNUL
		case '%':
			if i+2 < len(path) {
				if path[i+1] == '0' && path[i+2] == '0' {
					return "", "", ErrNUL
				}
				if path[i+1] == '2' && path[i+2]|0x20 == 'e' {
					clean = false
				}
			}
		case '/':
			if i+1 < len(path) && (path[i+1] == '/' || path[i+1] == '.' && dotSegmentAt(path, i+1)) {
				clean = false
			}
		}
	}
	if clean {
		return path, query, nil
	}
	path, err = resolve(path)
	if err != nil {
		return "", "", err
	}
	return path, query, nil
}

// dotSegmentAt reports whether the segment of p starting at i (after a
// slash) is "." or "..", spelled without escapes.
func dotSegmentAt(p string, i int) bool {
	end := strings.IndexByte(p[i:], '/')
	if end < 0 {
		end = len(p) - i
	}
	seg := p[i : i+end]
	return seg == "." || seg == ".."
}

// resolve removes dot segments and empty segments from p, which starts
// with '/', after decoding "%2e". It writes each segment decoded at the
// end of out and takes it back when it turns out to be a dot segment or
// empty, so that out holds the resolved path at every step.
func resolve(p string) (string, error) {
	out := make([]byte, 0, len(p)+1)
	dir := false // the last segment seen names a directory: keep a slash
	for start := 1; start <= len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		mark := len(out)
		out = append(out, '/')
		for i := start; i < end; i++ {
			if p[i] == '%' && i+2 < end && p[i+1] == '2' && p[i+2]|0x20 == 'e' {
				out = append(out, '.')
				i += 2
				continue
			}
			out = append(out, p[i])
		}
		switch seg := string(out[mark+1:]); seg {
		case "", ".":
			out = out[:mark]
			dir = true
		case "..":
			out = out[:mark]
			if len(out) == 0 {
				return "", ErrAboveRoot
			}
			out = out[:bytes.LastIndexByte(out, '/')]
			dir = true
		default:
			dir = false
		}
		start = end + 1
	}
	if len(out) == 0 || dir {
		out = append(out, '/')
	}
	return unsafe.String(&out[0], len(out)), nil
}
