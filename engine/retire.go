package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/ownership"
)

// retire marks components of old that are not in next; a component that
// comes back is no longer retired. The caller holds e.mu.
func (e *Engine) retire(old, next []config.Component) {
	keep := make(map[string]bool, len(next))
	for _, c := range next {
		keep[c.ID] = true
		delete(e.retired, c.ID)
	}
	for _, c := range old {
		if !keep[c.ID] {
			e.retired[c.ID] = c.Name
			if _, ok := e.owned[c.ID]; ok {
				e.releaseLocked(c.ID)
			}
			delete(e.acked, c.ID)
		}
	}
}

// retirements are the observations that tell the store a removed component
// is no longer monitored, so an incident it was part of can end instead of
// showing an outage forever. The caller holds e.mu.
func (e *Engine) retirements(now time.Time) []incident.Observation {
	out := make([]incident.Observation, 0, len(e.retired))
	for id, name := range e.retired {
		out = append(out, incident.Observation{
			Component: id, ComponentName: name, Status: detector.Operational, At: now,
			Body:  fmt.Sprintf("%s was removed from monitoring; its recovery is not confirmed.", name),
			NewID: incident.NewID(), Policy: policy(e.cfg.Incidents),
			Retire: true, Gone: name, Fence: ownership.Fence{Member: e.o.Member},
		})
	}
	return out
}

// sweepStore retires, once, the components the store knows as failing that
// the config no longer has: removed while tocsin was not running.
func (e *Engine) sweepStore(ctx context.Context) {
	e.mu.Lock()
	done := e.storeSwept
	e.mu.Unlock()
	if done {
		return
	}
	st, err := e.store.Load(ctx, 0)
	if err != nil {
		return // tried again on the next flush
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	known := make(map[string]bool, len(e.cfg.Components))
	for _, c := range e.cfg.Components {
		known[c.ID] = true
	}
	for id, cs := range st.Components {
		if !known[id] && cs.Status != detector.Operational {
			e.retired[id] = id
		}
	}
	e.storeSwept = true
}

// noteRemoved records the failing checks that next drops from components
// it keeps (removed, or moved to another component). The caller holds e.mu.
func (e *Engine) noteRemoved(next *config.Config, checkComp map[string]string) {
	kept := make(map[string]bool, len(next.Components))
	for _, c := range next.Components {
		kept[c.ID] = true
	}
	for _, c := range e.cfg.Checks {
		if checkComp[c.Name] == c.Component || !kept[c.Component] {
			continue
		}
		if st, ok := e.det.Check(c.Name); ok && (st.Status == detector.Down || st.Status == detector.Degraded) {
			e.removed[c.Component] = append(e.removed[c.Component], c.Name)
		}
	}
}

// removalNote rewrites the observation of a component whose failing checks
// a reload removed: it is no recovery, so the update names the checks and
// says what is left instead of "operational again". The caller holds e.mu.
func (e *Engine) removalNote(o *incident.Observation, comp config.Component, v detector.Verdict) {
	rm := e.removed[comp.ID]
	if len(rm) == 0 {
		return
	}
	checks := "check " + rm[0]
	if len(rm) > 1 {
		checks = "checks " + strings.Join(rm, ", ")
	}
	note := fmt.Sprintf("The failing %s of %s left monitoring (a reload removed them), so their recovery is not confirmed.", checks, comp.Name)
	switch {
	case v.Status != detector.Operational:
		o.Body = note + " " + o.Body
	case len(e.byComponent[comp.ID]) == 0:
		o.Body = note + " " + comp.Name + " has no checks left."
	default:
		o.Body = note + " The other checks of " + comp.Name + " are passing."
	}
	o.Gone = comp.Name + "'s " + checks
}
