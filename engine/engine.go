// Package engine connects the pipeline: probe results go through the detector,
// and component status changes go to the incident store. One writer goroutine
// sends observations in order, so probing never waits on Redis and a change
// that failed to reach the store is retried until it lands.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/maintenance"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/uptime"
)

// tickEvery is how often pending observations are retried and the store's
// time-based transitions (monitoring -> resolved) are run.
const tickEvery = time.Second

// resyncEvery is how often every component status is sent again even if the
// store accepted it before: a Redis that restarted without its data (or was
// flushed) is repopulated within this time. Observe is idempotent, so a
// resync of unchanged state writes nothing.
const resyncEvery = 30 * time.Second

// Options configure an Engine.
type Options struct {
	Store    incident.Store
	Registry prometheus.Registerer
	Logger   *slog.Logger
	Now      func() time.Time
	// OnChange is called (without blocking) after every stored transition:
	// the store's state changed.
	OnChange func()
	// OnResult is called (without blocking) after every check result: only
	// in-process check states changed.
	OnResult func()
	// Uptime, if set, receives the daily uptime buckets once per writer
	// pass (every second).
	Uptime UptimeWriter
}

// Engine owns the detector and the component statuses sent to the store.
type Engine struct {
	store    incident.Store
	logger   *slog.Logger
	now      func() time.Time
	onChange func()
	onResult func()
	m        *metrics
	wake     chan struct{}
	uptime   UptimeWriter
	// upWriter and upSeq number the uptime batches, and upHeld is one that
	// failed: it is sent again as it was, before anything newer, so a batch
	// that did land (its reply lost) is not counted twice. Writer-goroutine
	// only.
	upWriter string
	upSeq    uint64
	upHeld   uptime.Batch

	mu sync.Mutex
	// up accumulates uptime buckets between writes.
	up    *uptime.Recorder
	det   *detector.Detector
	cfg   *config.Config
	scrub *strings.Replacer
	// acked is the last state the store accepted for each component.
	acked      map[string]ack
	lastResync time.Time
	// retired maps components that left the config (id -> name) to be
	// reported operational once, so an incident they were in can end.
	retired map[string]string
	// ordered is cfg.Components with parents before children (depends_on),
	// computed once per config; verdicts is reused by every writer pass.
	ordered  []config.Component
	verdicts map[string]detector.Verdict
	// storeSwept is set once the store's components were compared with the
	// config (components removed while tocsin was not running).
	storeSwept bool
}

// New returns an engine with no configuration; call Configure before Record.
func New(o Options) (*Engine, error) {
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.OnResult == nil {
		o.OnResult = func() {}
	}
	return &Engine{
		store: o.Store, logger: o.Logger, now: o.Now, onChange: o.OnChange, onResult: o.OnResult,
		m: m, wake: make(chan struct{}, 1), uptime: o.Uptime, upWriter: incident.NewID(), up: uptime.NewRecorder(time.UTC),
		det: detector.New(), cfg: &config.Config{},
		scrub: strings.NewReplacer(), acked: map[string]ack{},
		retired: map[string]string{}, verdicts: map[string]detector.Verdict{},
	}, nil
}

// Configure applies a (new) configuration. Checks that did not change keep
// their state; removed checks lose their state and metric series.
func (e *Engine) Configure(cfg *config.Config) {
	specs := make([]detector.Spec, 0, len(cfg.Checks))
	keep := make(map[string]bool, len(cfg.Checks))
	for _, c := range cfg.Checks {
		specs = append(specs, detector.Spec{
			Name: c.Name, Component: c.Component, Impact: detector.ComponentStatus(c.Impact),
			FailureThreshold: c.FailureThreshold, SuccessThreshold: c.SuccessThreshold,
			FlapLow: c.FlapLowThreshold, FlapHigh: c.FlapHighThreshold,
		})
		keep[c.Name] = true
	}
	pairs := make([]string, 0, 2*len(cfg.Secrets()))
	for _, s := range cfg.Secrets() {
		pairs = append(pairs, s, "<redacted>")
	}
	e.mu.Lock()
	for _, c := range e.cfg.Checks {
		if !keep[c.Name] {
			e.m.forget(c.Name)
		}
	}
	e.retire(e.cfg.Components, cfg.Components)
	e.det.Configure(specs)
	e.cfg, e.scrub = cfg, strings.NewReplacer(pairs...)
	e.ordered = parentsFirst(cfg.Components)
	if loc, err := time.LoadLocation(cfg.Page.TimeZone); err == nil {
		e.up.SetLocation(loc) // validated by config.Load; a bad zone keeps the last
	}
	for _, c := range cfg.Checks {
		if ch, ok := e.det.Check(c.Name); ok {
			e.m.setCheckStatus(c.Name, ch.Status)
		}
	}
	e.mu.Unlock()
	e.poke()
}

