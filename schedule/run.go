package schedule

import (
	"context"
	"io"
	"time"
)

// What happens when a job is due: dispatch hands the check to the pool,
// probe and run probe it on a pool worker.

// dispatch is a due run, called on gocron's goroutine for it (or, for the
// first run, the goroutine of the entry's own timer): it hands the check
// to the pool and returns, so those goroutines live microseconds whatever
// the probes do. A check whose previous run is still queued or in
// flight skips this one (counted), as gocron's singleton mode did, so an
// overrunning probe never piles up runs behind it.
func (s *Scheduler) dispatch(e *entry) {
	if e.ctx.Err() != nil {
		return
	}
	if !e.busy.CompareAndSwap(false, true) {
		s.m.skipped.Inc()
		return
	}
	queued, ok := s.pool.submit(e)
	if !ok {
		e.busy.Store(false)
		return
	}
	if queued {
		s.m.delayed.Inc()
	}
}

// probe is a pool worker's run of e: it clears e's busy flag when done.
func (s *Scheduler) probe(e *entry) {
	defer e.busy.Store(false)
	if e.ctx.Err() != nil {
		return // removed or shut down while it waited for a worker
	}
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()
	s.run(e)
}

// run probes once, with the check's timeout as the deadline. A probe whose
// job was removed or whose scheduler shut down meanwhile was cancelled: its
// result says nothing about the target and is dropped. The lag it records
// includes any wait for a free worker.
func (s *Scheduler) run(e *entry) {
	if e.ctx.Err() != nil {
		return
	}
	now := s.now()
	e.mu.Lock()
	if lag := now.Sub(e.next); lag >= 0 {
		s.m.lag.Observe(lag.Seconds())
	}
	e.next = nextDue(e.next, now, e.check.Interval)
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(e.ctx, e.check.Timeout)
	defer cancel()
	r := e.prober.Probe(ctx)
	if e.ctx.Err() != nil {
		return
	}
	s.sink(ctx, e.check, r)
}

// closeLater releases a removed prober's resources (connection pools of
// queue sources) once a probe still in flight has surely returned: its
// context is cancelled, but a prober may take a moment to notice.
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
