package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/uptime"
)

const (
	defaultInterval = 500 * time.Millisecond
	// reloadEvery bounds how long a state is trusted without a Load, in case
	// a version bump was missed; it also refreshes time-dependent output.
	reloadEvery = time.Minute
	// storeTimeout bounds each store call, whatever the store's own timeouts.
	storeTimeout = 5 * time.Second
	// checksPerRead bounds one read of changed check states.
	checksPerRead = 5000
)

// StoreReader is what the Refresher reads; redisstore.Store is one.
type StoreReader interface {
	// Versions tells whether the state or the check states changed.
	Versions(ctx context.Context) (incident.Versions, error)
	Load(ctx context.Context, limit int) (incident.State, error)
	// ChecksSince reads the published check states changed after since.
	ChecksSince(ctx context.Context, since int64, max int) (checkstate.Changes, error)
}

// RefresherOptions configure a Refresher.
type RefresherOptions struct {
	Store StoreReader
	// Config returns the config in force. A config is never modified: a new
	// one is a new pointer, and what was encoded for the old one is not
	// reused.
	Config func() *config.Config
	Server *Server
	Logger *slog.Logger
	// Interval is how often the store versions are polled (default 500ms).
	// Rebuilds asked for with Trigger happen at most once per Interval/2.
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// StoreClock, when set, corrects Now by the store's clock, read at every
	// poll, so that time-dependent output (maintenance phases, the day)
	// turns at the same instant on every replica.
	StoreClock bool
	// Metrics, if set, follows every snapshot.
	Metrics *Metrics
	// Uptime, if set, is read for the 90-day history at most once per
	// uptimeEvery, and when the config changes.
	Uptime UptimeReader
}

// Refresher keeps the Server's snapshot current: it polls the store's
// versions and rebuilds when the state, the published check states, the
// config or a maintenance window changed, and when told that the store
// changed. It shows only what the store holds, never this process' own
// view, so every replica serves the same bodies. Make one with
// NewRefresher, then call Refresh once and Run.
type Refresher struct {
	o RefresherOptions

	trigger chan struct{}
	lastOK  atomic.Int64 // unix nanoseconds of the last successful store read
	skew    atomic.Int64 // store clock minus Now, nanoseconds
	enc     *encoder

	mu        sync.Mutex // serialises cycles; guards the fields below
	state     incident.State
	haveState bool
	loadOK    bool // the last Load succeeded: state is the store's
	version   int64
	created   time.Time // the store's creation time at the last read
	checks    checkSet  // the published check states, read in place by builds
	checksSeq int64
	checksOK  bool      // the check states are the store's
	checksGen uint64    // changes whenever checks does
	checksAt  time.Time // when the check states were last published
	stale     bool      // the last store read failed
	lastLoad  time.Time
	lastBuild time.Time
	epoch     time.Time
	built     buildKey
	snap      *Snapshot // the last one built, reused by the next build
	failing   bool
	days      map[string][]uptime.ComponentDay
	daysRead  time.Time      // when days was read
	daysSlot  time.Time      // the slot days was read for
	daysTried time.Time      // the slot of the last attempt, successful or not
	daysCfg   *config.Config // the config days was read for
	daysFail  bool           // the last attempt failed
	loc       *time.Location // the page's time zone, for locCfg
	locCfg    *config.Config
}

// buildKey is what the last snapshot was built from, besides the state.
type buildKey struct {
	cfg    *config.Config
	checks uint64 // generation of the check states
	maint  string // phase of every maintenance window
	stale  bool
	day    time.Time // today in the page's time zone: the bars move at midnight
}

// NewRefresher returns a Refresher for o.
func NewRefresher(o RefresherOptions) *Refresher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = defaultInterval
	}
	return &Refresher{o: o, trigger: make(chan struct{}, 1), enc: newEncoder()}
}

// now is the refresher's clock: Now, corrected by the store's when
// StoreClock is set.
func (r *Refresher) now() time.Time {
	return r.o.Now().Add(time.Duration(r.skew.Load()))
}

