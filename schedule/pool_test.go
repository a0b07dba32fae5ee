package schedule

import (
	"context"
	"testing"
	"time"
)

// TestPoolRunsWaitingRunsInOrder: with every worker busy, runs wait and
// start oldest first, also when the queue is compacted while workers take
// from it; a closed pool takes nothing and close waits for the workers.
func TestPoolRunsWaitingRunsInOrder(t *testing.T) {
	t.Parallel()
	ran := make(chan *entry)
	p := newPool(1, func(e *entry) { ran <- e })
	entries := make([]*entry, 40)
	for i := range entries {
		entries[i] = &entry{}
	}
	submit := func(e *entry, wantQueued bool) {
		t.Helper()
		if queued, ok := p.submit(e); !ok || queued != wantQueued {
			t.Fatalf("submit: queued %v ok %v, want queued %v", queued, ok, wantQueued)
		}
	}
	submit(entries[0], false) // the one worker takes it and blocks
	for _, e := range entries[1:5] {
		submit(e, true)
	}
	next := 0
	take := func() {
		t.Helper()
		select {
		case e := <-ran:
			if e != entries[next] {
				t.Fatalf("run %d out of order", next)
			}
			next++
		case <-time.After(5 * time.Second):
			t.Fatalf("run %d did not start", next)
		}
	}
	take() // the worker now holds entries[1]: the queue's head moved on
	for _, e := range entries[5:] {
		submit(e, true) // appends past the full array compact the head away
	}
	for next < len(entries) {
		take()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if workers, waiting := p.size(); workers != 0 || waiting != 0 {
		t.Errorf("closed pool: %d workers, %d waiting", workers, waiting)
	}
	if _, ok := p.submit(&entry{}); ok {
		t.Error("a closed pool took a run")
	}
}
