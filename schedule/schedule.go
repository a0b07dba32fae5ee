// Package schedule runs each check's prober on its own interval with gocron:
// one named job per check, singleton (an overrunning probe skips its next run
// instead of piling up), start times spread over the interval.
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

// Sink receives every result. It is called from the job's goroutine.
type Sink func(ctx context.Context, check config.Check, r probe.Result)

type entry struct {
	id     uuid.UUID
	check  config.Check
	prober probe.Prober
	mu     sync.Mutex
	next   time.Time // when the next run is due, for the lag metric
}

// Scheduler owns the gocron scheduler and the set of check jobs.
type Scheduler struct {
	cron   gocron.Scheduler
	sink   Sink
	logger *slog.Logger
	now    func() time.Time
	lag    prometheus.Histogram

	mu   sync.Mutex
	jobs map[string]*entry
}

// New returns a stopped scheduler. stopTimeout bounds how long Shutdown waits
// for in-flight probes.
func New(sink Sink, reg prometheus.Registerer, logger *slog.Logger, stopTimeout time.Duration) (*Scheduler, error) {
	cron, err := gocron.NewScheduler(gocron.WithStopTimeout(stopTimeout))
	if err != nil {
		return nil, fmt.Errorf("schedule: new scheduler: %w", err)
	}
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tocsin_scheduler_lag_seconds",
		Help:    "How late a probe started compared with its schedule.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10},
	})
	if err := reg.Register(lag); err != nil {
		return nil, fmt.Errorf("schedule: register metrics: %w", err)
	}
	return &Scheduler{cron: cron, sink: sink, logger: logger, now: time.Now, lag: lag, jobs: map[string]*entry{}}, nil
}

// Start begins running jobs.
func (s *Scheduler) Start() { s.cron.Start() }

// Shutdown stops scheduling and waits for in-flight probes, which run to
// their own timeouts rather than being cancelled.
func (s *Scheduler) Shutdown() error {
	if err := s.cron.Shutdown(); err != nil {
		return fmt.Errorf("schedule: shutdown: %w", err)
	}
	return nil
}

// Reconcile makes the running jobs match jobs: new checks are added, removed
// ones stopped, changed ones replaced; unchanged ones keep their schedule.
func (s *Scheduler) Reconcile(jobs []Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := make(map[string]Job, len(jobs))
	for _, j := range jobs {
		want[j.Check.Name] = j
	}
	var errs []error
	for name, e := range s.jobs {
		if j, ok := want[name]; ok && reflect.DeepEqual(j.Check, e.check) {
			delete(want, name)
			continue
		}
		if err := s.cron.RemoveJob(e.id); err != nil && !errors.Is(err, gocron.ErrJobNotFound) {
			errs = append(errs, fmt.Errorf("schedule: remove %s: %w", name, err))
		}
		closeLater(e)
		delete(s.jobs, name)
	}
	for name, j := range want {
		e, err := s.add(j)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule: add %s: %w", name, err))
			continue
		}
		s.jobs[name] = e
	}
	return errors.Join(errs...)
}

func (s *Scheduler) add(j Job) (*entry, error) {
	c := j.Check
	start := s.now().Add(spread(c.Name, c.Interval))
	e := &entry{check: c, prober: j.Prober, next: start}
	job, err := s.cron.NewJob(
		gocron.DurationJob(c.Interval),
		gocron.NewTask(func() { s.run(e, j.Prober) }),
		gocron.WithName(c.Name),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartDateTime(start)),
	)
	if err != nil {
		return nil, err
	}
	e.id = job.ID()
	return e, nil
}

// run probes once. The context is not gocron's: shutdown must let an
// in-flight probe finish within its timeout, not cancel it mid-way.
func (s *Scheduler) run(e *entry, p probe.Prober) {
	now := s.now()
	e.mu.Lock()
	if lag := now.Sub(e.next); lag >= 0 {
		s.lag.Observe(lag.Seconds())
	}
	e.next = nextDue(e.next, now, e.check.Interval)
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), e.check.Timeout)
	defer cancel()
	r := p.Probe(ctx)
	s.sink(ctx, e.check, r)
}

// closeLater releases a removed prober's resources (connection pools of
// queue sources) once a probe still in flight has surely hit its timeout:
// closing at once would turn that probe into a false failure.
func closeLater(e *entry) {
	c, ok := e.prober.(io.Closer)
	if !ok {
		return
	}
	time.AfterFunc(e.check.Timeout+time.Second, func() { _ = c.Close() })
}

// nextDue advances due by whole intervals past now, so a skipped run (the
// previous one overran) does not count as lag.
func nextDue(due, now time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		return now
	}
	for !due.After(now) {
		due = due.Add(interval)
	}
	return due
}

// spread gives a check a stable start offset within its interval, so checks
// do not all fire in the same instant after a start or reload.
func spread(name string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	if interval <= time.Millisecond {
		return time.Millisecond
	}
	return time.Millisecond + time.Duration(h.Sum64()%uint64(interval-time.Millisecond))
}

// Names returns the names of the scheduled checks.
func (s *Scheduler) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.jobs))
	for n := range s.jobs {
		out = append(out, n)
	}
	return out
}
