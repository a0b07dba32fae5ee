package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/maintenance"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/uptime"
)

// flush is one writer pass: the changed check states first, then the
// component changes in order; it reports whether all landed. The states go
// first so that what a new owner reads back is never older than the
// statuses the store holds: a handover then derives the statuses already
// stored, and changes nothing by itself.
func (e *Engine) flush(ctx context.Context) bool {
	e.sweepStore(ctx)
	// pending also runs the components' uptime clocks, which must not stop
	// while the store is away.
	obs := e.pending()
	if !e.publish(ctx) {
		return false
	}
	for _, o := range obs {
		tr, err := e.store.Observe(ctx, o)
		if errors.Is(err, ownership.ErrFenced) {
			e.fenced("observe", o.Component, o.Fence)
			continue
		}
		if err != nil {
			e.logger.Warn("store observe failed; will retry", "component", o.Component, "error", err)
			e.forgetAcks() // the store may come back empty: send everything again
			return false   // keep order: retry this and later ones on the next tick
		}
		e.mu.Lock()
		if _, ok := e.retired[o.Component]; ok {
			delete(e.retired, o.Component)
			delete(e.acked, o.Component)
		} else if f, ok := e.owned[o.Component]; ok && f == o.Fence {
			e.acked[o.Component] = ack{o.Status, o.Detail}
			delete(e.removed, o.Component)
		}
		e.mu.Unlock()
		e.transitioned(tr, o.Component)
	}
	return true
}

// publish writes the states of the owned checks that had a result since
// the last pass, and deletes the states of checks that left the config, in
// one round trip. A failure keeps them for the next pass.
func (e *Engine) publish(ctx context.Context) bool {
	if e.checks == nil {
		return true
	}
	b, sent, remove := e.dirtyBatch()
	if len(b.Checks) == 0 && len(remove) == 0 {
		return true
	}
	res, err := e.checks.PublishChecks(ctx, b, remove)
	if err != nil {
		e.logger.Warn("publishing check states failed; will retry", "checks", len(b.Checks), "error", err)
		return false
	}
	e.mu.Lock()
	for i, c := range b.Checks {
		// A fenced write stored nothing: the check stays unpublished, for
		// Release to shelve (see Adopt) should the component come back.
		// A check with a newer result since stays dirty for the next pass.
		if slices.Contains(res.Fenced, e.checkComp[c.State.Name]) || !e.publishedLocked(c.State.Name, sent[i]) {
			continue
		}
		delete(e.dirty, c.State.Name)
		delete(e.probeState, c.State.Name)
		// The snapshot was for the writer; a clean check needs none until
		// its next result (at 50,000 checks, ~25 MB of copies kept).
		e.forgetSnapshotLocked(c.State.Name)
	}
	e.unpublish = e.unpublish[len(remove):]
	e.mu.Unlock()
	for _, comp := range res.Fenced {
		e.fenced("publish_checks", comp, ownership.Fence{Member: e.o.Member, Token: b.Tokens[comp]})
	}
	e.o.OnChange()
	return true
}

// tokensLocked returns the owned grants' tokens by component.
func (e *Engine) tokensLocked() map[string]int64 {
	out := make(map[string]int64, len(e.owned))
	for c, f := range e.owned {
		out[c] = f.Token
	}
	return out
}

// fenced handles a write the store rejected as stale: the component is no
// longer this replica's, so it stops being judged and written here at
// once, and the ownership manager is told.
func (e *Engine) fenced(op, comp string, f ownership.Fence) {
	e.mu.Lock()
	cur, ok := e.owned[comp]
	if ok && cur == f {
		e.releaseLocked(comp)
	}
	e.mu.Unlock()
	if ok && cur == f {
		e.logger.Warn("write rejected: this replica no longer owns the component", "component", comp,
			"operation", op, "token", f.Token)
		e.o.OnFenced(comp, f)
	}
}

