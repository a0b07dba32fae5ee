package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/api"
	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/engine"
	"github.com/tocsin/tocsin/heartbeat"
	"github.com/tocsin/tocsin/notify"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/probe/probes"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/schedule"
	"github.com/tocsin/tocsin/status"
)

// app holds the running parts and the config in force.
type app struct {
	logger    *slog.Logger
	scrub     *scrubber
	reloads   *reloadMetrics
	cfg       atomic.Pointer[config.Config]
	store     *redisstore.Store
	member    string // this replica in the ownership membership
	source    net.IP // scheduler.source_address as at startup; nil: none
	owners    *ownership.Manager
	eng       *engine.Engine
	sched     *schedule.Scheduler
	status    *status.Server
	refresher *status.Refresher
	notifier  *notify.Dispatcher
	watchdog  *notify.Watchdog // nil without watchdog.url
	// heartbeats are the heartbeat checks in force, for the beat endpoint.
	heartbeats atomic.Pointer[map[string]config.HeartbeatCheck]
	// owned caches, per config, the components this replica's vantage
	// probes: asked for at every lease round.
	owned atomic.Pointer[ownedIDs]
}

// ownedIDs are the components a config has this replica's vantage own.
type ownedIDs struct {
	cfg *config.Config
	ids []string
}

// readyAfter is how stale the last successful store read may be before
// /readyz fails.
const readyAfter = 5 * time.Second

// probeStopTimeout bounds how long shutdown waits for cancelled probes to
// return; every prober honours its context, so they return at once.
const probeStopTimeout = 2 * time.Second

func (a *app) build(reg *prometheus.Registry) error {
	cfg := a.cfg.Load()
	sm, err := status.NewMetrics(reg)
	if err != nil {
		return err
	}
	a.owners, err = ownership.New(ownership.Options{
		Leaser: a.store, Member: a.member, TTL: cfg.Ownership.LeaseDuration,
		Components: a.componentIDs, OnChange: a.ownershipChanged, Logger: a.logger, Registry: reg,
	})
	if err != nil {
		return err
	}
	a.notifier, err = notify.New(notify.Options{Outbox: a.store, Member: a.member, Version: appVersion(),
		Logger: a.logger, Registry: reg})
	if err != nil {
		return err
	}
	a.eng, err = engine.New(engine.Options{
		Store: a.store, Checks: a.store, Uptime: a.store, Member: a.member, OnFenced: a.owners.Fenced,
		Registry: reg, Logger: a.logger, OnChange: a.changed, OnCertWarning: a.notifier.CertWarning,
	})
	if err != nil {
		return err
	}
	a.status = status.NewServer(status.ServerOptions{
		Logger: a.logger, Gatherer: reg, MetricsWriters: []status.MetricsWriter{a.eng.CheckMetrics()}, Ready: a.ready,
		CORSOrigins: cfg.Server.CORSOrigins, CacheMaxAge: cfg.Server.CacheMaxAge,
	})
	a.refresher = status.NewRefresher(status.RefresherOptions{
		Store: a.store, Config: a.cfg.Load, Server: a.status, Logger: a.logger,
		Now: time.Now, StoreClock: true, Metrics: sm, Uptime: a.store,
	})
	hb := heartbeat.NewHandler(a.store, a.heartbeatChecks, time.Now, a.logger)
	a.status.Router().Handle("/api/v1/heartbeats/{check}", heartbeat.Methods(), hb)
	a.status.Router().Handle("/api/v1/heartbeats/{check}/{kind}", heartbeat.Methods(), hb)
	api.New(a.store, a.apiToken, time.Now, a.logger).Mount(a.status.Router())
	a.sched, err = schedule.New(a.eng.Record, reg, a.logger, probeStopTimeout, cfg.Scheduler.MaxInFlight)
	if err != nil {
		return err
	}
	a.watchdog, err = notify.NewWatchdog(cfg.Watchdog, a.healthy, reg, a.logger)
	return err
}

// changed follows every change the engine made to the store: the
// snapshot is rebuilt, and events it queued are delivered.
func (a *app) changed() {
	a.refresher.Trigger()
	a.notifier.Poke()
}

// healthy says whether this replica works (the watchdog pings only then):
// its scheduler runs the checks on time and Redis took a write of it
// recently.
func (a *app) healthy() error {
	renew := a.owners.RenewEvery()
	if last := a.owners.LastRenewal(); last.IsZero() || time.Since(last) > max(2*renew, 500*time.Millisecond) {
		return errors.New("no write of this replica reached Redis recently")
	}
	if check, late := a.sched.Late(time.Now()); late > 1 {
		return fmt.Errorf("the scheduler is behind: check %s is %.1f intervals late", check, late)
	}
	return nil
}

