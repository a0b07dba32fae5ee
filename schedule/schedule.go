// Package schedule runs the probers of the checks this replica owns, each on
// its own interval with gocron, start times spread over the interval.
//
// gocron does not get a job per check: at 50,000 checks a job each (its
// internal job, timer, uuid and map entries), with a context and a timer
// of ours per check, cost ≈1.8 KB of heap per check (issue 14,
// BenchmarkMemory50k). A check's due times are rounded up to a 20 ms grid
// (slotQuantum), and the checks of one interval whose due times fall on
// the same point of it share a slot: one gocron job, firing every
// interval, that dispatches each of them (slot.go). However many checks,
// an interval has at most interval/20ms slots; a check runs less than
// 20 ms after the time Spread gives it and costs its entry, its config
// and its share of a slot: ≈500 bytes at 50,000 checks every 30 s. An
// interval with room for more slots than it has checks saves little: at
// an hour, 50,000 checks still take nearly a slot each.
//
// A firing only dispatches its checks to a bounded pool of workers
// (pool.go), so at most max_in_flight probes run at once and a check
// costs bytes, not a goroutine. An overrunning probe skips its check's
// next run instead of piling up: a flag of our own per check, not
// gocron's singleton mode, which keeps a goroutine and a 1,000-slot
// channel per job for the scheduler's life (gocron v2.21.2 executor.go
// never frees them when a job is removed, so every reload leaked them). A
// check runs only while its component is owned here; when ownership
// moves, it stops (an in-flight probe is cancelled and its result
// dropped) and the new owner resumes it where the last run left off.
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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// Job is one check to run.
type Job struct {
	// Check points into the config in force, which nothing changes: a
	// copy per job was 9.5 MB at 50,000 checks (docs/benchmarks.md).
	Check  *config.Check
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

// entry is a running check. It holds no context and no timer of its own,
// nor a copy of its check: at 50,000 checks, each cost more than the
// entry does now (issue 14).
type entry struct {
	// job is the config's, shared with Scheduler.want, never changed:
	// a copy of the check would cost its 152 bytes again.
	job  *Job
	slot *slot // guarded by Scheduler.mu
	// gone is set when the check stops running here (removed, or its
	// component lost): no run of it starts then, and a result is dropped.
	gone atomic.Bool
	// state is stateIdle, stateBusy or stateOwnQueued (run.go): a run is
	// dispatched only from stateIdle, so a run due while the last one
	// waits for a worker or probes is skipped, not piled up behind it.
	state atomic.Uint32
	mu    sync.Mutex
	next  time.Time // when the next run is due, for the lag metric and Late
	// cancel ends the probe in flight, if any, when the check is removed.
	cancel context.CancelFunc
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
	started bool              // Start was called: first firings are armed
	want    map[string]*Job   // the config's checks
	owned   map[string]bool   // components owned here
	jobs    map[string]*entry // running checks
	slots   map[slotKey]*slot // the slots of running checks, each a gocron job
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
	// comment and submit. A job's run is then a short-lived goroutine of
	// gocron's that hands the slot's due checks to the pool and returns.
	cron, err := gocron.NewScheduler(gocron.WithStopTimeout(stopTimeout))
	if err != nil {
		return nil, fmt.Errorf("schedule: new scheduler: %w", err)
	}
	base, stop := context.WithCancel(context.Background())
	s := &Scheduler{cron: cron, sink: sink, logger: logger, now: time.Now, stopTimeout: stopTimeout, m: m,
		base: base, stop: stop, want: map[string]*Job{}, owned: map[string]bool{}, jobs: map[string]*entry{},
		slots: map[slotKey]*slot{}}
	s.pool = newPool(maxInFlight, s.probe)
	return s, nil
}

// Start begins running checks: those added before it run from then on.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	for _, sl := range s.slots {
		s.armFirst(sl)
	}
	s.cron.Start()
}

