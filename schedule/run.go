package schedule

import (
	"context"
	"io"
	"time"
)

// What happens when a check is due: its slot's firing (slot.go) or its
// own dispatch hands it to the pool, probe and run probe it on a pool
// worker.

// An entry's state (entry.state): a run is dispatched only from idle, and
// the state goes back to idle when its probe returns. A run due meanwhile
// is skipped (counted), as gocron's singleton mode did, so an overrunning
// probe never piles up runs behind it.
const (
	stateIdle      uint32 = iota
	stateBusy             // a run dispatched by the slot, or started
	stateOwnQueued        // a run dispatched by dispatchOwn that has not started
)

// dispatchDue is a slot's firing for e: it dispatches e when its next run
// is due by the time by (a margin past the time the firing stands for:
// fire). An entry that joined the slot for its next firing is not due yet
// (nothing runs early or twice); one whose due run was dispatched on its
// own (dispatchOwn) and has not started is not dispatched again, nor
// counted as skipped.
func (s *Scheduler) dispatchDue(e *entry, by time.Time) {
	if e.gone.Load() {
		return
	}
	e.mu.Lock()
	if e.next.After(by) {
		e.mu.Unlock()
		return
	}
	ok := e.state.CompareAndSwap(stateIdle, stateBusy)
	// Under e.mu, run cannot start e's own run meanwhile: stateOwnQueued
	// is this firing's run, dispatched already by dispatchOwn.
	skipped := !ok && e.state.Load() != stateOwnQueued
	e.mu.Unlock()
	if skipped {
		s.m.skipped.Inc()
	}
	if ok {
		s.submit(e)
	}
}

// dispatchOwn runs e now, outside its slot: its due time passed before
// its slot's firing for it could see it (add).
func (s *Scheduler) dispatchOwn(e *entry) {
	// Still due, checked under e.mu with the state: the slot's firing may
	// have run it meanwhile, and run moves next on under e.mu before the
	// entry goes idle, so a run that is over shows here as not due.
	e.mu.Lock()
	ok := !e.next.After(s.now()) && e.state.CompareAndSwap(stateIdle, stateOwnQueued)
	e.mu.Unlock()
	if ok {
		s.submit(e)
	}
}

// submit hands e, whose state the caller moved from idle, to the pool,
// from the goroutine of a firing (gocron's or a timer's): it returns at
// once, so those goroutines live microseconds whatever the probes do.
func (s *Scheduler) submit(e *entry) {
	queued, ok := s.pool.submit(e)
	if !ok {
		e.state.Store(stateIdle)
		return
	}
	if queued {
		s.m.delayed.Inc()
	}
}

// probe is a pool worker's run of e: e is idle again when it is done.
func (s *Scheduler) probe(e *entry) {
	defer e.state.Store(stateIdle)
	if s.dropped(e) {
		return // removed or shut down while it waited for a worker
	}
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()
	s.run(e)
}

// dropped reports whether e's runs and results are to be dropped: its
// check was removed (or its component lost) or the scheduler shut down.
func (s *Scheduler) dropped(e *entry) bool {
	return e.gone.Load() || s.base.Err() != nil
}

// run probes once, with the check's timeout as the deadline. A probe whose
// check was removed or whose scheduler shut down meanwhile was cancelled:
// its result says nothing about the target and is dropped. The lag it
// records includes any wait for a free worker, and the rounding of its
// slot (slotQuantum).
func (s *Scheduler) run(e *entry) {
	c := e.job.Check
	now := s.now()
	e.mu.Lock()
	// Checked under e.mu, as remove sets gone before it takes e.mu to
	// cancel: a probe either sees gone here or is cancelled there.
	if s.dropped(e) {
		e.mu.Unlock()
		return
	}
	if lag := now.Sub(e.next); lag >= 0 {
		s.m.lag.Observe(lag.Seconds())
	}
	e.next = nextDue(e.next, now, c.Interval)
	e.state.Store(stateBusy)
	ctx, cancel := context.WithTimeout(s.base, c.Timeout)
	defer cancel()
	e.cancel = cancel
	e.mu.Unlock()

	r := e.job.Prober.Probe(ctx)
	e.mu.Lock()
	e.cancel = nil
	e.mu.Unlock()
	if s.dropped(e) {
		return
	}
	s.sink(ctx, *c, r)
}

// remove stops e for good: no run of it starts from now on, a probe in
// flight is cancelled and its result dropped.
func remove(e *entry) {
	e.gone.Store(true)
	e.mu.Lock()
	if e.cancel != nil {
		e.cancel()
	}
	e.mu.Unlock()
}

// closeLater releases a removed prober's resources (connection pools of
// queue sources) once a probe still in flight has surely returned: its
// context is cancelled, but a prober may take a moment to notice.
func closeLater(e *entry) {
	c, ok := e.job.Prober.(io.Closer)
	if !ok {
		return
	}
	time.AfterFunc(e.job.Check.Timeout+time.Second, func() { _ = c.Close() })
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
