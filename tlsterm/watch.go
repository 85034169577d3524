package tlsterm

import (
	"context"
	"os"
	"slices"
	"time"

	"go.uber.org/zap"
)

// fileStamp identifies one version of a file on disk. The inode catches an
// atomic rename (how most tools, certbot and Kubernetes secrets included,
// replace files) even when size and mtime happen to match.
type fileStamp struct {
	path    string
	mtime   int64 // nanoseconds since the epoch
	size    int64
	inode   uint64
	missing bool
}

// stampFiles stamps every certificate and key file, in config order.
func stampFiles(files []CertFile) []fileStamp {
	stamps := make([]fileStamp, 0, 2*len(files))
	for _, f := range files {
		stamps = append(stamps, stamp(f.Cert))
		if f.Key != f.Cert {
			stamps = append(stamps, stamp(f.Key))
		}
	}
	return stamps
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{path: path, missing: true}
	}
	return fileStamp{path: path, mtime: fi.ModTime().UnixNano(), size: fi.Size(), inode: inode(fi)}
}

// Watch polls the certificate and key files every interval and, when one
// changed and then stayed unchanged for one more interval (so that a
// certificate written just before its key is not taken alone), reloads the
// whole set: a set that loads is swapped in and logged, one that does not
// is logged once with the reason while the current set stays in force.
// Polling rather than inotify keeps working across the symlink swaps of
// mounted secrets. A zero interval means 5 s. Watch returns when ctx is
// done or Stop is called; run it in its own goroutine.
func (t *Terminator) Watch(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var (
		seen   []fileStamp // the stamps of the previous tick
		failed []fileStamp // the stamps that last failed to load
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.done:
			return
		case <-tick.C:
		}
		g := t.cur.Load()
		now := stampFiles(g.opts.Certificates)
		settled := slices.Equal(now, seen)
		seen = now
		if !settled || slices.Equal(now, g.stamps) || slices.Equal(now, failed) {
			continue
		}
		ng, err := load(g.opts)
		if err != nil {
			failed = now
			t.log.Error("certificate files changed but do not load; keeping the current certificates", zap.Error(err))
			continue
		}
		failed = nil
		if t.publishIf(g, ng) {
			t.log.Info("certificate files changed; reloaded", zap.Strings("files", changedFiles(g.stamps, now)))
		}
	}
}

// changedFiles lists the paths whose stamps differ, for the log.
func changedFiles(old, now []fileStamp) []string {
	var paths []string
	for i, s := range now {
		if i >= len(old) || old[i] != s {
			paths = append(paths, s.path)
		}
	}
	return paths
}