// Record takes one probe result; it is the scheduler's sink.
func (e *Engine) Record(_ context.Context, c config.Check, r probe.Result) {
	now := e.now()
	e.mu.Lock()
	if spec, ok := e.det.Spec(c.Name); !ok || spec.Component != c.Component {
		// A probe that was in flight when its check was removed or moved.
		e.mu.Unlock()
		return
	}
	r.Message = e.scrub.Replace(r.Message)
	e.m.observe(c.Name, c.Type, c.Component, r, now)
	ch, changed := e.det.Observe(c.Name, r, now)
	e.up.CheckResult(c.Name, r.Status, now)
	if changed {
		e.m.setCheckStatus(c.Name, ch.To)
	}
	e.mu.Unlock()
	if changed {
		e.logger.Info("check state changed", "check", c.Name, "from", ch.From, "to", ch.To,
			"flapping", ch.Flapping, "reason", r.Reason, "message", r.Message)
		e.poke()
	}
	e.onResult()
}

// Checks returns a copy of every check's state.
func (e *Engine) Checks() []detector.Check {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.det.Checks()
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run is the single writer: it sends component changes to the store and runs
// the store's time-based transitions, until ctx is done.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
			e.flush(ctx)
		case <-t.C:
			// Flush first: a relapse still waiting to be written must land
			// before Tick may resolve its incident.
			if e.flush(ctx) {
				e.tick(ctx)
			}
			e.writeUptime(ctx, false)
		}
	}
}

// Flush sends pending component changes and uptime now; used at shutdown.
func (e *Engine) Flush(ctx context.Context) {
	e.flush(ctx)
	e.writeUptime(ctx, true)
}

// writeUptime sends the buckets gathered since the last write, numbered;
// a batch that fails is held and sent again, alone and with its number,
// until it lands, while newer counts keep gathering in the recorder. all
// sends every component's time up to now (at shutdown), not only runs
// long enough to be worth a write.
func (e *Engine) writeUptime(ctx context.Context, all bool) {
	if e.uptime == nil {
		return
	}
	if e.upHeld == nil {
		e.mu.Lock()
		take := e.up.Take
		if all {
			take = e.up.TakeAll
		}
		b := take()
		e.mu.Unlock()
		if len(b) == 0 {
			return
		}
		e.upSeq++
		e.upHeld = b
	}
	skipped, err := e.uptime.Write(ctx, e.upWriter, e.upSeq, e.upHeld)
	if err != nil {
		e.logger.Warn("uptime write failed; will retry", "error", err)
		return
	}
	if skipped > 0 {
		e.logger.Warn("uptime: some buckets were not written: their keys hold another type", "keys", skipped)
	}
	e.upHeld = nil
}

// flush sends pending observations in order; it reports whether all landed.
func (e *Engine) flush(ctx context.Context) bool {
	e.sweepStore(ctx)
	for _, o := range e.pending() {
		tr, err := e.store.Observe(ctx, o)
		if err != nil {
			e.logger.Warn("store observe failed; will retry", "component", o.Component, "error", err)
			e.forgetAcks() // the store may come back empty: send everything again
			return false   // keep order: retry this and later ones on the next tick
		}
		e.mu.Lock()
		if _, ok := e.retired[o.Component]; ok {
			delete(e.retired, o.Component)
			delete(e.acked, o.Component)
		} else {
			e.acked[o.Component] = ack{o.Status, o.Detail}
		}
		e.mu.Unlock()
		e.transitioned(tr, o.Component)
	}
	return true
}

// pending computes, level-triggered, the observation for every component
// whose derived status differs from what the store last accepted.
func (e *Engine) pending() []incident.Observation {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	out := e.retirements(now)
	verdicts := e.verdicts
	clear(verdicts)
	for _, comp := range e.cfg.Components {
		v := e.det.Component(comp.ID)
		if _, ok := maintenance.Active(e.cfg.Maintenance, comp.ID, now); ok {
			v = detector.Verdict{Status: detector.UnderMaintenance, Known: true}
		}
		verdicts[comp.ID] = v
		e.up.Component(comp.ID, v.Status, v.Known, now)
	}
	// Parents first: a parent and its child failing in the same flush must
	// find the parent's incident already open.
	for _, comp := range e.ordered {
		v := verdicts[comp.ID]
		if !v.Known {
			continue
		}
		detail := v.Detail() + e.draining(v)
		if acked, ok := e.acked[comp.ID]; ok && acked == (ack{v.Status, detail}) {
			continue
		}
		out = append(out, incident.Observation{
			Component: comp.ID, ComponentName: comp.Name, Status: v.Status,
			At: now, StartedAt: v.BadSince, Body: evidence(comp, v, e.det.Check),
			Detail: detail, NewID: incident.NewID(), Parents: badParents(comp, verdicts),
			Policy: policy(e.cfg.Incidents),
		})
	}
	return out
}

// ack is a component state the store accepted.
type ack struct {
	status detector.ComponentStatus
	detail string
}

// forgetAcks makes the next flush send every component's status again.
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
	trs, err := e.store.Tick(ctx, e.now(), p, body)
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
	e.onChange()
}

func policy(c config.Incidents) incident.Policy {
	return incident.Policy{GroupWindow: c.GroupWindow, ResolveAfter: c.ResolveAfter,
		ReopenWindow: c.ReopenWindow, Retention: c.Retention}
}
