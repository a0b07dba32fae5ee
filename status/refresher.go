package status

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/uptime"
)

const (
	defaultInterval    = 500 * time.Millisecond
	defaultChecksEvery = time.Second
	// reloadEvery bounds how long a state is trusted without a Load, in case
	// a version bump was missed; it also refreshes time-dependent output and
	// picks up check states nobody announced.
	reloadEvery = time.Minute
	// storeTimeout bounds each store call, whatever the store's own timeouts.
	storeTimeout = 5 * time.Second
)

// Refresher keeps the Server's snapshot current: it polls the store's
// version and rebuilds when the state, the config or a maintenance window
// changed, and when told that the store or the checks changed. Set the
// fields, then call Refresh once and Run.
type Refresher struct {
	Store incident.Store
	// Checks returns this process's check states. It is called only for a
	// rebuild: a poll does not read it (call ChecksChanged instead), though
	// the reload every minute does.
	Checks func() []detector.Check
	// Config returns the config in force. A config is never modified: a new
	// one is a new pointer, and what was encoded for the old one is not
	// reused.
	Config func() *config.Config
	Server *Server
	Logger *slog.Logger
	// Interval is how often the store version is polled (default 500ms).
	// Rebuilds asked for with Trigger happen at most once per Interval/2.
	Interval time.Duration
	// ChecksEvery is the least time between two rebuilds asked for with
	// ChecksChanged (default 1s).
	ChecksEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Metrics, if set, follows every snapshot.
	Metrics *Metrics
	// Uptime, if set, is read for the 90-day history at most once per
	// uptimeEvery, and when the config changes.
	Uptime UptimeReader

	once          sync.Once
	trigger       chan struct{}
	checksTrigger chan struct{}
	lastOK        atomic.Int64 // unix nanoseconds of the last successful store read
	enc           *encoder

	mu        sync.Mutex // serialises cycles; guards the fields below
	state     incident.State
	haveState bool
	loadOK    bool // the last Load succeeded: state is the store's
	version   int64
	stale     bool // the last store read failed
	lastLoad  time.Time
	lastBuild time.Time
	epoch     time.Time
	built     buildKey
	snap      *Snapshot // the last one built, reused by the next build
	failing   bool
	days      map[string][]uptime.ComponentDay
	daysRead  time.Time      // when days was read
	daysTried time.Time      // the last attempt, successful or not
	daysCfg   *config.Config // the config days was read for
	daysFail  bool           // the last attempt failed
	loc       *time.Location // the page's time zone, for locCfg
	locCfg    *config.Config
}

// buildKey is what the last snapshot was built from, besides the state.
type buildKey struct {
	cfg    *config.Config
	checks uint64 // fingerprint of the check states
	maint  string // phase of every maintenance window
	stale  bool
	day    time.Time // today in the page's time zone: the bars move at midnight
}

// cycleKind is why a cycle runs.
type cycleKind int

const (
	// cyclePoll polls the version and rebuilds if anything shown changed,
	// except the checks.
	cyclePoll cycleKind = iota
	// cycleStore loads the state and rebuilds.
	cycleStore
	// cycleChecks rebuilds from the loaded state if the checks changed.
	cycleChecks
)

func (r *Refresher) init() {
	r.once.Do(func() {
		r.trigger = make(chan struct{}, 1)
		r.checksTrigger = make(chan struct{}, 1)
		r.enc = newEncoder()
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Interval <= 0 {
			r.Interval = defaultInterval
		}
		if r.ChecksEvery <= 0 {
			r.ChecksEvery = defaultChecksEvery
		}
	})
}

// Trigger says the store changed: the state is loaded again and the
// snapshot rebuilt soon. It never blocks; bursts coalesce into one rebuild.
func (r *Refresher) Trigger() {
	r.init()
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// ChecksChanged says only this process's check states changed (a probe
// result arrived): the snapshot is rebuilt from the state already loaded,
// without reading the store, at most once per ChecksEvery. It never blocks.
func (r *Refresher) ChecksChanged() {
	r.init()
	select {
	case r.checksTrigger <- struct{}{}:
	default:
	}
}

// LastSuccess is when the store was last read successfully (zero if never):
// the version, and the state too whenever it had to be loaded.
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
	r.init()
	return r.cycle(ctx, cycleStore)
}

