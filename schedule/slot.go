package schedule

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
)

// slotQuantum is the grid a check's first due time is rounded up to, so
// that the checks of one interval share at most interval/slotQuantum
// gocron jobs, whatever their number (issue 14: a gocron job per check
// cost ≈1.8 KB of heap, BenchmarkMemory50k). Rounding up delays a run by
// less than a quantum past the time Spread gives it, never runs it early;
// the lag metric counts that delay (entry.next keeps the unrounded time),
// small beside the target of 250 ms at p99
// (BenchmarkFirstInterval50k).
const slotQuantum = 20 * time.Millisecond

// slotKey names a slot: an interval, and the point of it (from a multiple
// of the interval in Unix time, on the quantum's grid) its runs fall on.
type slotKey struct {
	interval time.Duration
	phase    time.Duration
}

// slot is one gocron job for every check whose due times fall on the same
// point of the same interval: each firing dispatches those of its entries
// that are due (dispatchDue).
type slot struct {
	key slotKey
	// first is its first firing; it fires at first + k·interval from
	// then on. It never changes (moving it makes a new slot: place).
	first time.Time
	id    uuid.UUID // the gocron job, which fires from first + interval
	// timer fires the first firing, once the scheduler has started
	// (armFirst); guarded by Scheduler.mu.
	timer *time.Timer
	// entries are read by every firing without Scheduler.mu, which
	// Reconcile holds for as long as it takes to go through 50,000 checks:
	// a firing then would be late. Writers hold Scheduler.mu.
	entries atomic.Pointer[members]
}

// members are a slot's entries: the first n of e. Writers never change
// an element a reader may see: they write past n and then move n on
// (join), or publish new members (tidy).
type members struct {
	e []*entry
	n atomic.Int64
}

// slotOf rounds a check's due time start up to the quantum's grid and
// names the slot of that point of interval.
func slotOf(start time.Time, interval time.Duration) (time.Time, slotKey) {
	off := time.Duration(start.UnixNano() % int64(interval))
	if off < 0 {
		off += interval
	}
	phase := (off + slotQuantum - 1) / slotQuantum * slotQuantum
	// Past the interval's last grid point: the next multiple of it, which
	// is also less than a quantum away.
	phase = min(phase, interval)
	return start.Add(phase - off), slotKey{interval: interval, phase: phase % interval}
}

// place puts e in the slot of its first due time, which it makes if there
// is none, and records the slot in touched.
func (s *Scheduler) place(e *entry, touched map[*slot]bool) error {
	at, key := slotOf(e.next, e.job.Check.Interval)
	sl := s.slots[key]
	// A new slot's first firing is a timer of our own (armFirst) and its
	// gocron job starts with the second, one interval ahead. gocron moves
	// a start time that has passed by the time its loop takes the new job
	// a whole interval on (its selectNewJob, in v2.21.2 as go.mod pins
	// it), and a start due within milliseconds, or now, can pass in
	// transit on a loaded machine: BenchmarkFirstInterval50k saw a run
	// pushed back an interval while 50,000 jobs were added at load
	// average 10. One interval ahead, it cannot. The timer costs bytes,
	// not a goroutine, until it fires.
	//
	// A slot that has not fired yet may first fire an interval or more
	// after e is due (its first check resumed after a last run stamped
	// ahead of this replica's clock): it is made anew to fire at e's time
	// first, as nothing of it has run.
	fresh := sl == nil || at.Before(sl.first)
	if fresh {
		old := sl
		var err error
		if sl, err = s.newSlot(key, at); err != nil {
			return err
		}
		if old != nil {
			for _, o := range old.list() {
				if !o.gone.Load() {
					o.slot = sl
					sl.join(o)
				}
			}
			delete(touched, old)
			if err := s.drop(old); err != nil {
				s.logger.Error("schedule", "error", err)
			}
		}
		s.slots[key] = sl
	}
	e.slot = sl
	sl.join(e)
	touched[sl] = true
	switch {
	case fresh:
		s.armFirst(sl) // after join: its firing sees e
	case s.started && !at.After(s.now()):
		// The slot's firing for e's due time may have read its entries
		// before e joined: e runs now, on its own. A firing that had not
		// read them yet sees e's run dispatched (stateOwnQueued). One at
		// a later time reads them after e joined, and runs e then.
		s.dispatchOwn(e)
	}
	return nil
}