// ownershipChanged follows the lease rounds: lost components stop being
// probed and judged here; acquired ones continue from what their last
// owner published.
func (a *app) ownershipChanged(ctx context.Context, ch ownership.Change) {
	if ch.Reset {
		a.logger.Warn("Redis lost its data or failed over: writing everything this replica owns again")
		a.eng.StoreReset()
	} else if ch.VantagesChanged {
		a.eng.VantagesChanged()
	}
	for _, acq := range ch.Acquired {
		a.logger.Debug("component acquired", "component", acq.Component, "token", acq.Fence.Token, "continue", acq.Continue)
	}
	ch = a.receiversChanged(ch)
	if len(ch.Lost) > 0 {
		a.sched.Lose(ch.Lost)
		a.eng.Release(ch.Lost)
	}
	if len(ch.Acquired) == 0 {
		return
	}
	states := a.eng.Adopt(ctx, ch.Acquired)
	comps := make([]string, 0, len(ch.Acquired))
	fresh := map[string]bool{} // acquired, not continued: resumed from the store
	for _, acq := range ch.Acquired {
		comps = append(comps, acq.Component)
		if !acq.Continue {
			fresh[acq.Component] = true
		}
	}
	// One pass over the checks, not one per component: at start-up a
	// replica acquires every component, and one pass per component was
	// 250 million comparisons at 50,000 checks in 5,000 components.
	resume := map[string]schedule.Resume{}
	for _, c := range a.cfg.Load().Checks {
		if fresh[c.Component] {
			st := states[c.Name]
			resume[c.Name] = schedule.Resume{LastStart: st.State.Last.Start, ProbeState: st.ProbeState}
		}
	}
	if err := a.sched.Acquire(comps, resume); err != nil {
		a.logger.Error("some checks of acquired components could not be scheduled", "error", err)
	}
}

// receiversChanged hands the notification receivers' grants (their
// pseudo-components) to the notifier and returns the rest of ch.
func (a *app) receiversChanged(ch ownership.Change) ownership.Change {
	rest := ownership.Change{Reset: ch.Reset}
	for _, acq := range ch.Acquired {
		if r, ok := strings.CutPrefix(acq.Component, notify.OwnerPrefix); ok {
			a.notifier.Own(r, acq.Fence)
			continue
		}
		rest.Acquired = append(rest.Acquired, acq)
	}
	for _, c := range ch.Lost {
		if r, ok := strings.CutPrefix(c, notify.OwnerPrefix); ok {
			a.notifier.Lose(r)
			continue
		}
		rest.Lost = append(rest.Lost, c)
	}
	return rest
}

// componentIDs are the components of the config in force and its
// notification receivers (as pseudo-components), for the lease rounds.
// componentIDs are what this replica may own: the components its vantage
// probes (all of them without vantages), and the receivers' deliveries,
// owned once in the fleet (ownership/vantage.go).
func (a *app) componentIDs() []string {
	cfg := a.cfg.Load()
	if c := a.owned.Load(); c != nil && c.cfg == cfg {
		return c.ids
	}
	probing := cfg.ProbingVantages()
	ids := make([]string, 0, len(cfg.Components)+len(cfg.Notify))
	for _, c := range cfg.Components {
		if probing == nil || slices.Contains(probing[c.ID], cfg.Scheduler.Vantage) {
			ids = append(ids, c.ID)
		}
	}
	ids = append(ids, notify.Receivers(cfg)...)
	a.owned.Store(&ownedIDs{cfg, ids})
	return ids
}

func (a *app) ready() error {
	if a.cfg.Load() == nil {
		return errors.New("no config loaded")
	}
	last := a.refresher.LastSuccess()
	if last.IsZero() || time.Since(last) > readyAfter {
		return errors.New("store not reachable")
	}
	return nil
}

// errPartial marks a config that was put in force although some of its
// checks could not be scheduled.
var errPartial = errors.New("applied, but scheduling failed")

// apply puts cfg in force. Probers are built first, so a config whose
// probes cannot be built is rejected before anything changes.
func (a *app) apply(cfg *config.Config) error {
	jobs, err := buildJobs(cfg, a.store, a.source, a.sched.Wanted)
	if err != nil {
		return err
	}
	a.touchHeartbeats(cfg)
	a.scrub.set(cfg.Secrets())
	a.store.SetReceivers(notify.Filters(cfg))
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Redis.Timeout)
	err = a.notifier.Configure(ctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	a.cfg.Store(cfg)
	a.eng.Configure(cfg)
	a.refresher.Trigger()
	a.owners.Refresh()
	if err := a.sched.Reconcile(jobs); err != nil {
		return fmt.Errorf("%w: %w", errPartial, err)
	}
	return nil
}