// Trigger says the store changed: the state is loaded again and the
// snapshot rebuilt soon. It never blocks; bursts coalesce into one rebuild.
func (r *Refresher) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// LastSuccess is when the store was last read successfully (zero if never):
// the versions, and the state too whenever it had to be loaded.
func (r *Refresher) LastSuccess() time.Time {
	n := r.lastOK.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Refresh loads the state and publishes a new snapshot now. On a store
// error it publishes the last good state marked stale (if there is one) and
// returns the error.
func (r *Refresher) Refresh(ctx context.Context) error {
	return r.cycle(ctx, true)
}

// Run keeps the snapshot current until ctx is done; it returns nil then.
func (r *Refresher) Run(ctx context.Context) error {
	tick := time.NewTicker(r.o.Interval)
	defer tick.Stop()
	store := newCoalescer(r.o.Interval / 2)
	defer store.stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			_ = r.cycle(ctx, false)
		case <-r.trigger:
			store.request()
		case <-store.timer.C:
			store.fired()
			_ = r.cycle(ctx, true)
		}
	}
}

// coalescer turns requests into runs at least gap apart: the first request
// after a run schedules the next, later ones join it.
type coalescer struct {
	timer   *time.Timer
	gap     time.Duration
	last    time.Time
	pending bool
}

func newCoalescer(gap time.Duration) *coalescer {
	c := &coalescer{timer: time.NewTimer(time.Hour), gap: gap}
	c.timer.Stop()
	return c
}

func (c *coalescer) request() {
	if !c.pending {
		c.pending = true
		c.timer.Reset(max(0, c.gap-time.Since(c.last)))
	}
}

func (c *coalescer) fired() { c.pending, c.last = false, time.Now() }

func (c *coalescer) stop() { c.timer.Stop() }

// cycle reads what changed in the store (everything if force) and
// rebuilds if anything shown changed. It gives up, publishing nothing,
// once ctx is done.
func (r *Refresher) cycle(ctx context.Context, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	loaded, storeErr := r.read(ctx, force)
	if err := ctx.Err(); err != nil {
		return err // shutting down: not the store's fault
	}
	now := r.now()
	if r.epoch.IsZero() {
		r.epoch = now
	}
	r.noteStore(storeErr)
	r.stale = storeErr != nil
	if !r.haveState {
		if storeErr == nil {
			storeErr = errors.New("status: no state loaded")
		}
		return storeErr
	}
	cfg := r.o.Config()
	if cfg == nil {
		return errors.New("status: no config")
	}
	daysRead := false
	if storeErr == nil {
		daysRead = r.readUptime(ctx, cfg, now)
	}
	key := buildKey{cfg: cfg, checks: r.checksGen, maint: maintenanceKey(cfg, now), stale: r.stale,
		day: uptime.Midnight(now, r.location(cfg))}
	if !loaded && !daysRead && key == r.built && now.Sub(r.lastBuild) < reloadEvery {
		return storeErr
	}
	epoch := r.state.CreatedAt
	if epoch.IsZero() {
		epoch = r.epoch
	}
	if err := r.rebuild(ctx, Inputs{Config: cfg, State: r.state, Checks: r.checks.list, CheckVantages: r.checks.vantages, ChecksUpdated: r.checksAt,
		Now: now, Stale: r.stale, Epoch: epoch, Uptime: r.days, UptimeAt: r.daysSlot,
		StateRead: r.lastLoad, UptimeRead: r.daysRead}); err != nil {
		return errors.Join(storeErr, err)
	}
	r.built, r.lastBuild = key, now
	return storeErr
}

// rebuild builds and publishes a snapshot.
func (r *Refresher) rebuild(ctx context.Context, in Inputs) error {
	snap, err := build(ctx, in, buildOptions{enc: r.enc, prev: r.snap})
	if err != nil {
		if ctx.Err() == nil {
			r.o.Logger.Error("status: build snapshot", "error", err)
		}
		return err
	}
	r.snap = snap
	// The metrics first: whoever sees the new snapshot served finds
	// /metrics already agreeing with it.
	if r.o.Metrics != nil {
		r.o.Metrics.Update(snap)
	}
	r.o.Server.Set(snap)
	return nil
}

