package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebianPackage builds the .deb with packaging/deb/build.sh, installs
// it with dpkg -i, checks what a Debian administrator expects of it, then
// purges it and checks that nothing of it is left. It installs a package
// and a system user on the machine, so it runs only in CI, as root.
func TestDebianPackage(t *testing.T) {
	if os.Getenv("CI") == "" {
		t.Skip("installs the package and the user quill on this machine: runs only in CI (CI set)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("dpkg -i needs root")
	}
	for _, tool := range []string{"dpkg-deb", "dpkg", "man", "logrotate", "setpriv"} {
		requireTool(t, tool)
	}
	if out, err := command(t, "dpkg-query", "-W", "-f=${Status}", "quill"); err == nil && strings.Contains(out, "installed") {
		t.Fatalf("a quill package is on this machine already (%s): the test would purge it", out)
	}
	for _, lookup := range []func(string) error{lookupUser, lookupGroup} {
		if err := lookup("quill"); err == nil {
			t.Fatal("the user or group quill exists already: the test could not tell the package's from it")
		}
	}
	for _, dir := range []string{"/etc/quill", "/var/log/quill", "/var/lib/quill"} {
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("%s exists already: the test could not tell what the purge leaves", dir)
		}
	}

	// CGO_ENABLED=1 builds what TestMain built, so the build cache serves it.
	build := exec.Command("../packaging/deb/build.sh", t.TempDir())
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := build.Output()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, stderrOf(err))
	}
	deb := strings.TrimSpace(string(out))
	version := mustCommand(t, "dpkg-deb", "-f", deb, "Version")

	mustCommand(t, "dpkg", "-i", deb)
	t.Cleanup(func() {
		if out, err := command(t, "dpkg-query", "-W", "-f=${Status}", "quill"); err == nil && strings.Contains(out, "installed") {
			command(t, "dpkg", "-P", "quill")
		}
	})
	installed := strings.Split(mustCommand(t, "dpkg", "-L", "quill"), "\n")

	t.Run("files", func(t *testing.T) {
		for _, f := range []struct {
			path string
			mode fs.FileMode
			user string
			want string
		}{
			{"/usr/bin/quill", 0o755, "root", ""},
			{"/etc/quill/quill.toml", 0o640, "root", "[pools.app]"},
			{"/usr/lib/systemd/system/quill.service", 0o644, "root", "ExecStart=/usr/bin/quill run -c /etc/quill/quill.toml"},
			{"/usr/lib/systemd/system/quill-vrrp.service", 0o644, "root", "ExecStart=/usr/bin/quill vrrp -c /etc/quill/quill.toml"},
			{"/etc/logrotate.d/quill", 0o644, "root", "/var/log/quill/*.log"},
			{"/usr/share/man/man1/quill.1.gz", 0o644, "root", ""},
			{"/usr/share/man/man5/quill-toml.5.gz", 0o644, "root", ""},
			{"/usr/share/doc/quill/README.md", 0o644, "root", "## Install"},
			{"/usr/share/doc/quill/examples/quickstart.toml", 0o644, "root", "[pools.app]"},
			{"/usr/share/doc/quill/examples/active-active/three/lb3.toml", 0o644, "root", "[[vrrp.instances]]"},
			{"/var/log/quill", fs.ModeDir | 0o750, "quill", ""},
			{"/var/lib/quill", fs.ModeDir | 0o750, "quill", ""},
		} {
			checkFile(t, f.path, f.mode, f.user, f.want)
		}
		if g := groupOf(t, "/etc/quill/quill.toml"); g != "quill" {
			t.Errorf("/etc/quill/quill.toml: group %s, want quill, which the service runs as", g)
		}
		for _, unit := range []string{"quill.service", "quill-vrrp.service"} {
			if _, err := os.Lstat("/etc/systemd/system/multi-user.target.wants/" + unit); err == nil {
				t.Errorf("%s is enabled by the install: the administrator enables it once the config is written", unit)
			}
		}
		conffiles := mustCommand(t, "dpkg-query", "-W", "-f=${Conffiles}", "quill")
		for _, c := range []string{"/etc/quill/quill.toml", "/etc/logrotate.d/quill"} {
			if !strings.Contains(conffiles, c+" ") {
				t.Errorf("%s is not a conffile: %q", c, conffiles)
			}
		}
	})

	t.Run("user", func(t *testing.T) {
		u, err := user.Lookup("quill")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		if uid == 0 || uid >= 1000 || u.HomeDir != "/var/lib/quill" {
			t.Errorf("user quill: uid %d, home %s; want a system user (uid below 1000) at home in /var/lib/quill", uid, u.HomeDir)
		}
		passwd := mustCommand(t, "getent", "passwd", "quill")
		if !strings.HasSuffix(passwd, ":/usr/sbin/nologin") {
			t.Errorf("user quill can log in: %s", passwd)
		}
	})

	t.Run("commands", func(t *testing.T) {
		// As root, and as the unit's ExecStartPre runs it: as quill,
		// which must read the config and write the log and pid directories.
		mustCommand(t, "/usr/bin/quill", "check", "/etc/quill/quill.toml")
		mustCommand(t, "setpriv", "--reuid=quill", "--regid=quill", "--init-groups", "/usr/bin/quill", "check", "-c", "/etc/quill/quill.toml")
		if got := mustCommand(t, "/usr/bin/quill", "version"); !strings.HasPrefix(got, "quill "+version+" ") {
			t.Errorf("quill version: %q, want the package's version %s", got, version)
		}
		for _, page := range [][]string{{"1", "quill", "/usr/share/man/man1/quill.1.gz"}, {"5", "quill-toml", "/usr/share/man/man5/quill-toml.5.gz"}} {
			if got := mustCommand(t, "man", "-w", page[0], page[1]); got != page[2] {
				t.Errorf("man -w %s %s: %q, want %s", page[0], page[1], got, page[2])
			}
		}
		if got := mustCommand(t, "man", "-P", "cat", "quill"); !strings.Contains(got, "quill check [-c FILE | FILE]") {
			t.Errorf("man quill does not show quill check:\n%s", got)
		}
		mustCommand(t, "logrotate", "--debug", "/etc/logrotate.d/quill")
	})

	// Removing keeps what is the administrator's: the config, the logs,
	// the user; purging takes them too.
	mustCommand(t, "dpkg", "-r", "quill")
	t.Run("removed", func(t *testing.T) {
		if _, err := os.Stat("/usr/bin/quill"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("/usr/bin/quill after dpkg -r: %v", err)
		}
		for _, path := range []string{"/etc/quill/quill.toml", "/etc/logrotate.d/quill", "/var/log/quill"} {
			if _, err := os.Stat(path); err != nil {
				t.Errorf("dpkg -r took what purge should: %v", err)
			}
		}
		if err := lookupUser("quill"); err != nil {
			t.Errorf("dpkg -r took the user quill: %v", err)
		}
	})
	mustCommand(t, "dpkg", "-P", "quill")
	t.Run("purged", func(t *testing.T) {
		for _, path := range append(installed, "/etc/quill", "/var/log/quill", "/var/lib/quill", "/run/quill", "/usr/share/doc/quill") {
			info, err := os.Lstat(path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				t.Error(err)
			case !info.IsDir() || strings.Contains(path, "quill"):
				t.Errorf("%s is left after dpkg -P", path)
			}
		}
		if err := lookupUser("quill"); err == nil {
			t.Error("the user quill is left after dpkg -P")
		}
		if err := lookupGroup("quill"); err == nil {
			t.Error("the group quill is left after dpkg -P")
		}
		if overrides := mustCommand(t, "dpkg-statoverride", "--list"); strings.Contains(overrides, "quill") {
			t.Errorf("dpkg-statoverride keeps quill's: %s", overrides)
		}
		if out, err := command(t, "dpkg-query", "-W", "-f=${Status}", "quill"); err == nil && out != "" && !strings.Contains(out, "not-installed") {
			t.Errorf("dpkg still knows quill: %s", out)
		}
	})
}

