package status

import (
	"context"
	"sync"
	"testing"
	"time"
)

// firstPages is a build from the uptime inputs with read times set, as a
// Refresher's, and its inputs.
func firstPages(t *testing.T) (Inputs, *Snapshot) {
	t.Helper()
	in := uptimeInputs()
	in.StateRead, in.UptimeRead = t0, t0
	first, err := build(context.Background(), in, buildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return in, first
}

// TestPageBodiesReuse: a rebuild from the same reads within the same
// minute shares the previous pages; a new state read, a new minute or a
// change of staleness gives new ones, but an expensive render is held back
// (renderBudget) while only the uptime moved.
func TestPageBodiesReuse(t *testing.T) {
	t.Parallel()
	in, first := firstPages(t)
	if n := len(mustPaths(t, first)); n < 6 {
		t.Fatalf("%d paths", n)
	}
	for _, tc := range []struct {
		name      string
		change    func(*Inputs)
		reuse     bool
		expensive bool // the last render took a second, just now
	}{
		{"same reads, same minute", func(in *Inputs) { in.Now = in.Now.Add(30 * time.Second) }, true, false},
		{"state read again", func(in *Inputs) { in.StateRead = in.StateRead.Add(time.Second) }, false, false},
		{"uptime read again", func(in *Inputs) { in.UptimeRead = in.UptimeRead.Add(time.Second) }, false, false},
		{"next minute", func(in *Inputs) { in.Now = in.Now.Add(time.Minute) }, false, false},
		{"store unreadable", func(in *Inputs) { in.Stale = true }, false, false},
		{"no read times: never reused", func(in *Inputs) { in.StateRead = time.Time{} }, false, false},
		// An expensive render is held back while only the uptime moved.
		{"expensive, uptime read again", func(in *Inputs) { in.UptimeRead = in.UptimeRead.Add(time.Second) }, true, true},
		{"expensive, next minute", func(in *Inputs) { in.Now = in.Now.Add(time.Minute) }, true, true},
		{"expensive, state read again", func(in *Inputs) { in.StateRead = in.StateRead.Add(time.Second) }, false, true},
		{"expensive, store unreadable", func(in *Inputs) { in.Stale = true }, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The render's cost is the machine's: set it, so that a slow
			// machine does not hold the cheap cases back.
			first.pages.rendered.Store(time.Now().UnixNano())
			first.pages.cost.Store(0)
			if tc.expensive {
				first.pages.cost.Store(int64(time.Second))
			}
			next := in
			tc.change(&next)
			snap, err := build(context.Background(), next, buildOptions{prev: first})
			if err != nil {
				t.Fatal(err)
			}
			if (snap.pages == first.pages) != tc.reuse {
				t.Errorf("pages reused = %v, want %v", snap.pages == first.pages, tc.reuse)
			}
			if len(mustPaths(t, snap)) != len(mustPaths(t, first)) {
				t.Errorf("the rebuilt snapshot serves other paths")
			}
		})
	}
}

// TestPagesRenderOnRequest: a rebuild renders no page; a request renders
// its own group, once, however many ask at once; a page that came out the
// same takes the last set's body; and sets nobody read keep only one set
// before them.
func TestPagesRenderOnRequest(t *testing.T) {
	t.Parallel()
	in, first := firstPages(t)
	for g := range groupCount {
		if first.pages.groups[g].done.Load() {
			t.Errorf("group %d rendered by the build", g)
		}
	}
	var wg sync.WaitGroup
	got := make([]*body, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, _ = first.body(pathPage)
		}()
	}
	wg.Wait()
	for _, b := range got {
		if b == nil || b != got[0] {
			t.Fatalf("concurrent requests got different bodies: %p vs %p", b, got[0])
		}
	}
	for g := range groupCount {
		if want := g == groupFront; first.pages.groups[g].done.Load() != want {
			t.Errorf("group %d rendered = %v, want %v", g, !want, want)
		}
	}

	// The state read again, nothing else: the same bytes, the same body.
	next := in
	next.StateRead = t0.Add(time.Second)
	second, err := build(context.Background(), next, buildOptions{prev: first})
	if err != nil {
		t.Fatal(err)
	}
	if second.pages == first.pages || second.pages.last.Load() != first.pages {
		t.Fatal("a new state read shares the pages or forgets the last ones")
	}
	if b, _, _ := second.body(pathPage); b != got[0] {
		t.Error("an unchanged page was not taken from the last set")
	}

	// Two more sets nobody reads: each keeps only the one before it.
	prev := second
	for i := 2; i < 4; i++ {
		next.StateRead = t0.Add(time.Duration(i) * time.Second)
		snap, err := build(context.Background(), next, buildOptions{prev: prev})
		if err != nil {
			t.Fatal(err)
		}
		if snap.pages.last.Load() != prev.pages || prev.pages.last.Load() != nil {
			t.Errorf("set %d: the chain of unread sets is longer than one", i)
		}
		prev = snap
	}
}
