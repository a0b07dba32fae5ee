// Package schedule runs the probers of the checks this replica owns, each on
// its own interval with gocron: one named job per check, start times spread
// over the interval. A due job only dispatches its check to a bounded pool
// of workers (pool.go), so at most max_in_flight probes run at once and a
// check costs bytes, not a goroutine. An overrunning probe skips its
// check's next run instead of piling up: a flag of our own per check, not
// gocron's singleton mode, which keeps a goroutine and a 1,000-slot channel
// per job for the scheduler's life (gocron v2.21.2 executor.go never frees
// them when a job is removed, so every reload leaked them). A check runs
// only while its component is owned here; when ownership moves, its job
// stops (an in-flight probe is cancelled and its result dropped) and the
// new owner resumes it where the last run left off.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// Job is one check to run.
type Job struct {
	Check  config.Check
	Prober probe.Prober
}

// Resume is where a check continues when its component comes to this
// replica from another.
type Resume struct {
	// LastStart is when the last owner last probed it (zero: never): the
	// next run is one interval later, so a handover neither skips nor
	// doubles a run.
	LastStart time.Time
	// ProbeState is the last owner's prober state (nil: none), for
	// stateful probers (probe.Restorer).
	ProbeState []byte
}

// Sink receives every result. It is called from the worker that ran the
// probe, so up to max_in_flight calls run at once.
type Sink func(ctx context.Context, check config.Check, r probe.Result)

type entry struct {
	id     uuid.UUID
	check  config.Check
	prober probe.Prober
	// ctx ends when the job is removed or the scheduler shuts down: an
	// in-flight probe is cancelled then and its result dropped.
	ctx    context.Context
	cancel context.CancelFunc
	// first fires the first run (see add); stopped when the job is removed,
	// so a removed job's entry is not kept until then.
	first *time.Timer
	// busy is set from the dispatch of a run until its probe returns:
	// a run due meanwhile is skipped, not piled up behind it.
	busy atomic.Bool
	mu   sync.Mutex
	next time.Time // when the next run is due, for the lag metric
}

// Scheduler owns the gocron scheduler and the set of check jobs.
type Scheduler struct {
	cron        gocron.Scheduler
	pool        *pool
	sink        Sink
	logger      *slog.Logger
	now         func() time.Time
	stopTimeout time.Duration
	m           metrics
	// base ends at Shutdown: every probe's context derives from it.
	base context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	started bool              // Start was called: first-run timers are armed
	want    map[string]Job    // the config's checks
	owned   map[string]bool   // components owned here
	jobs    map[string]*entry // running jobs
}

// New returns a stopped scheduler that runs nothing until components are
// owned (Acquire). maxInFlight bounds the probes running at once
// (scheduler.max_in_flight); stopTimeout bounds how long Shutdown waits
// for probes to return once cancelled.
func New(sink Sink, reg prometheus.Registerer, logger *slog.Logger, stopTimeout time.Duration, maxInFlight int) (*Scheduler, error) {
	if maxInFlight < 1 {
		return nil, fmt.Errorf("schedule: max in flight %d: must be at least 1", maxInFlight)
	}
	m, err := newMetrics(reg, maxInFlight)
	if err != nil {
		return nil, err
	}
	// No singleton mode and no gocron concurrency limit: see the package
	// comment and dispatch. A job's run is then a short-lived goroutine of
	// gocron's that hands the check to the pool and returns.
	cron, err := gocron.NewScheduler(gocron.WithStopTimeout(stopTimeout))
	if err != nil {
		return nil, fmt.Errorf("schedule: new scheduler: %w", err)
	}
	base, stop := context.WithCancel(context.Background())
	s := &Scheduler{cron: cron, sink: sink, logger: logger, now: time.Now, stopTimeout: stopTimeout, m: m,
		base: base, stop: stop, want: map[string]Job{}, owned: map[string]bool{}, jobs: map[string]*entry{}}
	s.pool = newPool(maxInFlight, s.probe)
	return s, nil
}

