package engine

import (
	"slices"
	"strings"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/detector"
)

// The writer publishes the states of the checks with a new result
// (flush.go). Copying them out of the detector under e.mu made Record wait
// for the whole copy: a detector.Check is over 400 bytes, and at 50k dirty
// checks (the first pass after a start or after the store came back,
// StoreReset) the copy, grown by append and sorted under the lock, held it
// for over half a second (BenchmarkDirtyBatch50k). So Record keeps an
// immutable copy of each check's state, made once per result where the
// detector already allocates its new Recent (detector/detector.go: record;
// the copy shares that slice, which is never written in place), and the
// writer takes only pointers under the lock and copies the values, sorts
// and encodes after letting it go.
//
// The status refresher plays no part in this: it reads the states the
// writer published to the store (status/refresher.go, ChecksSince), never
// the engine's memory.

// snapshotLocked records name's current state as its immutable snapshot.
// The caller holds e.mu and has just changed the check's state.
func (e *Engine) snapshotLocked(name string) {
	c, ok := e.det.Check(name)
	if !ok {
		delete(e.snaps, name)
		return
	}
	if e.snaps == nil {
		e.snaps = map[string]*detector.Check{}
	}
	e.snaps[name] = &c
}

// forgetSnapshotLocked drops name's snapshot after a change of state that
// was not a result (a reset, a restore, a new spec); the next pass makes
// it again from the detector. The caller holds e.mu.
func (e *Engine) forgetSnapshotLocked(name string) { delete(e.snaps, name) }

// dirtyBatch is what the writer publishes: the states of the checks with a
// result not yet published, sorted by name as the store writes them, the
// snapshots they were copied from (for publishedLocked), and the names of
// the checks whose states go.
func (e *Engine) dirtyBatch() (checkstate.Batch, []*detector.Check, []string) {
	e.mu.Lock()
	b, d, remove := e.dirtyLocked()
	e.mu.Unlock()
	// Sorted before the copy: moving pointers, not 456-byte values.
	slices.SortFunc(d, func(x, y dirtyCheck) int { return strings.Compare(x.state.Name, y.state.Name) })
	b.Checks = make([]checkstate.Check, len(d))
	sent := make([]*detector.Check, len(d))
	for i, p := range d {
		b.Checks[i] = checkstate.Check{State: *p.state, ProbeState: p.probe}
		sent[i] = p.state
	}
	return b, sent, remove
}

// publishedLocked reports whether sent, which the store accepted, is still
// name's state: only then is the check clean. A result that came during
// the round trip has a snapshot of its own, and keeps the check dirty for
// the next pass; before the snapshots it was dropped with the mark, and
// the store showed the older result until the check's next one. The
// caller holds e.mu.
func (e *Engine) publishedLocked(name string, sent *detector.Check) bool {
	return e.snaps[name] == sent
}

// dirtyCheck is a dirty check's snapshot and its prober's state.
type dirtyCheck struct {
	state *detector.Check
	probe []byte
}

// dirtyLocked takes the snapshots of the dirty checks, their probers'
// states and the names to unpublish: pointers and slice headers, no check
// state is copied. The caller holds e.mu.
func (e *Engine) dirtyLocked() (checkstate.Batch, []dirtyCheck, []string) {
	b := checkstate.Batch{Member: e.o.Member, Tokens: e.tokensLocked()}
	out := make([]dirtyCheck, 0, len(e.dirty))
	for name := range e.dirty {
		s := e.snaps[name]
		if s == nil {
			// Reset, restored or given a new spec since its last result.
			e.snapshotLocked(name)
			if s = e.snaps[name]; s == nil {
				continue // no longer configured
			}
		}
		out = append(out, dirtyCheck{s, e.probeState[name]})
	}
	return b, out, slices.Clone(e.unpublish)
}
