package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long the directory must stay quiet after an event
// before the file is looked at: editors and kubelet make several changes.
const watchDebounce = 200 * time.Millisecond

// Watch calls onChange each time the content of the file at path changes,
// until ctx is done; then it returns nil. It watches the file's directory,
// not the file, so it sees editors that replace the file and Kubernetes
// ConfigMap volumes that swap a symlink. Events are debounced, and onChange
// runs only when the content differs from what it was last time, so
// unrelated files in the directory do not trigger it. onChange runs on
// Watch's goroutine. Watch returns an error if it cannot watch the directory.
func Watch(ctx context.Context, path string, onChange func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	last := digest(path)
	timer := time.NewTimer(watchDebounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return errors.New("config: watch: watcher closed")
			}
			timer.Reset(watchDebounce)
		case _, ok := <-w.Errors:
			if !ok {
				return errors.New("config: watch: watcher closed")
			}
			// Events may have been dropped: look at the file anyway.
			timer.Reset(watchDebounce)
		case <-timer.C:
			if d := digest(path); d != nil && !bytes.Equal(d, last) {
				last = d
				onChange()
			}
		}
	}
}

// digest returns a hash of the file's content, or nil if it cannot be read
// (for a moment while it is being replaced, say).
func digest(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:]
}
