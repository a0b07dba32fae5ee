// Package engine is the pipeline for the components this replica owns:
// probe results go through the detector, and each writer pass publishes the
// changed check states, sends the component status changes to the incident
// store and credits uptime. One writer goroutine sends everything in order,
// so probing never waits on Redis and a change that failed to reach the
// store is retried until it lands. Every write carries the owner's fence;
// a write the store rejects as stale drops the component at once.
package engine

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/uptime"
)

// tickEvery is how often pending observations are retried and the store's
// time-based transitions (monitoring -> resolved) are run.
const tickEvery = time.Second

// resyncEvery is how often the owner sends every status it owns again even
// if the store accepted it before. Observe is idempotent, so a resync of
// unchanged state writes nothing; human.lua's "resolved while still
// failing" relies on it to reopen the incident.
const resyncEvery = 30 * time.Second

// CheckStore keeps the published check states; redisstore.Store is one.
type CheckStore interface {
	PublishChecks(ctx context.Context, b checkstate.Batch, remove []string) (checkstate.PublishResult, error)
	LoadChecks(ctx context.Context, names []string) (map[string]checkstate.Check, error)
}

// UptimeWriter takes the engine's uptime batches; redisstore.Store is one.
type UptimeWriter interface {
	WriteUptime(ctx context.Context, w uptime.Write) (uptime.WriteResult, error)
}

// Options configure an Engine.
type Options struct {
	Store  incident.Store
	Checks CheckStore
	// Uptime, if set, receives the daily uptime buckets once per writer
	// pass (every second).
	Uptime UptimeWriter
	// Member is this replica's id in the ownership membership.
	Member string
	// OnFenced is told (without blocking for long) that the store rejected
	// a write for component as stale: the grant f is gone.
	OnFenced func(component string, f ownership.Fence)
	Registry prometheus.Registerer
	Logger   *slog.Logger
	Now      func() time.Time
	// OnChange is called (without blocking) after every stored transition
	// and every publish of check states: the store's state changed.
	OnChange func()
	// OnCertWarning is told (without blocking) of every result of an owned
	// check whose TLS certificate expires within the check's
	// cert_expiry_warning.
	OnCertWarning func(c config.Check, notAfter time.Time)
}

// Engine owns the detector and what this replica sends to the store.
type Engine struct {
	o      Options
	store  incident.Store
	checks CheckStore
	logger *slog.Logger
	now    func() time.Time
	m      *metrics
	wake   chan struct{}
	// upWriter and upSeq number the uptime batches, and upHeld is one that
	// failed: it is sent again as it was, before anything newer, so a batch
	// that did land (its reply lost) is not counted twice. Writer-goroutine
	// only.
	upWriter string
	upSeq    uint64
	upHeld   *uptime.Write

	mu sync.Mutex
	// up accumulates uptime buckets between writes.
	up    *uptime.Recorder
	det   *detector.Detector
	cfg   *config.Config
	scrub *strings.Replacer
	// owned holds this replica's grants by component: only these are
	// probed, published and judged.
	owned map[string]ownership.Fence
	// byComponent lists each component's checks, computed once per config.
	byComponent map[string][]*config.Check // into cfg.Checks: a copy was 13 MB at 50,000 checks
	// checkComp maps each check to its component.
	checkComp map[string]string
	// dirty are owned checks with a result not yet published, and probeState
	// the latest state their probers handed on.
	dirty      map[string]struct{}
	probeState map[string][]byte
	// snaps holds each dirty check's state as of its last change,
	// immutable, for the writer to copy without the lock (snapshot.go);
	// published, it is dropped (flush.go).
	snaps map[string]*detector.Check
	// shelved keeps what this replica knew of the checks of components it
	// lost, in case it wins them back before anyone else probed them:
	// see Adopt.
	shelved map[string]checkstate.Check
	// unpublish are checks that left the config, whose states go.
	unpublish []string
	// acked is the last state the store accepted for each component.
	acked      map[string]ack
	lastResync time.Time
	// retired maps components that left the config (id -> name) to be
	// reported operational once, so an incident they were in can end.
	retired map[string]string
	// ordered is cfg.Components with parents before children (depends_on),
	// computed once per config.
	ordered []config.Component
	// removed holds, by component, its checks a reload removed while they
	// failed, until the store accepts the component's next status: that
	// status is no recovery, and its update says so (retire.go).
	removed map[string][]string
	// links maps each component to those linked to it through depends_on,
	// in either direction (incident.Observation.Links).
	links map[string][]string
	// probedFrom maps each component to the vantages that probe it, when
	// vantages are declared (incident.Observation.Vantages).
	probedFrom map[string][]string
	// storeSwept is set once the store's components were compared with the
	// config (components removed while tocsin was not running).
	storeSwept bool
}