// pending computes, level-triggered, the observation for every owned
// component whose derived status differs from what the store last
// accepted, parents first: a parent and its child failing in the same
// flush must find the parent's incident already open.
func (e *Engine) pending() []incident.Observation {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	out := e.retirements(now)
	for _, comp := range e.ordered {
		f, ok := e.owned[comp.ID]
		if !ok {
			continue
		}
		v := e.det.Component(comp.ID)
		if _, ok := maintenance.Active(e.cfg.Maintenance, comp.ID, now); ok {
			v = detector.Verdict{Status: detector.UnderMaintenance, Known: true}
		}
		// With vantages the store credits the time to the quorum's status
		// (redisstore, uptime.lua), whatever this vantage sees.
		e.up.Component(comp.ID, v.Status, v.Known, now)
		if !v.Known {
			continue
		}
		detail := v.Detail() + e.draining(v)
		if acked, ok := e.acked[comp.ID]; ok && acked == (ack{v.Status, detail}) {
			continue
		}
		o := incident.Observation{
			Component: comp.ID, ComponentName: comp.Name, Status: v.Status,
			At: now, StartedAt: v.BadSince, Body: evidence(comp, e.byComponent[comp.ID], v, e.det.Check),
			Detail: detail, NewID: incident.NewID(), Parents: comp.DependsOn,
			Group: comp.Group, Links: e.links[comp.ID],
			Policy: policy(e.cfg.Incidents), Fence: f,
		}
		if vs, ok := e.probedFrom[comp.ID]; ok {
			o.Vantages, o.Quorum, o.Regional = vs, comp.Quorum, comp.Regional
		}
		e.removalNote(&o, comp, v)
		out = append(out, o)
	}
	return out
}

// forgetAcks makes the next flush send every owned component's status
// again.
func (e *Engine) forgetAcks() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.acked)
	e.lastResync = e.now()
}

func (e *Engine) tick(ctx context.Context) {
	e.mu.Lock()
	p := policy(e.cfg.Incidents)
	resync := e.now().Sub(e.lastResync) >= resyncEvery
	e.mu.Unlock()
	if resync {
		e.forgetAcks()
	}
	body := fmt.Sprintf("This incident has been resolved: every affected component has been operational for %s.", p.ResolveAfter)
	gone := fmt.Sprintf("This incident has been resolved: every affected component still monitored has been operational for %s; {gone} left monitoring before recovering.", p.ResolveAfter)
	trs, err := e.store.Tick(ctx, incident.TickRequest{Now: e.now(), Policy: p, ResolvedBody: body, GoneBody: gone,
		Member: e.o.Member})
	if errors.Is(err, ownership.ErrFenced) {
		return // not a live member (yet, or any more): the lease round decides
	}
	if err != nil {
		e.logger.Warn("store tick failed; will retry", "error", err)
		e.forgetAcks()
		return
	}
	for _, tr := range trs {
		e.transitioned(tr, "")
	}
}

func (e *Engine) transitioned(tr incident.Transition, component string) {
	switch tr.Action {
	case incident.ActionNone:
		return
	case incident.ActionOpened:
		e.m.opened.Inc()
	case incident.ActionResolved:
		e.m.resolved.Inc()
	}
	if tr.IncidentID != "" {
		e.logger.Info("incident "+string(tr.Action), "incident", tr.IncidentID, "impact", tr.Impact, "component", component)
	}
	e.o.OnChange()
}

// writeUptime sends the buckets gathered since the last write, numbered;
// a batch that fails is held and sent again, alone and with its number,
// until it lands, while newer counts keep gathering in the recorder. all
// sends every component's time up to now (at shutdown), not only runs
// long enough to be worth a write.
func (e *Engine) writeUptime(ctx context.Context, all bool) {
	if e.o.Uptime == nil {
		return
	}
	if e.upHeld == nil {
		e.mu.Lock()
		take := e.up.Take
		if all {
			take = e.up.TakeAll
		}
		b := take()
		w := uptime.Write{Writer: e.upWriter, Batch: b, Member: e.o.Member, Tokens: e.tokensLocked(),
			CheckComponent: e.checkComp}
		e.mu.Unlock()
		if len(b) == 0 {
			return
		}
		e.upSeq++
		w.Seq = e.upSeq
		e.upHeld = &w
	}
	res, err := e.o.Uptime.WriteUptime(ctx, *e.upHeld)
	if err != nil {
		e.logger.Warn("uptime write failed; will retry", "error", err)
		return
	}
	if res.Skipped > 0 {
		e.logger.Warn("uptime: some buckets were not written: their keys hold another type", "keys", res.Skipped)
	}
	if res.Fenced > 0 {
		e.logger.Warn("uptime: buckets of components this replica no longer owns were not written", "hashes", res.Fenced)
	}
	e.upHeld = nil
}
