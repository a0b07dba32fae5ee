package status

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

const (
	defaultInterval = 500 * time.Millisecond
	// reloadEvery bounds how long a state is trusted without a Load, in case
	// a version bump was missed; it also refreshes time-dependent output.
	reloadEvery = time.Minute
	// storeTimeout bounds each store call, whatever the store's own timeouts.
	storeTimeout = 5 * time.Second
)

// Refresher keeps the Server's snapshot current: it polls the store's
// version and rebuilds when the state, the config, the checks or a
// maintenance window changed. Set the fields, then call Refresh once and Run.
type Refresher struct {
	Store  incident.Store
	Checks func() []detector.Check
	Config func() *config.Config
	Server *Server
	Logger *slog.Logger
	// Interval is how often the store version is polled (default 500ms).
	// Triggered rebuilds happen at most once per Interval/2.
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Metrics, if set, follows every snapshot.
	Metrics *Metrics

	once    sync.Once
	trigger chan struct{}
	lastOK  atomic.Int64 // unix nanoseconds of the last successful store read

	mu        sync.Mutex // serialises cycles; guards the fields below
	state     incident.State
	haveState bool
	version   int64
	lastLoad  time.Time
	lastBuild time.Time
	epoch     time.Time
	built     buildKey
	failing   bool
}

// buildKey is what the last snapshot was built from, besides the state.
type buildKey struct {
	cfg    *config.Config
	checks uint64 // fingerprint of the check states
	maint  string // phase of every maintenance window
	stale  bool
}

func (r *Refresher) init() {
	r.once.Do(func() {
		r.trigger = make(chan struct{}, 1)
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Interval <= 0 {
			r.Interval = defaultInterval
		}
	})
}

// Trigger asks for a rebuild soon (a check result arrived). It never
// blocks; bursts coalesce into one rebuild.
func (r *Refresher) Trigger() {
	r.init()
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// LastSuccess is when the store was last read successfully (zero if never).
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
	return r.cycle(ctx, true)
}

// Run keeps the snapshot current until ctx is done; it returns nil then.
func (r *Refresher) Run(ctx context.Context) error {
	r.init()
	tick := time.NewTicker(r.Interval)
	defer tick.Stop()
	coalesce := time.NewTimer(time.Hour)
	coalesce.Stop()
	defer coalesce.Stop()
	minGap := r.Interval / 2
	var lastForced time.Time
	pending := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			_ = r.cycle(ctx, false)
		case <-r.trigger:
			if !pending {
				pending = true
				coalesce.Reset(max(0, minGap-time.Since(lastForced)))
			}
		case <-coalesce.C:
			pending = false
			lastForced = time.Now()
			_ = r.cycle(ctx, true)
		}
	}
}

// cycle reads the store if needed and rebuilds if anything shown changed.
// force reloads the state and rebuilds regardless.
func (r *Refresher) cycle(ctx context.Context, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Now()
	if r.epoch.IsZero() {
		r.epoch = now
	}
	loaded, storeErr := r.read(ctx, now, force)
	r.noteStore(storeErr)
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
	var checks []detector.Check
	if r.Checks != nil {
		checks = r.Checks()
	}
	key := buildKey{cfg: cfg, checks: fingerprint(checks), maint: maintenanceKey(cfg, now), stale: storeErr != nil}
	if !force && !loaded && key == r.built && now.Sub(r.lastBuild) < reloadEvery {
		return storeErr
	}
	snap, err := Build(Inputs{Config: cfg, State: r.state, Checks: checks, Now: now,
		Stale: storeErr != nil, Epoch: r.epoch})
	if err != nil {
		r.Logger.Error("status: build snapshot", "error", err)
		return errors.Join(storeErr, err)
	}
	r.Server.Set(snap)
	if r.Metrics != nil {
		r.Metrics.Update(snap)
	}
	r.built, r.lastBuild = key, now
	return storeErr
}

// read polls the version and loads the state when it changed, when forced,
// or when the state is older than reloadEvery. It reports whether it loaded.
func (r *Refresher) read(ctx context.Context, now time.Time, force bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	v, err := r.Store.Version(ctx)
	if err != nil {
		return false, fmt.Errorf("status: store version: %w", err)
	}
	r.lastOK.Store(now.UnixNano())
	if r.haveState && !force && v == r.version && now.Sub(r.lastLoad) < reloadEvery {
		return false, nil
	}
	st, err := r.Store.Load(ctx, incidentLimit)
	if err != nil {
		return false, fmt.Errorf("status: store load: %w", err)
	}
	r.lastOK.Store(now.UnixNano())
	r.state, r.haveState, r.version, r.lastLoad = st, true, v, now
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

// maintenanceKey changes when any maintenance window changes phase.
func maintenanceKey(cfg *config.Config, now time.Time) string {
	b := make([]byte, 0, len(cfg.Maintenance))
	for _, m := range cfg.Maintenance {
		b = append(b, maintenancePhase(m, now)[0])
	}
	return string(b)
}
