package engine

import (
	"context"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/ownership"
)

// Adopt takes the components the ownership manager granted. A component
// this replica did not hold until now continues from the check states its
// last owner published (read from the store here): detector history,
// thresholds and flapping carry over, so a handover neither opens nor
// resolves an incident by itself. It returns what was read, for the
// scheduler to resume the probers (their state, their last run). A
// component it did hold (only the token changed) keeps its own state.
func (e *Engine) Adopt(ctx context.Context, acquired []ownership.Acquired) map[string]checkstate.Check {
	var load []string
	e.mu.Lock()
	vantage := ownership.VantageOf(e.o.Member)
	for _, a := range acquired {
		if !a.Continue {
			for _, c := range e.byComponent[a.Component] {
				load = append(load, checkstate.Field(c.Name, vantage))
			}
		}
	}
	e.mu.Unlock()
	states := map[string]checkstate.Check{}
	if len(load) > 0 && e.checks != nil {
		byField, err := e.checks.LoadChecks(ctx, load)
		for f, st := range byField {
			name, _ := checkstate.SplitField(f)
			states[name] = st
		}
		if err != nil {
			// What could be read is used; the rest starts unknown, which
			// publishes nothing until the checks have spoken.
			e.logger.Warn("reading the published check states of adopted components failed; they start unknown",
				"checks", len(load), "error", err)
		}
	}
	e.mu.Lock()
	for _, a := range acquired {
		e.owned[a.Component] = a.Fence
		if a.Continue {
			continue
		}
		delete(e.acked, a.Component)
		// Another replica watched it since this one last did: what this
		// one gathered (a pause it would credit, say) is not to be added.
		names := make([]string, 0, len(e.byComponent[a.Component]))
		for _, c := range e.byComponent[a.Component] {
			names = append(names, c.Name)
		}
		e.up.Drop(a.Component, names)
		for _, c := range e.byComponent[a.Component] {
			e.det.Reset(c.Name)
			e.forgetSnapshotLocked(c.Name)
			if st, ok := e.fresher(c.Name, states); ok {
				states[c.Name] = st
				e.det.Restore(st.State)
			}
			if ch, ok := e.det.Check(c.Name); ok {
				e.m.setCheckStatus(c.Name, ch.Status)
			}
		}
	}
	e.countOwnedLocked()
	e.mu.Unlock()
	e.poke()
	return states
}

// Release stops judging and writing the components: another replica owns
// them now. Their checks' state and metric series go.
func (e *Engine) Release(components []string) {
	e.mu.Lock()
	for _, comp := range components {
		if _, ok := e.owned[comp]; ok {
			e.releaseLocked(comp)
		}
	}
	e.mu.Unlock()
}

// releaseLocked drops an owned component. The caller holds e.mu.
func (e *Engine) releaseLocked(comp string) {
	delete(e.owned, comp)
	delete(e.acked, comp)
	delete(e.removed, comp)
	e.up.Forget(comp)
	for _, c := range e.byComponent[comp] {
		// Only what Redis has not seen is worth keeping.
		if _, unpublished := e.dirty[c.Name]; !unpublished {
			delete(e.shelved, c.Name)
		} else if ch, ok := e.det.Check(c.Name); ok && !ch.Last.Start.IsZero() {
			e.shelved[c.Name] = checkstate.Check{State: ch, ProbeState: e.probeState[c.Name]}
		}
		e.det.Reset(c.Name)
		e.forgetSnapshotLocked(c.Name)
		e.m.forget(c.Name)
		delete(e.dirty, c.Name)
		delete(e.probeState, c.Name)
	}
	e.countOwnedLocked()
}

// StoreReset says the store lost its data: every owned status is sent
// again at the next pass, and every owned check published again.
func (e *Engine) StoreReset() {
	e.mu.Lock()
	e.storeSwept = false
	e.mu.Unlock()
	e.resendAll()
}

// VantagesChanged says a vantage came or went: the store combines the
// vantages' verdicts when one of them observes (redisstore, quorum.lua),
// so every owned status is sent again now, for the verdict to count the
// live vantages, not at the next resync.
func (e *Engine) VantagesChanged() {
	e.mu.Lock()
	clear(e.acked)
	e.mu.Unlock()
	e.poke()
}

// resendAll makes the next writer pass send every owned status and check
// state again, and runs it soon.
func (e *Engine) resendAll() {
	e.mu.Lock()
	clear(e.acked)
	for comp := range e.owned {
		for _, c := range e.byComponent[comp] {
			e.dirty[c.Name] = struct{}{}
		}
	}
	e.mu.Unlock()
	e.poke()
}

// countOwnedLocked updates the owned-checks gauge. The caller holds e.mu.
func (e *Engine) countOwnedLocked() {
	n := 0
	for comp := range e.owned {
		n += len(e.byComponent[comp])
	}
	e.m.ownedChecks.Set(float64(n))
}

// fresher returns the newer of the check's published state and the one
// this replica shelved when it lost the component. A replica whose lease
// lapsed while Redis was away publishes nothing meanwhile: when it wins
// the component back, what Redis holds is older than what it knew, and
// continuing from it would judge a failing check up again (and move its
// incident to monitoring). If another replica probed the check since, its
// published state is the newer. The caller holds e.mu.
func (e *Engine) fresher(name string, published map[string]checkstate.Check) (checkstate.Check, bool) {
	pub, okPub := published[name]
	own, okOwn := e.shelved[name]
	delete(e.shelved, name)
	switch {
	case !okOwn:
		return pub, okPub
	case !okPub || own.State.Last.Start.After(pub.State.Last.Start):
		if own.ProbeState == nil && okPub {
			own.ProbeState = pub.ProbeState
		}
		return own, true
	}
	return pub, true
}