// Start begins running jobs: those added before it run from then on.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	for _, e := range s.jobs {
		s.armFirst(e)
	}
	s.cron.Start()
}

// armFirst sets the timer of e's first run (see add), at its due time or
// now if that has passed, once the scheduler has started.
func (s *Scheduler) armFirst(e *entry) {
	if s.started && e.first == nil {
		e.first = time.AfterFunc(e.next.Sub(s.now()), func() { s.dispatch(e) })
	}
}

// Shutdown stops scheduling and cancels in-flight probes (their results
// are dropped, never counted as failures), then waits for them to return,
// stopTimeout at most.
func (s *Scheduler) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.stopTimeout)
	defer cancel()
	s.stop()
	// First-run timers still pending would keep every entry, and through
	// them the scheduler, until they fire, up to an interval from now.
	s.mu.Lock()
	for _, e := range s.jobs {
		if e.first != nil {
			e.first.Stop()
		}
	}
	s.mu.Unlock()
	if err := s.cron.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("schedule: shutdown: %w", err)
	}
	if err := s.pool.close(ctx); err != nil {
		return fmt.Errorf("schedule: shutdown: waiting for probes to return: %w", err)
	}
	return nil
}

// Reconcile makes the config's checks jobs: of the owned components, new
// checks are added, removed ones stopped, changed ones replaced; unchanged
// ones keep their schedule.
func (s *Scheduler) Reconcile(jobs []Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.want
	s.want = make(map[string]Job, len(jobs))
	for _, j := range jobs {
		s.want[j.Check.Name] = j
	}
	// A replaced prober whose check is not running here (its component is
	// owned elsewhere) has nothing in flight: release it now.
	for name, j := range old {
		if _, running := s.jobs[name]; !running && !sameProber(s.want[name].Prober, j.Prober) {
			if c, ok := j.Prober.(io.Closer); ok {
				_ = c.Close()
			}
		}
	}
	err := s.syncLocked(nil)
	// A check that did not change keeps its running prober (a queue keeps
	// its window: docs/configuration.md, "Reloading"); the one built for
	// the new config was never used, and would keep its connection pool
	// open for good.
	for name, e := range s.jobs {
		if j := s.want[name]; !sameProber(j.Prober, e.prober) {
			if c, ok := j.Prober.(io.Closer); ok {
				_ = c.Close()
			}
			s.want[name] = Job{Check: j.Check, Prober: e.prober}
		}
	}
	return err
}

// Acquire runs the checks of components, now owned here. resume holds, by
// check, where to continue a check the last owner ran.
func (s *Scheduler) Acquire(components []string, resume map[string]Resume) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range components {
		s.owned[c] = true
	}
	return s.syncLocked(resume)
}

// Lose stops the checks of components, owned elsewhere now; probes in
// flight are cancelled and their results dropped.
func (s *Scheduler) Lose(components []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range components {
		delete(s.owned, c)
	}
	_ = s.syncLocked(nil) // removals only: they cannot fail in a way worth more than a log
}

// syncLocked makes the running jobs the wanted checks of owned components.
func (s *Scheduler) syncLocked(resume map[string]Resume) error {
	var errs []error
	for name, e := range s.jobs {
		if j, ok := s.want[name]; ok && s.owned[j.Check.Component] && reflect.DeepEqual(j.Check, e.check) {
			continue
		}
		if err := s.cron.RemoveJob(e.id); err != nil && !errors.Is(err, gocron.ErrJobNotFound) {
			errs = append(errs, fmt.Errorf("schedule: remove %s: %w", name, err))
		}
		e.cancel()
		if e.first != nil {
			e.first.Stop()
		}
		if j, ok := s.want[name]; !ok || !sameProber(j.Prober, e.prober) {
			closeLater(e) // the prober itself is gone, not only its job
		}
		delete(s.jobs, name)
	}
	for name, j := range s.want {
		if _, running := s.jobs[name]; running || !s.owned[j.Check.Component] {
			continue
		}
		r, resumed := resume[name]
		if resumed {
			s.restore(j, r)
		}
		e, err := s.add(j, r, resumed)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule: add %s: %w", name, err))
			continue
		}
		s.jobs[name] = e
	}
	for _, err := range errs {
		s.logger.Error("schedule", "error", err)
	}
	return errors.Join(errs...)
}