// New returns an engine with no configuration and no components; call
// Configure, then Adopt what the ownership manager grants.
func New(o Options) (*Engine, error) {
	m, err := newMetrics(o.Registry, ownership.VantageOf(o.Member))
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.OnFenced == nil {
		o.OnFenced = func(string, ownership.Fence) {}
	}
	if o.OnCertWarning == nil {
		o.OnCertWarning = func(config.Check, time.Time) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		o: o, store: o.Store, checks: o.Checks, logger: o.Logger, now: o.Now,
		m: m, wake: make(chan struct{}, 1), upWriter: incident.NewID(), up: uptime.NewRecorder(time.UTC),
		det: detector.New(), cfg: &config.Config{},
		scrub: strings.NewReplacer(), acked: map[string]ack{}, owned: map[string]ownership.Fence{},
		byComponent: map[string][]*config.Check{}, checkComp: map[string]string{},
		dirty: map[string]struct{}{}, probeState: map[string][]byte{}, shelved: map[string]checkstate.Check{},
		retired: map[string]string{}, removed: map[string][]string{},
	}, nil
}

// CheckMetrics returns the per-check series of docs/metrics.md, which the engine
// does not register: /metrics writes them itself (WriteMetrics), and a
// registry that wants them may register them.
func (e *Engine) CheckMetrics() *CheckMetrics { return e.m.checks }

// Configure applies a (new) configuration. Checks that did not change keep
// their state; removed checks lose their state, their metric series and
// their published state. With vantages, the engine knows only the checks
// its vantage probes: a check probed elsewhere would stay unknown here and
// hold the component's verdict unknown (a recovery never reported).
func (e *Engine) Configure(cfg *config.Config) {
	specs := make([]detector.Spec, 0, len(cfg.Checks))
	keep := make(map[string]bool, len(cfg.Checks))
	byComponent := map[string][]*config.Check{}
	checkComp := make(map[string]string, len(cfg.Checks))
	vantage := ownership.VantageOf(e.o.Member)
	for i := range cfg.Checks {
		c := &cfg.Checks[i]
		if !cfg.Probes(vantage, *c) {
			continue
		}
		specs = append(specs, detector.Spec{
			Name: c.Name, Component: c.Component, Impact: detector.ComponentStatus(c.Impact),
			FailureThreshold: c.FailureThreshold, SuccessThreshold: c.SuccessThreshold,
			FlapLow: c.FlapLowThreshold, FlapHigh: c.FlapHighThreshold,
		})
		keep[c.Name] = true
		byComponent[c.Component] = append(byComponent[c.Component], c)
		checkComp[c.Name] = c.Component
	}
	pairs := make([]string, 0, 2*len(cfg.Secrets()))
	for _, s := range cfg.Secrets() {
		pairs = append(pairs, s, "<redacted>")
	}
	e.mu.Lock()
	e.noteRemoved(cfg, checkComp)
	for _, c := range e.cfg.Checks {
		if !keep[c.Name] {
			e.m.forget(c.Name)
			e.unpublish = append(e.unpublish, c.Name)
			delete(e.dirty, c.Name)
			delete(e.probeState, c.Name)
			delete(e.shelved, c.Name)
		} else if checkComp[c.Name] != c.Component {
			// Moved to another component: its state there starts afresh.
			e.m.forget(c.Name)
			e.det.Reset(c.Name)
			delete(e.shelved, c.Name)
		}
	}
	e.m.forgetCertsWithoutTLS(cfg.Checks)
	e.m.setPerCheck(cfg.Metrics.PerCheckHistograms)
	e.retire(e.cfg.Components, cfg.Components)
	e.det.Configure(specs)
	clear(e.snaps) // specs may have changed: snapshots are made again on demand
	e.cfg, e.scrub = cfg, strings.NewReplacer(pairs...)
	e.byComponent, e.checkComp = byComponent, checkComp
	e.ordered = parentsFirst(cfg.Components)
	e.links = dependencyLinks(cfg.Components)
	e.probedFrom = cfg.ProbingVantages()
	if loc, err := time.LoadLocation(cfg.Page.TimeZone); err == nil {
		e.up.SetLocation(loc) // validated by config.Load; a bad zone keeps the last
	}
	e.m.configured.Set(float64(len(cfg.Checks)))
	e.countOwnedLocked()
	e.mu.Unlock()
	e.poke()
}

