package schedule

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// TestSlotOfRoundsUpOntoTheGrid: a due time is rounded up, by less than
// a quantum, onto the grid of its interval (from a multiple of it in Unix
// time), which has at most interval/slotQuantum points.
func TestSlotOfRoundsUpOntoTheGrid(t *testing.T) {
	t.Parallel()
	base := time.Unix(1000, 0) // 1000 s is 33 × 30 s + 10 s, and 20,000 × 50 ms
	for _, tc := range []struct {
		name     string
		interval time.Duration
		start    time.Time
		at       time.Time
		phase    time.Duration
	}{
		{"on the grid", 30 * time.Second, base, base, 10 * time.Second},
		{"just past a point", 30 * time.Second, base.Add(time.Nanosecond), base.Add(slotQuantum), 10*time.Second + slotQuantum},
		{"just before a point", 30 * time.Second, base.Add(slotQuantum - time.Nanosecond), base.Add(slotQuantum), 10*time.Second + slotQuantum},
		{"past the last point: the next multiple", 50 * time.Millisecond, base.Add(45 * time.Millisecond), base.Add(50 * time.Millisecond), 0},
		{"shorter than a quantum", 10 * time.Millisecond, base.Add(3 * time.Millisecond), base.Add(10 * time.Millisecond), 0},
		{"before 1970", 30 * time.Second, time.Unix(-10, 1), time.Unix(-10, 0).Add(slotQuantum), 20*time.Second + slotQuantum},
	} {
		at, key := slotOf(tc.start, tc.interval)
		if !at.Equal(tc.at) || key != (slotKey{tc.interval, tc.phase}) {
			t.Errorf("%s: slotOf(%v) = %v, %v; want %v, +%v", tc.name, tc.start.Sub(base), at.Sub(base), key, tc.at.Sub(base), tc.phase)
		}
	}
	for _, interval := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, time.Second, 30 * time.Second} {
		phases := map[time.Duration]bool{}
		for i := range 20000 {
			start := base.Add(time.Duration(i) * 1237 * time.Microsecond)
			at, key := slotOf(start, interval)
			if at.Before(start) || at.Sub(start) >= slotQuantum || time.Duration(at.UnixNano()%int64(interval)) != key.phase || key.phase%slotQuantum != 0 {
				t.Fatalf("every %v: slotOf(%v) = %v, %v", interval, start.Sub(base), at.Sub(base), key)
			}
			phases[key.phase] = true
		}
		if most := int((interval + slotQuantum - 1) / slotQuantum); len(phases) > most {
			t.Errorf("every %v: %d slots, want at most %d", interval, len(phases), most)
		}
	}
}

// TestSlotDueIsTheFiringItStandsFor: a firing stands for the last point of
// its slot's grid at or before it, however late it is.
func TestSlotDueIsTheFiringItStandsFor(t *testing.T) {
	t.Parallel()
	first := time.Unix(1000, 0)
	sl := &slot{key: slotKey{interval: time.Second}, first: first}
	for _, tc := range []struct{ now, want time.Duration }{
		{0, 0},
		{999 * time.Millisecond, 0},
		{time.Second, time.Second},
		{2500 * time.Millisecond, 2 * time.Second},
		{-time.Nanosecond, -time.Second},
		{-time.Second, -time.Second},
	} {
		if got := sl.due(first.Add(tc.now)); !got.Equal(first.Add(tc.want)) {
			t.Errorf("due(first%+v) = first%+v, want first%+v", tc.now, got.Sub(first), tc.want)
		}
	}
}

// TestSlotDueByReachesTheNearestPointOnly: a firing early on the
// monotonic grid (gocron's wall-clock schedule after the clock stepped
// forward) still runs the checks due at the point it stands for, a late
// one stands for its own point, and none reaches the next point's checks,
// whose due times are less than a quantum before it, even at intervals
// near the quantum.
func TestSlotDueByReachesTheNearestPointOnly(t *testing.T) {
	t.Parallel()
	first := time.Unix(1000, 0)
	for _, tc := range []struct {
		name           string
		interval, fire time.Duration // the firing, after first
		due            time.Duration // an entry's due time, after first
		run            bool
	}{
		{"on time", time.Second, time.Second, time.Second, true},
		{"100 ms early: a clock step", time.Second, 900 * time.Millisecond, time.Second, true},
		{"400 ms late", time.Second, 1400 * time.Millisecond, time.Second, true},
		{"the next point's check, on time", time.Second, time.Second, 2*time.Second - slotQuantum + time.Nanosecond, false},
		{"the next point's check, 400 ms late", time.Second, 1400 * time.Millisecond, 2*time.Second - slotQuantum + time.Nanosecond, false},
		{"30 ms interval, this point", 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, true},
		{"30 ms interval, the next point's check", 30 * time.Millisecond, 30 * time.Millisecond, 60*time.Millisecond - slotQuantum + time.Nanosecond, false},
		{"10 ms interval, the next point's check", 10 * time.Millisecond, 10 * time.Millisecond, 10*time.Millisecond + time.Nanosecond, false},
	} {
		sl := &slot{key: slotKey{interval: tc.interval}, first: first}
		by := sl.dueBy(first.Add(tc.fire))
		if run := !first.Add(tc.due).After(by); run != tc.run {
			t.Errorf("%s: runs %v (dispatches up to first%+v), want %v", tc.name, run, by.Sub(first), tc.run)
		}
	}
}