// buildJobs builds a prober per check. A check the config in force
// (current) already has, unchanged, keeps its prober: a reload of a large
// config that changes a few checks builds a few (50,000 probers took
// 0.3 s). current may be nil.
func buildJobs(cfg *config.Config, beats probe.BeatReader, source net.IP, current func(string) (schedule.Job, bool)) ([]schedule.Job, error) {
	jobs := make([]schedule.Job, 0, len(cfg.Checks))
	var errs []error
	cas := probe.NewShared() // each ca_file read once per load
	for i, c := range cfg.Checks {
		if !cfg.Probes(cfg.Scheduler.Vantage, c) {
			continue // probed from other vantages only
		}
		if current != nil {
			if j, ok := current(c.Name); ok && reusable(*j.Check, c) {
				jobs = append(jobs, schedule.Job{Check: &cfg.Checks[i], Prober: j.Prober})
				continue
			}
		}
		p, err := probes.New(c, probe.Options{UserAgent: "tocsin/" + appVersion(), Beats: beats, Shared: cas, SourceAddr: source})
		if err != nil {
			// Every problem keeps the check's key path, joined ones too.
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) {
				errs = append(errs, fmt.Errorf("checks[%d]: %w", i, err))
				continue
			}
			for _, e := range joined.Unwrap() {
				errs = append(errs, fmt.Errorf("checks[%d]: %w", i, e))
			}
			continue
		}
		jobs = append(jobs, schedule.Job{Check: &cfg.Checks[i], Prober: p})
	}
	return jobs, errors.Join(errs...)
}

// touchHeartbeats publishes the heartbeat checks to the beat endpoint and
// records when each was first monitored, so one that never beats is missed.
func (a *app) touchHeartbeats(cfg *config.Config) {
	hb := map[string]config.HeartbeatCheck{}
	old := a.heartbeatChecks()
	for _, c := range cfg.Checks {
		if c.Heartbeat == nil {
			continue
		}
		hb[c.Name] = *c.Heartbeat
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Redis.Timeout)
		if err := a.store.Touch(ctx, c.Name, time.Now()); err != nil {
			a.logger.Warn("heartbeat: cannot record first-seen time; will use the process start", "check", c.Name, "error", err)
		}
		cancel()
	}
	a.heartbeats.Store(&hb)
	// A removed check's beats go, so that a new check by the same name
	// starts afresh instead of inheriting them.
	for name := range old {
		if _, ok := hb[name]; ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Redis.Timeout)
		if err := a.store.Forget(ctx, name); err != nil {
			a.logger.Warn("heartbeat: cannot forget a removed check's beats", "check", name, "error", err)
		}
		cancel()
	}
}

// apiToken guards the write API; read per request so a reload applies.
func (a *app) apiToken() string { return a.cfg.Load().Server.APIToken.Reveal() }

// heartbeatChecks is the beat endpoint's view of the config.
func (a *app) heartbeatChecks() map[string]config.HeartbeatCheck {
	if m := a.heartbeats.Load(); m != nil {
		return *m
	}
	return nil
}

// noBeats is the BeatReader of commands without a store (validate): heartbeat
// probers can be built, not run.
type noBeats struct{}

func (noBeats) Beats(context.Context, string) (probe.Beats, error) {
	return probe.Beats{}, errors.New("no heartbeat store in this command")
}

// reusable reports whether a prober built for old serves now: the check
// is unchanged (its secrets included, resolved from their files), and it
// names no certificate file, whose contents a reload reads again.
func reusable(old, now config.Check) bool {
	for _, t := range tlsOf(now) {
		if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
			return false
		}
	}
	return reflect.DeepEqual(old, now)
}

// tlsOf returns the TLS settings of a check's probe, if any.
func tlsOf(c config.Check) []*config.TLS {
	var out []*config.TLS
	if c.HTTP != nil {
		out = append(out, &c.HTTP.TLS)
	}
	if c.SMTP != nil {
		out = append(out, &c.SMTP.TLSConfig)
	}
	if c.TCP != nil {
		out = append(out, &c.TCP.TLSConfig)
	}
	if c.Queue != nil {
		out = append(out, &c.Queue.TLSConfig)
	}
	return out
}