// Run keeps the snapshot current until ctx is done; it returns nil then.
func (r *Refresher) Run(ctx context.Context) error {
	r.init()
	tick := time.NewTicker(r.Interval)
	defer tick.Stop()
	store := newCoalescer(r.Interval / 2)
	defer store.stop()
	checks := newCoalescer(r.ChecksEvery)
	defer checks.stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			_ = r.cycle(ctx, cyclePoll)
		case <-r.trigger:
			store.request()
		case <-store.timer.C:
			store.fired()
			_ = r.cycle(ctx, cycleStore)
		case <-r.checksTrigger:
			checks.request()
		case <-checks.timer.C:
			checks.fired()
			_ = r.cycle(ctx, cycleChecks)
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

// cycle reads the store as kind says and rebuilds if anything shown
// changed. It gives up, publishing nothing, once ctx is done.
func (r *Refresher) cycle(ctx context.Context, kind cycleKind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	now := r.Now()
	if r.epoch.IsZero() {
		r.epoch = now
	}
	loaded, storeErr := false, error(nil)
	if kind != cycleChecks {
		loaded, storeErr = r.read(ctx, now, kind == cycleStore)
		if err := ctx.Err(); err != nil {
			return err // shutting down: not the store's fault
		}
		r.noteStore(storeErr)
		r.stale = storeErr != nil
	}
	if !r.haveState {
		if storeErr == nil {
			storeErr = errors.New("status: no state loaded")
		}
		return storeErr
	}
	cfg := r.Config()
	if cfg == nil {
		return errors.New("status: no config")
	}
	daysRead := false
	if kind != cycleChecks && storeErr == nil {
		daysRead = r.readUptime(ctx, cfg, now)
	}
	key := buildKey{cfg: cfg, maint: maintenanceKey(cfg, now), stale: r.stale,
		day: uptime.Midnight(now, r.location(cfg))}
	// A poll leaves the checks alone: reading them copies every check's
	// history, and ChecksChanged announces their changes.
	if kind == cyclePoll && !loaded && !daysRead && now.Sub(r.lastBuild) < reloadEvery {
		shown := r.built
		shown.checks = 0
		if key == shown {
			return storeErr
		}
	}
	var checks []detector.Check
	if r.Checks != nil {
		checks = r.Checks()
	}
	key.checks = fingerprint(checks)
	if kind == cycleChecks && key == r.built {
		return nil
	}
	if err := r.rebuild(ctx, Inputs{Config: cfg, State: r.state, Checks: checks, Now: now, Stale: r.stale,
		Epoch: r.epoch, Uptime: r.days, StateRead: r.lastLoad, UptimeRead: r.daysRead}); err != nil {
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
			r.Logger.Error("status: build snapshot", "error", err)
		}
		return err
	}
	r.snap = snap
	r.Server.Set(snap)
	if r.Metrics != nil {
		r.Metrics.Update(snap)
	}
	return nil
}

// read polls the version and loads the state when it changed, when forced,
// when the last Load failed, or when the state is older than reloadEvery. It
// reports whether it loaded. LastSuccess advances only when the state held
// is the store's current one.
func (r *Refresher) read(ctx context.Context, now time.Time, force bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	v, err := r.Store.Version(ctx)
	if err != nil {
		return false, fmt.Errorf("status: store version: %w", err)
	}
	if r.loadOK && !force && v == r.version && now.Sub(r.lastLoad) < reloadEvery {
		r.lastOK.Store(now.UnixNano())
		return false, nil
	}
	st, err := r.Store.Load(ctx, incidentLimit)
	if err != nil {
		r.loadOK = false
		return false, fmt.Errorf("status: store load: %w", err)
	}
	r.lastOK.Store(now.UnixNano())
	r.state, r.haveState, r.loadOK, r.version, r.lastLoad = st, true, true, v, now
	return true, nil
}

// noteStore logs when the store becomes unreadable and when it recovers,
// not on every poll.
func (r *Refresher) noteStore(err error) {
	switch {
	case err != nil && !r.failing:
		r.failing = true
		r.Logger.Warn("status: store unreadable, serving the last state as stale", "error", err)
	case err == nil && r.failing:
		r.failing = false
		r.Logger.Info("status: store readable again")
	}
}

// fingerprint changes whenever a check's state or latest result does. It
// does not depend on the order of checks (the detector's is random).
func fingerprint(checks []detector.Check) uint64 {
	var sum uint64
	var buf [8]byte
	for _, c := range checks {
		h := fnv.New64a()
		num := func(n int64) {
			binary.LittleEndian.PutUint64(buf[:], uint64(n))
			_, _ = h.Write(buf[:])
		}
		_, _ = h.Write([]byte(c.Name))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(c.Status))
		num(c.Since.UnixNano())
		num(c.Last.Start.UnixNano())
		num(int64(len(c.Recent)))
		sum += h.Sum64()
	}
	return sum
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