// TestShutdownStopsFirstRunTimers: a slot's first firing still pending at
// Shutdown is stopped, not left to fire up to an interval later; its timer
// would keep the whole scheduler (every entry, gocron's jobs) in memory
// until then, as a scheduler in a test or a restarted app would.
func TestShutdownStopsFirstRunTimers(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	up := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	if err := s.Reconcile([]Job{{Check: new(check("later", time.Hour, time.Second)), Prober: up}}); err != nil {
		t.Fatal(err)
	}
	sl := s.jobs["later"].slot
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if sl.timer.Stop() {
		t.Error("the first-run timer was still pending after Shutdown")
	}
}

// TestSlotsPerInterval50k (issue 14): 50,000 checks take at most
// interval/slotQuantum gocron jobs per interval, not one each; a reload
// that replaces every check leaves no slot, gocron job or timer of the
// old ones behind, and removing every check leaves none at all.
func TestSlotsPerInterval50k(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 checks")
	}
	t.Parallel()
	const checks = 50000
	s := runningScheduler(t, func(context.Context, config.Check, probe.Result) {}, 1000)
	intervals := []time.Duration{30 * time.Second, time.Minute}
	most := 0
	for _, iv := range intervals {
		most += int((iv + slotQuantum - 1) / slotQuantum)
	}
	up := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	load := func(gen int) []*slot {
		t.Helper()
		jobs := make([]Job, checks)
		for i := range jobs {
			// The timeout carries the load, and changes every check.
			jobs[i] = Job{Check: new(check(fmt.Sprintf("s%05d", i), intervals[i%len(intervals)], time.Duration(gen)*time.Second)), Prober: up}
		}
		if err := s.Reconcile(jobs); err != nil {
			t.Fatal(err)
		}
		checkSlots(t, s)
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.jobs) != checks || len(s.slots) > most {
			t.Fatalf("load %d: %d checks in %d slots, want %d in at most %d", gen, len(s.jobs), len(s.slots), checks, most)
		}
		var slots []*slot
		for _, sl := range s.slots {
			slots = append(slots, sl)
		}
		return slots
	}
	first := load(1)
	load(2)
	s.mu.Lock()
	for _, sl := range first {
		if s.slots[sl.key] == sl {
			continue // a new check joined it: it is in use, checkSlots saw to it
		}
		if sl.timer.Stop() {
			t.Errorf("the first firing of dropped slot %v was still pending", sl.key)
		}
		if len(sl.list()) != 0 {
			t.Errorf("dropped slot %v still holds %d checks", sl.key, len(sl.list()))
		}
	}
	s.mu.Unlock()
	if err := s.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	checkSlots(t, s)
	if n := len(s.cron.Jobs()); n != 0 {
		t.Errorf("%d gocron jobs left once every check was removed", n)
	}
}

// runTimes records when each check's probes start.
type runTimes struct {
	mu    sync.Mutex
	times map[string][]time.Time
}

func (r *runTimes) prober(name string) probe.Prober {
	return probe.ProberFunc(func(context.Context) probe.Result {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.times[name] = append(r.times[name], time.Now())
		return probe.Result{Status: probe.StatusUp}
	})
}

func (r *runTimes) first(name string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.times[name]) == 0 {
		return time.Time{}, false
	}
	return r.times[name][0], true
}

