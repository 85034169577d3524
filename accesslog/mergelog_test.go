package accesslog

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mergelogInput generates one log of n lines in the zone +0100 with
// times that collide across inputs and within it, one line out of order,
// a malformed line and a line longer than mergelog's own read buffer.
func mergelogInput(r *rand.Rand, name string, n int) string {
	var b strings.Builder
	sec := r.IntN(3)
	for i := range n {
		sec += r.IntN(3)
		switch i {
		case n / 4:
			// A request that finished late, logged under its arrival time.
			fmt.Fprintf(&b, "%s - - [10/Oct/2024:13:%02d:%02d +0100] \"GET /late HTTP/1.1\" 200 7\n", name, (sec-5+3600)%3600/60, (sec+55)%60)
		case n / 2:
			fmt.Fprintf(&b, "%s malformed line %d\n", name, i)
		case 3 * n / 4:
			fmt.Fprintf(&b, "%s - - [10/Oct/2024:13:%02d:%02d +0100] \"GET /%s HTTP/1.1\" 200 7\n", name, sec/60, sec%60, strings.Repeat("z", 5000))
		default:
			fmt.Fprintf(&b, "%s - - [10/Oct/2024:13:%02d:%02d +0100] \"GET /%d HTTP/1.1\" 200 %d\n", name, sec/60, sec%60, i, r.IntN(9000))
		}
	}
	return b.String()
}

// TestMergeEqualsMergelog runs Debian's mergelog and zmergelog on the same
// inputs as MergeFiles and wants the same bytes. mergelog orders equal
// times by input order and writes a malformed line right after the line
// before it in its file, as Merge does; it ignores UTC offsets, so all
// inputs share one offset here.
func TestMergeEqualsMergelog(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	var plain []string
	for i, n := range []int{400, 300, 350} {
		p := filepath.Join(dir, fmt.Sprintf("access%d.log", i))
		if err := os.WriteFile(p, []byte(mergelogInput(r, fmt.Sprintf("192.0.2.%d", i+1), n)), 0o644); err != nil {
			t.Fatal(err)
		}
		plain = append(plain, p)
	}
	data, err := os.ReadFile(plain[1])
	if err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "access1.log.1")
	if err := os.WriteFile(gz, gzipped(t, string(data)), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		binary string
		paths  []string
	}{
		{name: "plain", binary: "mergelog", paths: plain},
		{name: "plain reversed", binary: "mergelog", paths: []string{plain[2], plain[1], plain[0]}},
		{name: "gzip", binary: "zmergelog", paths: []string{plain[0], gz, plain[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, err := exec.LookPath(tt.binary)
			if err != nil {
				t.Skipf("%s not installed (apt-get install mergelog)", tt.binary)
			}
			want, err := exec.Command(bin, tt.paths...).Output()
			if err != nil {
				t.Fatalf("%s: %v", tt.binary, err)
			}
			var got bytes.Buffer
			st, err := MergeFiles(&got, tt.paths)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Fatalf("line %d differs:\n got  %.200s\n want %.200s", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("got %d lines, %s wrote %d", len(gl), tt.binary, len(wl))
			}
			if st.Lines != 1050 || st.Unparsed != 3 {
				t.Fatalf("stats = %+v, want 1050 lines, 3 unparsed", st)
			}
		})
	}
}