func lookupUser(name string) error {
	_, err := user.Lookup(name)
	return err
}

func lookupGroup(name string) error {
	_, err := user.LookupGroup(name)
	return err
}

// checkFile checks a path's type and mode, its owner, and, for a file,
// that it holds want.
func checkFile(t *testing.T, path string, mode fs.FileMode, owner, want string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if info.Mode()&(fs.ModeType|fs.ModePerm) != mode {
		t.Errorf("%s: mode %v, want %v", path, info.Mode(), mode)
	}
	u, err := user.LookupId(strconv.Itoa(int(info.Sys().(*syscall.Stat_t).Uid)))
	if err != nil || u.Username != owner {
		t.Errorf("%s: owner %v (%v), want %s", path, u, err, owner)
	}
	if want == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), want) {
		t.Errorf("%s does not hold %q (%v)", path, want, err)
	}
}

func groupOf(t *testing.T, path string) string {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(int(info.Sys().(*syscall.Stat_t).Gid)))
	if err != nil {
		return err.Error()
	}
	return g.Name
}

// command runs a program for at most a minute and returns its stdout,
// trimmed.
func command(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return strings.TrimSpace(string(out)), err
}

func mustCommand(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := command(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderrOf(err))
	}
	return out
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Sprintf("\n%s", ee.Stderr)
	}
	return ""
}