// TestChecksJoiningASlotRunOnTime: a check that joins a slot whose next
// firing is an interval before the check is due does not run at that
// firing; a check due before a slot's first firing makes the slot fire
// at its time first (the slot is made anew), and the slot's other checks
// still do not run before their time. Resumed checks put them there: a
// last run stamped ahead of this replica's clock puts a check more than
// an interval ahead.
func TestChecksJoiningASlotRunOnTime(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Second
	for _, tc := range []struct {
		name         string
		first, later time.Duration // from now, when the first and the later check are due
	}{
		{"joins for the next firing", time.Second, time.Second + interval},
		{"joins before the first firing", time.Second + interval, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := runningScheduler(t, func(context.Context, config.Check, probe.Result) {}, 10)
			rt := &runTimes{times: map[string][]time.Time{}}
			var jobs []Job
			for _, name := range []string{"first", "later"} {
				c := check(name, interval, time.Second)
				c.Component = name
				jobs = append(jobs, Job{Check: new(c), Prober: rt.prober(name)})
			}
			if err := s.Reconcile(jobs); err != nil {
				t.Fatal(err)
			}
			// The later check's due time is on the first one's grid point,
			// so that both share a slot.
			now := time.Now()
			due := map[string]time.Time{"first": now.Add(tc.first)}
			due["first"], _ = slotOf(due["first"], interval)
			due["later"] = due["first"].Add(tc.later - tc.first)
			for _, name := range []string{"first", "later"} {
				if err := s.Acquire([]string{name}, map[string]Resume{name: {LastStart: due[name].Add(-interval)}}); err != nil {
					t.Fatal(err)
				}
			}
			s.mu.Lock()
			sl := s.jobs["first"].slot
			shared := sl == s.jobs["later"].slot && len(s.slots) == 1
			earliest := due["first"]
			if due["later"].Before(earliest) {
				earliest = due["later"]
			}
			onTime := sl.first.Equal(earliest)
			s.mu.Unlock()
			if !shared || !onTime {
				t.Fatalf("shared slot %v, first firing at its earliest check's time %v", shared, onTime)
			}
			if n := len(s.cron.Jobs()); n != 1 {
				t.Errorf("%d gocron jobs for one slot", n)
			}
			for _, name := range []string{"first", "later"} {
				waitUntil(t, 20*time.Second, name+"'s first run", func() bool { _, ok := rt.first(name); return ok })
				// Not before its due time; how late it may be depends on the machine.
				if at, _ := rt.first(name); at.Before(due[name]) {
					t.Errorf("%s first ran %v before its due time", name, due[name].Sub(at))
				}
			}
		})
	}
}

// TestOwnRunIsNotDispatchedAgain: a check's run dispatched on its own
// (its due time passed before its slot could see it) and still waiting
// for a worker is not dispatched again by its slot's firing, nor counted
// as skipped; a run due while it probes is skipped and counted.
func TestOwnRunIsNotDispatchedAgain(t *testing.T) {
	t.Parallel()
	s := runningScheduler(t, func(context.Context, config.Check, probe.Result) {}, 1)
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	holder := probe.ProberFunc(func(ctx context.Context) probe.Result {
		held <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return probe.Result{Status: probe.StatusUp}
	})
	own := &blockingProber{started: make(chan struct{}, 1)}
	if err := s.Reconcile([]Job{
		{Check: new(check("holder", time.Hour, time.Minute)), Prober: holder},
		{Check: new(check("own", time.Hour, time.Minute)), Prober: own},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Lose([]string{"web"}) }) // ends the probes before Shutdown waits for them
	runNow(t, s, "holder")
	<-held // the only worker is taken
	s.mu.Lock()
	e := s.jobs["own"]
	sl := e.slot
	s.mu.Unlock()
	s.dispatchOwn(e) // not due yet: nothing
	if _, waiting := s.pool.size(); waiting != 0 || e.state.Load() != stateIdle {
		t.Fatalf("a run not due yet dispatched on its own: %d waiting, state %d", waiting, e.state.Load())
	}
	makeDue(s, "own")
	s.dispatchOwn(e)
	if _, waiting := s.pool.size(); waiting != 1 || e.state.Load() != stateOwnQueued {
		t.Fatalf("own run: %d waiting, state %d", waiting, e.state.Load())
	}
	fire := func() {
		makeDue(s, "own")
		s.fire(sl) // a firing of the slot, on this goroutine
	}
	fire()
	if _, waiting := s.pool.size(); waiting != 1 || testutil.ToFloat64(s.m.skipped) != 0 {
		t.Errorf("after the slot's firing: %d runs waiting, %v skipped; want the own run alone, none skipped", waiting, testutil.ToFloat64(s.m.skipped))
	}
	close(release)
	<-own.started
	fire()
	if n := testutil.ToFloat64(s.m.skipped); n != 1 {
		t.Errorf("a run due while the own run probes: %v skipped, want 1", n)
	}
}