// Record takes one probe result; it is the scheduler's sink. A result of a
// check whose component this replica no longer owns is dropped.
func (e *Engine) Record(ctx context.Context, c config.Check, r probe.Result) {
	now := e.now()
	e.mu.Lock()
	if spec, ok := e.det.Spec(c.Name); !ok || spec.Component != c.Component {
		// A probe that was in flight when its check was removed or moved.
		e.mu.Unlock()
		return
	}
	if _, ok := e.owned[c.Component]; !ok {
		e.mu.Unlock()
		return
	}
	r.Message = e.scrub.Replace(r.Message)
	e.m.observe(c, r, now)
	ch, changed := e.det.Observe(c.Name, r, now)
	e.snapshotLocked(c.Name)
	e.up.CheckResult(c.Name, r.Status, now)
	e.dirty[c.Name] = struct{}{}
	if r.State != nil {
		e.probeState[c.Name] = r.State
	}
	if changed {
		e.m.setCheckStatus(c.Name, ch.To)
	}
	e.mu.Unlock()
	// An expired certificate is no warning: the check is down.
	if w := c.CertExpiryWarning(); w > 0 && r.CertNotAfter.After(now) && r.CertNotAfter.Sub(now) < w {
		e.o.OnCertWarning(c, r.CertNotAfter)
	}
	// Every result is published (the public check list shows it) at the
	// next writer pass; a change of state wakes the writer now.
	if changed {
		// A check's first verdict after a start, a reload or a handover
		// is no news when it is up: at info it was a line per check (50,000
		// at start-up for a large estate).
		level := slog.LevelInfo
		if ch.From == detector.Unknown && ch.To == detector.Up {
			level = slog.LevelDebug
		}
		e.logger.Log(ctx, level, "check state changed", "check", c.Name, "from", ch.From, "to", ch.To,
			"flapping", ch.Flapping, "reason", r.Reason, "message", r.Message)
		e.poke()
	}
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run is the single writer: every tickEvery, and sooner when something
// changed, it publishes check states, sends component changes and uptime
// and runs the store's time-based transitions, until ctx is done.
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

// Flush sends pending check states, component changes and uptime now;
// used at shutdown.
func (e *Engine) Flush(ctx context.Context) {
	e.flush(ctx)
	e.writeUptime(ctx, true)
}

// ack is a component state the store accepted.
type ack struct {
	status detector.ComponentStatus
	detail string
}

func policy(c config.Incidents) incident.Policy {
	return incident.Policy{GroupBy: c.GroupBy, GroupWindow: c.GroupWindow, ResolveAfter: c.ResolveAfter,
		ReopenWindow: c.ReopenWindow, Retention: c.Retention}
}
