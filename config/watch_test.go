package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// watching starts Watch on path and returns a channel that receives a value
// for each onChange call, and a function that stops Watch and returns its
// result.
func watching(t *testing.T, path string) (<-chan struct{}, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, path, func() { changes <- struct{}{} }) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("Watch did not return after its context was cancelled")
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return changes, stop
}

// changeUntilSeen calls change with 1, 2, ... until Watch reports a change;
// the first changes may come before Watch has started watching.
func changeUntilSeen(t *testing.T, changes <-chan struct{}, change func(n int)) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for n := 1; ; n++ {
		change(n)
		select {
		case <-changes:
			return
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatal("no change seen")
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// drain waits for a quiet period and reports whether onChange was called.
func drain(changes <-chan struct{}, quiet time.Duration) bool {
	called := false
	for {
		select {
		case <-changes:
			called = true
		case <-time.After(quiet):
			return called
		}
	}
}

func TestWatchFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "tocsin.yml")
	writeFile(t, path, "v0")
	changes, stop := watching(t, path)

	changeUntilSeen(t, changes, func(n int) { writeFile(t, path, fmt.Sprint("v", n)) })
	drain(changes, time.Second)

	// Unrelated files and rewrites with the same content are not changes.
	writeFile(t, filepath.Join(dir, "other.yml"), "other")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(content))
	if drain(changes, time.Second) {
		t.Error("onChange called without a change of content")
	}

	// An editor that writes a new file and renames it over the old one.
	tmp := filepath.Join(dir, ".tocsin.yml.swp")
	writeFile(t, tmp, "renamed")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !drain(changes, time.Second) {
		t.Error("onChange not called after the file was replaced")
	}
	if err := stop(); err != nil {
		t.Errorf("Watch returned %v, want nil", err)
	}
}

// TestWatchConfigMap swaps a symlink the way kubelet updates a ConfigMap
// volume: tocsin.yml -> ..data/tocsin.yml, ..data -> ..<timestamp>.
func TestWatchConfigMap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	version := func(n int) {
		ts := fmt.Sprintf("..2026_01_01_00_00_%02d", n)
		if err := os.Mkdir(filepath.Join(dir, ts), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, ts, "tocsin.yml"), fmt.Sprint("version ", n))
		if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version(0)
	path := filepath.Join(dir, "tocsin.yml")
	if err := os.Symlink(filepath.Join("..data", "tocsin.yml"), path); err != nil {
		t.Fatal(err)
	}
	changes, _ := watching(t, path)
	changeUntilSeen(t, changes, version)
}

func TestWatchMissingDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "tocsin.yml")
	if err := Watch(context.Background(), path, func() {}); err == nil {
		t.Error("Watch of a file in a missing directory succeeded")
	}
}
