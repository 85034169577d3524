package main

import (
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// watchConfig calls reload when the config file changes on disk
// (global.watch). It watches the directory, not the file, because editors
// and config managers replace a file by renaming a new one over it; and it
// waits for writes to settle so that a half-written file is not read.
func watchConfig(path string, reload func() error, log *zap.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return err
	}
	go func() {
		defer w.Close()
		var settle <-chan time.Time
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					settle = time.After(300 * time.Millisecond)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config watch", zap.Error(err))
			case <-settle:
				settle = nil
				log.Info("config file changed; reloading", zap.String("file", path))
				reload()
			}
		}
	}()
	return nil
}
