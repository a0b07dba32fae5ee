package status

import (
	"context"
	"testing"
	"time"
)

// TestPageBodiesReuse: a rebuild from the same reads within the same
// minute shares the previous pages; a new state read, a new minute or a
// change of staleness renders them again, but an expensive render is held
// back (renderBudget) while only the uptime moved.
func TestPageBodiesReuse(t *testing.T) {
	t.Parallel()
	in := uptimeInputs()
	in.StateRead, in.UptimeRead = t0, t0
	first, err := build(context.Background(), in, buildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.pagePaths) < 6 {
		t.Fatalf("page paths %v", first.pagePaths)
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
			first.rendered, first.renderCost = time.Now(), 0
			if tc.expensive {
				first.renderCost = time.Second
			}
			next := in
			tc.change(&next)
			snap, err := build(context.Background(), next, buildOptions{prev: first})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range first.pagePaths {
				if snap.bodies[p] == nil {
					t.Errorf("%s missing from the rebuilt snapshot", p)
				}
			}
			// Rendering again may give the same bytes (and share the body);
			// the uptime documents are only ever shared by reuse.
			if (snap.uptime == first.uptime) != tc.reuse {
				t.Errorf("uptime documents reused = %v, want %v", snap.uptime == first.uptime, tc.reuse)
			}
		})
	}
}
