package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// unprivileged runs the rest of the test with the effective user and group
// nobody when the test runs as root, whom no file mode stops; the real and
// saved ids stay root, so the cleanup can switch back. Tests that call it
// must not run in parallel: the ids are the whole process's.
func unprivileged(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	const nobody = 65534
	if err := syscall.Setresgid(-1, nobody, -1); err != nil {
		t.Fatalf("setresgid: %v", err)
	}
	if err := syscall.Setresuid(-1, nobody, -1); err != nil {
		syscall.Setresgid(-1, 0, -1)
		t.Fatalf("setresuid: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Setresuid(-1, 0, -1); err != nil {
			panic(err)
		}
		if err := syscall.Setresgid(-1, 0, -1); err != nil {
			panic(err)
		}
	})
}

// fileTree is a directory the unprivileged user can enter but not write
// ("ro"), with a directory it can write ("rw"), an existing log it can
// write and one it cannot, and a regular file in place of a directory.
func fileTree(t *testing.T) string {
	t.Helper()
	// Not t.TempDir: its parents are closed to other users.
	root, err := os.MkdirTemp("", "quill-files-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(root)
	})
	steps := []func() error{
		func() error { return os.Chmod(root, 0o755) },
		func() error { return os.Mkdir(filepath.Join(root, "rw"), 0o777) },
		func() error { return os.Chmod(filepath.Join(root, "rw"), 0o777) },
		func() error { return os.Mkdir(filepath.Join(root, "ro"), 0o555) },
		func() error { return os.WriteFile(filepath.Join(root, "rw", "ok.log"), nil, 0o666) },
		func() error { return os.Chmod(filepath.Join(root, "rw", "ok.log"), 0o666) },
		func() error { return os.WriteFile(filepath.Join(root, "rw", "locked.log"), nil, 0o444) },
		func() error { return os.WriteFile(filepath.Join(root, "ro", "ok.log"), nil, 0o666) },
		func() error { return os.Chmod(filepath.Join(root, "ro", "ok.log"), 0o666) },
		func() error { return os.WriteFile(filepath.Join(root, "file"), nil, 0o644) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestCheckFiles: what start would refuse in the file system is refused at
// the line of its key, and what start accepts passes.
func TestCheckFiles(t *testing.T) {
	root := fileTree(t)
	at := func(p string) string { return filepath.Join(root, p) }
	logFile := func(path string) string {
		return "[access_log]\npath = \"" + path + "\"\n" + base
	}
	pidFile := func(path string) string {
		return "[global]\npid_file = \"" + path + "\"\n" + base
	}
	vipLog := func(path string) string {
		return base + "[vips.web.access_log]\npath = \"" + path + "\"\n"
	}
	tests := []struct {
		name string
		src  string
		want string // "" when the file passes
	}{
		{"new log in a writable directory", logFile(at("rw/new.log")), ""},
		{"existing writable log", logFile(at("rw/ok.log")), ""},
		{"existing writable log in a directory that is not", logFile(at("ro/ok.log")), ""},
		{"stdout", logFile("-"), ""},
		{"writable pid file", pidFile(at("rw/quill.pid")), ""},
		{"log directory missing", logFile(at("nope/access.log")),
			`quill.toml:2: access_log: path "` + at("nope/access.log") + `": directory "` + at("nope") + `" does not exist`},
		{"log directory not writable", logFile(at("ro/access.log")),
			`quill.toml:2: access_log: path "` + at("ro/access.log") + `": directory "` + at("ro") + `" is not writable (permission denied)`},
		{"log file not writable", logFile(at("rw/locked.log")),
			`quill.toml:2: access_log: path "` + at("rw/locked.log") + `": exists but cannot be written (permission denied)`},
		{"log path is a directory", logFile(at("rw")),
			`quill.toml:2: access_log: path "` + at("rw") + `": is a directory`},
		{"log directory is a file", logFile(at("file/access.log")),
			`quill.toml:2: access_log: path "` + at("file/access.log") + `": "` + at("file") + `" is not a directory`},
		{"vip log directory missing", vipLog(at("nope/web.log")),
			`quill.toml:9: vips.web.access_log: path "` + at("nope/web.log") + `": directory "` + at("nope") + `" does not exist`},
		{"pid directory missing", pidFile(at("run/quill/quill.pid")),
			`quill.toml:2: global: pid_file "` + at("run/quill/quill.pid") + `": directory "` + at("run/quill") + `" does not exist`},
		{"pid directory not writable", pidFile(at("ro/quill.pid")),
			`quill.toml:2: global: pid_file "` + at("ro/quill.pid") + `": directory "` + at("ro") + `" is not writable (permission denied)`},
		{"pid file not writable", pidFile(at("rw/locked.log")),
			`quill.toml:2: global: pid_file "` + at("rw/locked.log") + `": exists but cannot be written (permission denied)`},
	}
	unprivileged(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(at("quill.toml"), tt.src)
			if err != nil {
				t.Fatal(err)
			}
			before := listTree(t, root)
			err = c.CheckFiles()
			if after := listTree(t, root); !slices.Equal(before, after) {
				t.Errorf("the check changed the tree:\nbefore %q\nafter  %q", before, after)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			want := strings.Replace(tt.want, "quill.toml:", at("quill.toml")+":", 1)
			if err == nil || err.Error() != want {
				t.Fatalf("error\n  %v\nwant\n  %s", err, want)
			}
		})
	}
}

// TestCheckFilesRelative: a relative log path is checked where quill will
// open it, in the config file's directory, not in the working directory.
func TestCheckFilesRelative(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "[access_log]\npath = \"logs/access.log\"\n" + base
	tests := []struct {
		name, config, want string
	}{
		{"beside the directory", filepath.Join(dir, "quill.toml"), ""},
		{"elsewhere", filepath.Join(dir, "logs", "quill.toml"), `directory "` + filepath.Join(dir, "logs", "logs") + `" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.config, src)
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckFiles()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}
