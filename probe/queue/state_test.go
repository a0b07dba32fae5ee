package queue

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// TestQueueStateTravels: a queue prober given another's state (a new
// owner's, after a handover) judges the next sample exactly as the other
// would have: the same stall, figures and message. nil empties the window;
// a state that is not a window is refused.
func TestQueueStateTravels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := trendT0
	now := func() time.Time { return clk }
	rules := queueRules{stallAfter: 90 * time.Second, window: 5 * time.Minute}
	a, srcA := scriptedQueue(rules, now)
	b, srcB := scriptedQueue(rules, now)
	// 40 items, and the same oldest item all along: not draining.
	sample := func(i int) QueueSample {
		age := time.Minute + time.Duration(i)*30*time.Second
		return QueueSample{Depth: 40, OldestAge: &age}
	}
	var state []byte
	for i := range 4 {
		srcA.set(sample(i), nil)
		state = a.Probe(ctx).State
		clk = clk.Add(30 * time.Second)
	}
	if err := b.RestoreState(state); err != nil {
		t.Fatal(err)
	}
	srcA.set(sample(4), nil)
	srcB.set(sample(4), nil)
	ra, rb := a.Probe(ctx), b.Probe(ctx)
	if ra.Status != probe.StatusDown || ra.Reason != probe.ReasonStalled {
		t.Fatalf("the original: %s/%s %q, want down/stalled", ra.Status, ra.Reason, ra.Message)
	}
	if ra.Status != rb.Status || ra.Reason != rb.Reason || ra.Message != rb.Message ||
		!reflect.DeepEqual(ra.Queue, rb.Queue) || !bytes.Equal(ra.State, rb.State) {
		t.Errorf("restored prober judged differently:\n%+v\n%+v", ra, rb)
	}

	if err := b.RestoreState(nil); err != nil {
		t.Fatal(err)
	}
	clk = clk.Add(30 * time.Second)
	srcB.set(sample(5), nil)
	if r := b.Probe(ctx); r.Status != probe.StatusUp {
		t.Errorf("after an empty state: %s/%s %q, want up (a window of one sample)", r.Status, r.Reason, r.Message)
	}
	if err := b.RestoreState([]byte("not a window")); err == nil {
		t.Error("a state that is not a window was accepted")
	}
}
