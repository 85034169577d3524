package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// resolvePaths makes the relative paths of the file relative to dir, the
// directory of the config file, so that a file means the same from a shell
// and under systemd (whose working directory is /). "-" (stdout) and
// syslog URLs are not paths.
func (c *Config) resolvePaths(dir string) {
	at := func(p *string) {
		if *p != "" && *p != "-" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	at(&c.Global.PidFile)
	if c.AccessLog != nil {
		at(&c.AccessLog.Path)
	}
	for _, v := range c.VIPs {
		if v.AccessLog != nil {
			at(&v.AccessLog.Path)
		}
		if t := v.TLS; t != nil {
			for i := range t.Certificates {
				at(&t.Certificates[i].Cert)
				at(&t.Certificates[i].Key)
			}
			if a := t.ACME; a != nil {
				at(&a.Storage)
				at(&a.RootCA)
			}
		}
	}
	for i := range c.VRRP.Instances {
		in := &c.VRRP.Instances[i]
		// A program named with a slash is a path, as in a shell; a bare
		// name is looked up in PATH.
		if f := strings.Fields(in.Notify); len(f) > 0 && strings.Contains(f[0], "/") && !filepath.IsAbs(f[0]) {
			prog := filepath.Join(dir, f[0])
			in.Notify = strings.Join(append([]string{prog}, f[1:]...), " ")
		}
	}
}

// notify refuses a relative notify program when the config file's
// directory has blanks in its name: the command line is split at blanks,
// so the resolved path would be cut in two. It runs before resolvePaths.
func (v *validator) notify(c *Config, dir string) {
	if !strings.ContainsAny(dir, " \t") {
		return
	}
	for i, in := range c.VRRP.Instances {
		if f := strings.Fields(in.Notify); len(f) > 0 && strings.Contains(f[0], "/") && !filepath.IsAbs(f[0]) {
			v.errorf(fmt.Sprintf("vrrp.instances.%d.notify", i), "vrrp instance %q: notify %q: the config file's directory %q has blanks, which would split the command line; give the program's absolute path", in.Name, f[0], dir)
		}
	}
}

// CheckFiles finds, in the file system, what starting or reloading with c
// would refuse: an access log or a pid file that cannot be written. It
// touches nothing that exists (a directory is tried with a file created and
// removed at once), so `quill check` can run it beside the running proxy;
// run, check and reload all call it, so that they cannot disagree. The
// error, when not nil, joins one *Error per problem.
func (c *Config) CheckFiles() error {
	var errs []error
	seen := map[string]bool{}
	logs := map[string]*AccessLog{"access_log": c.AccessLog}
	for name, v := range c.VIPs {
		logs["vips."+name+".access_log"] = v.AccessLog
	}
	for _, path := range sortedKeys(logs) {
		a := logs[path]
		if a == nil || a.Path == "" || a.Path == "-" {
			continue
		}
		if seen[a.Path] {
			continue
		}
		seen[a.Path] = true
		if err := writable(a.Path); err != nil {
			errs = append(errs, c.Errorf(path+".path", "%s: path %q: %v", path, a.Path, err))
		}
	}
	if p := c.Global.PidFile; p != "" {
		if err := writable(p); err != nil {
			errs = append(errs, c.Errorf("global.pid_file", "global: pid_file %q: %v", p, err))
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].(*Error).Line < errs[j].(*Error).Line })
	return errors.Join(errs...)
}

// writable reports why a file could not be opened for writing, as the
// access log and the pid file are: an existing file must take writes; a
// new one needs a directory that exists and lets this user create a file.
// Trying is the only answer that counts modes, ACLs, read-only mounts and
// security modules alike.
func writable(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return errors.New("is a directory")
		}
		if !fi.Mode().IsRegular() {
			// A FIFO without a reader would block an open: ask instead.
			if err := unix.Access(path, unix.W_OK); err != nil {
				return fmt.Errorf("exists but cannot be written (%v)", err)
			}
			return nil
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("exists but cannot be written (%v)", unwrapPath(err))
		}
		return f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
		// ENOTDIR: a part of the directory is a file, said below.
		return unwrapPath(err)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %q does not exist", dir)
	case err != nil:
		return fmt.Errorf("directory %q: %v", dir, unwrapPath(err))
	case !fi.IsDir():
		return fmt.Errorf("%q is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".quill-check-*")
	if err != nil {
		return fmt.Errorf("directory %q is not writable (%v)", dir, unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// unwrapPath drops the operation and path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