// read polls the versions, loads the state when it changed, when forced,
// when the last Load failed, or when the state is older than reloadEvery,
// and reads the check states that changed. It reports whether it read
// anything new. LastSuccess advances only when what is held is the
// store's current state.
func (r *Refresher) read(ctx context.Context, force bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	asked := r.o.Now()
	v, err := r.o.Store.Versions(ctx)
	if err != nil {
		return false, fmt.Errorf("status: store versions: %w", err)
	}
	if r.o.StoreClock && !v.Now.IsZero() {
		// The store read its clock somewhere between asking and the answer.
		mid := asked.Add(r.o.Now().Sub(asked) / 2)
		r.skew.Store(int64(v.Now.Sub(mid)))
	}
	now := r.now()
	if !v.Created.Equal(r.created) {
		// Emptied or restarted without its data: nothing read before holds.
		r.created, r.checksOK, r.loadOK = v.Created, false, false
	}
	loaded := false
	if !r.loadOK || force || v.State != r.version || now.Sub(r.lastLoad) >= reloadEvery {
		st, err := r.o.Store.Load(ctx, incidentLimit)
		if err != nil {
			r.loadOK = false
			return false, fmt.Errorf("status: store load: %w", err)
		}
		r.state, r.haveState, r.loadOK, r.version, r.lastLoad = st, true, true, v.State, now
		loaded = true
	}
	if !r.checksOK || v.Checks != r.checksSeq {
		changed, err := r.readChecks(ctx)
		if err != nil {
			return loaded, err
		}
		loaded = loaded || changed
	}
	// LastSuccess is judged against this host's clock (readiness), not the
	// store's.
	r.lastOK.Store(r.o.Now().UnixNano())
	return loaded, nil
}

// readChecks applies the published check states that changed since the
// last read, all of them after a reset, once every part is read: a read
// that fails half way changes nothing. It reports whether any changed. A
// state that cannot be decoded is shown as unknown and logged, not retried
// forever.
func (r *Refresher) readChecks(ctx context.Context) (bool, error) {
	since := r.checksSeq
	if !r.checksOK {
		since = 0
	}
	fresh := since == 0
	var parts []checkstate.Changes
	for {
		ch, err := r.o.Store.ChecksSince(ctx, since, checksPerRead)
		if err != nil {
			r.checksOK = false
			return false, fmt.Errorf("status: read check states: %w", err)
		}
		if ch.Reset {
			fresh, parts = true, nil
		}
		parts = append(parts, ch)
		since = ch.Seq
		if !ch.More {
			break
		}
	}
	changed := fresh
	if fresh {
		r.checks.reset()
	}
	for _, ch := range parts {
		for i, c := range ch.Checks {
			v := ""
			if i < len(ch.Vantages) {
				v = ch.Vantages[i]
			}
			r.checks.put(c, v)
		}
		for _, field := range append(ch.Removed, ch.Undecodable...) {
			r.checks.remove(field)
		}
		if len(ch.Undecodable) > 0 {
			r.o.Logger.Error("status: published check states that cannot be decoded are shown as unknown",
				"checks", ch.Undecodable)
		}
		changed = changed || len(ch.Checks) > 0 || len(ch.Removed) > 0 || len(ch.Undecodable) > 0
		r.checksAt = ch.Updated
	}
	r.checksSeq, r.checksOK = since, true
	if changed {
		r.checksGen++
	}
	return changed, nil
}

// noteStore logs when the store becomes unreadable and when it recovers,
// not on every poll.
func (r *Refresher) noteStore(err error) {
	switch {
	case err != nil && !r.failing:
		r.failing = true
		r.o.Logger.Warn("status: store unreadable, serving the last state as stale", "error", err)
	case err == nil && r.failing:
		r.failing = false
		r.o.Logger.Info("status: store readable again")
	}
}

// maintenanceKey changes when any maintenance window changes phase, or a
// recurring one moves on to another occurrence.
func maintenanceKey(cfg *config.Config, now time.Time) string {
	b := make([]byte, 0, 8*len(cfg.Maintenance))
	for _, m := range cfg.Maintenance {
		for _, w := range maintenanceOccurrences(m, now) {
			if w != nil {
				b = strconv.AppendInt(b, w.Start.Unix(), 36)
			}
			b = append(b, ',')
		}
		b = append(b, ';')
	}
	return string(b)
}