// restore hands a stateful prober the last owner's state, or clears the
// state it kept from an earlier time it ran here.
func (s *Scheduler) restore(j Job, r Resume) {
	rs, ok := j.Prober.(probe.Restorer)
	if !ok {
		return
	}
	if err := rs.RestoreState(r.ProbeState); err != nil {
		s.logger.Warn("schedule: the last owner's prober state cannot be used; starting afresh",
			"check", j.Check.Name, "error", err)
		_ = rs.RestoreState(nil)
	}
}

func (s *Scheduler) add(j Job, r Resume, resumed bool) (*entry, error) {
	c := j.Check
	now := s.now()
	start := now.Add(Spread(c.Name, c.Interval))
	if resumed && !r.LastStart.IsZero() {
		// Continue the last owner's rhythm: one interval after its last
		// run, or now if that is past. A check nobody probed yet (every
		// check of a first start on an empty store) is spread like a new
		// one: starting them all now sent 50,000 probes at once and left
		// the first interval seconds late (tocsinbench).
		start = now
		if next := r.LastStart.Add(c.Interval); next.After(now) {
			start = next
		}
	}
	ctx, cancel := context.WithCancel(s.base)
	e := &entry{check: c, prober: j.Prober, next: start, ctx: ctx, cancel: cancel}
	// The first run is a timer of our own (armFirst) and gocron's job
	// starts with the second, one interval ahead. gocron moves a start
	// time that has passed by the time its loop takes the new job a whole
	// interval on (its selectNewJob, in v2.21.2 as go.mod pins it), and a
	// start due within milliseconds, or now, can pass in transit on a
	// loaded machine: BenchmarkFirstInterval50k saw a run pushed back an
	// interval while 50,000 jobs were added at load average 10. One
	// interval ahead, it cannot. The timer costs bytes, not a goroutine,
	// until it fires.
	job, err := s.cron.NewJob(
		gocron.DurationJob(c.Interval),
		gocron.NewTask(func() { s.dispatch(e) }),
		gocron.WithName(c.Name),
		gocron.WithStartAt(gocron.WithStartDateTime(start.Add(c.Interval))),
	)
	if err != nil {
		cancel()
		return nil, err
	}
	e.id = job.ID()
	s.armFirst(e)
	return e, nil
}

// Spread gives a check a stable start offset within its interval, so checks
// do not all fire in the same instant after a start or reload. The
// benchmark harness (bench/cmd/tocsinbench) plans its lag measurement
// with it.
func Spread(name string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	if interval <= time.Millisecond {
		return time.Millisecond
	}
	return time.Millisecond + time.Duration(h.Sum64()%uint64(interval-time.Millisecond))
}

// Names returns the names of the running checks.
func (s *Scheduler) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.jobs))
	for n := range s.jobs {
		out = append(out, n)
	}
	return out
}

// sameProber reports whether a and b are the same prober; probers of
// uncomparable types (a ProberFunc) never are.
func sameProber(a, b probe.Prober) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// Late returns the check most behind its schedule and by how much, in
// intervals of that check: a job that stopped being run (a stalled
// scheduler) grows late by an interval per interval. A probe in progress
// is not late; a run waiting for a free slot (scheduler.max_in_flight) is,
// by its wait. It returns "" and 0 when nothing runs.
func (s *Scheduler) Late(now time.Time) (string, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	worst, by := "", 0.0
	for name, e := range s.jobs {
		e.mu.Lock()
		late := now.Sub(e.next)
		e.mu.Unlock()
		if e.check.Interval > 0 && late > 0 {
			if x := float64(late) / float64(e.check.Interval); x > by {
				worst, by = name, x
			}
		}
	}
	return worst, by
}