// Shutdown stops scheduling and cancels in-flight probes (their results
// are dropped, never counted as failures), then waits for them to return,
// stopTimeout at most.
func (s *Scheduler) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.stopTimeout)
	defer cancel()
	s.stop()
	// First-firing timers still pending would keep their slots, and
	// through them the scheduler, until they fire, up to an interval from
	// now.
	s.mu.Lock()
	for _, sl := range s.slots {
		if sl.timer != nil {
			sl.timer.Stop()
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
	s.want = make(map[string]*Job, len(jobs))
	for _, j := range jobs {
		s.want[j.Check.Name] = &j
	}
	// A replaced prober whose check is not running here (its component is
	// owned elsewhere) has nothing in flight: release it now.
	for name, j := range old {
		var now probe.Prober
		if w := s.want[name]; w != nil {
			now = w.Prober
		}
		if _, running := s.jobs[name]; !running && !sameProber(now, j.Prober) {
			if c, ok := j.Prober.(io.Closer); ok {
				_ = c.Close()
			}
		}
	}
	err := s.syncLocked(nil)
	// A check that did not change keeps its running prober (a queue keeps
	// its window: docs/configuration.md, "Reloading"); the one built for
	// the new config was never used, and would keep its connection pool
	// open for good. The entry's job, equal in its check, is the one
	// wanted from now on, so the two share it.
	for name, e := range s.jobs {
		if j := s.want[name]; j != e.job {
			if c, ok := j.Prober.(io.Closer); ok && !sameProber(j.Prober, e.job.Prober) {
				_ = c.Close()
			}
			s.want[name] = e.job
		}
	}
	return err
}

// Wanted returns the job in force for the check name, run here or not.
func (s *Scheduler) Wanted(name string) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.want[name]
	if !ok {
		return Job{}, false
	}
	return *j, true
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

// syncLocked makes the running checks the wanted checks of owned
// components. The slots it touched are tidied once after the removals
// and once after the additions, not with every check: a slot's entries
// are copied twice per sync at most. The slots left empty by the removals
// go before any is added: gocron keeps its jobs in a map, which never
// shrinks, and a reload replacing every check had it hold both loads'
// slots for a moment, then twice the room for good (TestReloadsDoNotLeak).
func (s *Scheduler) syncLocked(resume map[string]Resume) error {
	var errs []error
	touched := map[*slot]bool{}
	for name, e := range s.jobs {
		if j, ok := s.want[name]; ok && s.owned[j.Check.Component] && (j == e.job || reflect.DeepEqual(*j.Check, *e.job.Check)) {
			continue
		}
		remove(e)
		touched[e.slot] = true
		if j, ok := s.want[name]; !ok || !sameProber(j.Prober, e.job.Prober) {
			closeLater(e) // the prober itself is gone, not only its check
		}
		delete(s.jobs, name)
	}
	errs = s.tidyAll(touched, errs)
	for name, j := range s.want {
		if _, running := s.jobs[name]; running || !s.owned[j.Check.Component] {
			continue
		}
		r, resumed := resume[name]
		if resumed {
			s.restore(j, r)
		}
		e, err := s.add(j, r, resumed, touched)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule: add %s: %w", name, err))
			continue
		}
		s.jobs[name] = e
	}
	errs = s.tidyAll(touched, errs)
	for _, err := range errs {
		s.logger.Error("schedule", "error", err)
	}
	return errors.Join(errs...)
}

// restore hands a stateful prober the last owner's state, or clears the
// state it kept from an earlier time it ran here.
func (s *Scheduler) restore(j *Job, r Resume) {
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

// add starts j's check, due first at its spread offset or where the last
// owner's runs left off, in its slot (place), recording the slot in
// touched.
func (s *Scheduler) add(j *Job, r Resume, resumed bool, touched map[*slot]bool) (*entry, error) {
	c := j.Check
	if c.Interval <= 0 {
		return nil, fmt.Errorf("interval %v: must be positive", c.Interval)
	}
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
	e := &entry{job: j, next: start}
	if err := s.place(e, touched); err != nil {
		return nil, err
	}
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
		if iv := e.job.Check.Interval; iv > 0 && late > 0 {
			if x := float64(late) / float64(iv); x > by {
				worst, by = name, x
			}
		}
	}
	return worst, by
}
