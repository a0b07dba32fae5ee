package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestHoldHeap: a reload lowers the soft memory limit to what the runtime
// holds plus reloadHeadroom, and gives back the limit it found; a lower
// limit in force is left alone. Not parallel: the limit is the process's.
func TestHoldHeap(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	tests := []struct {
		name  string
		limit int64
		held  bool
	}{
		{"no limit", math.MaxInt64, true},
		{"a limit above what is held", 1 << 50, true},
		{"a lower limit in force", 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.limit)
			release := holdHeap()
			during := debug.SetMemoryLimit(-1)
			release()
			if after := debug.SetMemoryLimit(-1); after != tt.limit {
				t.Errorf("limit after the hold %d, want %d back", after, tt.limit)
			}
			if held := during < tt.limit; held != tt.held {
				t.Errorf("limit during the hold %d (was %d): held %v, want %v", during, tt.limit, held, tt.held)
			}
			if tt.held && during < reloadHeadroom {
				t.Errorf("limit during the hold %d: below the headroom", during)
			}
		})
	}
}