// newSlot makes key's gocron job, to fire from first + interval on; its
// first firing is the slot's own timer (armFirst), for the reason add
// gives.
func (s *Scheduler) newSlot(key slotKey, first time.Time) (*slot, error) {
	sl := &slot{key: key, first: first}
	job, err := s.cron.NewJob(
		gocron.DurationJob(key.interval),
		gocron.NewTask(func() { s.fire(sl) }),
		gocron.WithName(fmt.Sprintf("every %v at +%v", key.interval, key.phase)),
		gocron.WithStartAt(gocron.WithStartDateTime(first.Add(key.interval))),
	)
	if err != nil {
		return nil, err
	}
	sl.id = job.ID()
	return sl, nil
}

// armFirst sets the timer of sl's first firing, at first or now if that
// has passed, once the scheduler has started.
func (s *Scheduler) armFirst(sl *slot) {
	if s.started && sl.timer == nil {
		sl.timer = time.AfterFunc(sl.first.Sub(s.now()), func() { s.fire(sl) })
	}
}

// list returns sl's published entries.
func (sl *slot) list() []*entry {
	if m := sl.entries.Load(); m != nil {
		return m.e[:m.n.Load()]
	}
	return nil
}

// join publishes e as one of sl's entries, at once, so that the slot's
// next firing sees it (add). Writing past the published ones spares a
// copy of the slot, and an allocation, per check added (Acquire of
// overdue checks puts thousands in one slot); the array grows as append's
// does, and tidy gives it its size back.
func (sl *slot) join(e *entry) {
	m := sl.entries.Load()
	if m == nil || int(m.n.Load()) == len(m.e) {
		l := sl.list()
		grown := &members{e: make([]*entry, max(4, 2*len(l)))}
		grown.n.Store(int64(copy(grown.e, l)))
		sl.entries.Store(grown)
		m = grown
	}
	n := m.n.Load()
	m.e[n] = e
	m.n.Store(n + 1)
}

// tidy publishes sl's entries without the removed ones, in an array of
// their size, once per slot touched by a sync; a slot left empty is
// dropped, its gocron job removed and its timer stopped, so replacing
// every check (a reload) leaves none of them behind.
func (s *Scheduler) tidy(sl *slot) error {
	l := slices.DeleteFunc(slices.Clone(sl.list()), func(e *entry) bool { return e.gone.Load() })
	if len(l) > 0 {
		m := &members{e: slices.Clip(l)}
		m.n.Store(int64(len(l)))
		sl.entries.Store(m)
		return nil
	}
	sl.entries.Store(nil)
	return s.drop(sl)
}

// tidyAll tidies the slots in touched and empties it, adding the errors
// to errs.
func (s *Scheduler) tidyAll(touched map[*slot]bool, errs []error) []error {
	for sl := range touched {
		if err := s.tidy(sl); err != nil {
			errs = append(errs, err)
		}
	}
	clear(touched)
	return errs
}

// drop forgets sl; its entries have moved or gone.
func (s *Scheduler) drop(sl *slot) error {
	if s.slots[sl.key] == sl {
		delete(s.slots, sl.key)
	}
	if sl.timer != nil {
		sl.timer.Stop()
	}
	if err := s.cron.RemoveJob(sl.id); err != nil && !errors.Is(err, gocron.ErrJobNotFound) {
		return fmt.Errorf("schedule: remove the job of %v: %w", sl.key, err)
	}
	return nil
}

// fire is a firing of sl, on gocron's goroutine for it or its timer's:
// it dispatches the entries due by it and returns.
func (s *Scheduler) fire(sl *slot) {
	if s.base.Err() != nil {
		return
	}
	by := sl.dueBy(s.now())
	for _, e := range sl.list() {
		s.dispatchDue(e, by)
	}
}

// dueBy returns the latest due time a firing of sl at now dispatches: a
// margin past the grid point the firing stands for, the nearest one within
// that margin. Nearest, not the last at or before now: gocron keeps its
// schedule by the wall clock, so after the wall clock steps forward (an
// NTP step, a resumed VM) its firings come early on the monotonic grid,
// and taking the last point before them lost a run, then ran every check
// an interval late for good. The margin stays under interval −
// slotQuantum, so a firing never reaches the entries of the next point,
// whose due times are less than a quantum before it, however short the
// interval.
func (sl *slot) dueBy(now time.Time) time.Time {
	margin := max(0, (sl.key.interval-slotQuantum)/2)
	return sl.due(now.Add(margin)).Add(margin)
}

// due returns the firing of sl that a firing at now stands for: the last
// one at or before now. A late firing (the first one, armed at Start
// after its time; a busy gocron) still stands for its own time, so an
// entry due at the next one is not run early.
func (sl *slot) due(now time.Time) time.Time {
	d := now.Sub(sl.first)
	k := d / sl.key.interval
	if d < 0 && d%sl.key.interval != 0 {
		k--
	}
	return sl.first.Add(k * sl.key.interval)
}
