package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// runningScheduler is a started scheduler that owns component "web", with
// at most maxInFlight probes at once; it shuts down with the test.
func runningScheduler(tb testing.TB, sink Sink, maxInFlight int) *Scheduler {
	tb.Helper()
	s, err := New(sink, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), 2*time.Second, maxInFlight)
	if err != nil {
		tb.Fatal(err)
	}
	s.Start()
	tb.Cleanup(func() { _ = s.Shutdown() })
	if err := s.Acquire([]string{"web"}, nil); err != nil {
		tb.Fatal(err)
	}
	return s
}

// waitUntil is waitFor with its own deadline, for conditions that take
// thousands of runs.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// generations counts, per load of a config, how many distinct checks ran.
// A check's load is in its timeout (see TestReloadsDoNotLeak), so a result
// of a replaced job is told from one of its replacement.
type generations struct {
	mu   sync.Mutex
	last map[string]int // check -> latest load it ran in
	ran  map[int]int    // load -> checks that ran in it
}

func (g *generations) sink(_ context.Context, c config.Check, _ probe.Result) {
	gen := int(c.Timeout / time.Millisecond)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last[c.Name] < gen {
		g.last[c.Name] = gen
		g.ran[gen]++
	}
}

func (g *generations) count(gen int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ran[gen]
}

// runNow runs the named checks (every one, when none is named) now
// through gocron, as their slots' firings would (gocron's executor, then
// dispatchDue and the pool): makeDue, then runSlots. It returns the checks
// made due.
func runNow(tb testing.TB, s *Scheduler, names ...string) int {
	tb.Helper()
	slots, n := makeDue(s, names...)
	runSlots(tb, s, slots)
	return n
}

// makeDue makes the named checks (every one, when none is named) due at
// their slots' last firing, as if the run due then had been missed. It
// returns their slots and the checks made due.
func makeDue(s *Scheduler, names ...string) (map[*slot]bool, int) {
	slots := map[*slot]bool{}
	s.mu.Lock()
	defer s.mu.Unlock()
	due := func(e *entry) {
		e.mu.Lock()
		e.next = e.slot.due(time.Now())
		e.mu.Unlock()
		slots[e.slot] = true
	}
	for _, name := range names {
		due(s.jobs[name])
	}
	if len(names) > 0 {
		return slots, len(names)
	}
	for _, e := range s.jobs {
		due(e)
	}
	return slots, len(s.jobs)
}

// runSlots runs the slots' gocron jobs now, retrying a request gocron's
// scheduler loop was too busy to take.
func runSlots(tb testing.TB, s *Scheduler, slots map[*slot]bool) {
	tb.Helper()
	jobs := map[uuid.UUID]gocron.Job{}
	for _, j := range s.cron.Jobs() {
		jobs[j.ID()] = j
	}
	for sl := range slots {
		j := jobs[sl.id]
		deadline := time.Now().Add(10 * time.Second)
		for err := j.RunNow(); err != nil; err = j.RunNow() {
			if !errors.Is(err, gocron.ErrJobRunNowFailed) || time.Now().After(deadline) {
				tb.Fatalf("run %s now: %v", j.Name(), err)
			}
		}
	}
}

// checkSlots fails t unless every running check is in its slot, every
// slot holds running checks only, and each is a gocron job: nothing of a
// removed check is left behind.
func checkSlots(t *testing.T, s *Scheduler) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	in := 0
	for key, sl := range s.slots {
		if sl.key != key || len(sl.list()) == 0 {
			t.Fatalf("slot %v: key %v, %d checks", key, sl.key, len(sl.list()))
		}
		for _, e := range sl.list() {
			if e.gone.Load() || e.slot != sl || s.jobs[e.job.Check.Name] != e {
				t.Fatalf("slot %v holds %s, which does not run there", key, e.job.Check.Name)
			}
		}
		in += len(sl.list())
	}
	if in != len(s.jobs) {
		t.Fatalf("the slots hold %d checks, %d run", in, len(s.jobs))
	}
	ids := map[uuid.UUID]bool{}
	for _, j := range s.cron.Jobs() {
		ids[j.ID()] = true
	}
	for key, sl := range s.slots {
		if !ids[sl.id] {
			t.Fatalf("slot %v has no gocron job", key)
		}
	}
	if len(ids) != len(s.slots) {
		t.Fatalf("%d gocron jobs for %d slots", len(ids), len(s.slots))
	}
}

func idle(s *Scheduler) bool {
	workers, waiting := s.pool.size()
	return workers == 0 && waiting == 0
}

// TestReloadsDoNotLeak (issue 14): loading a 5,000-check config, then
// reloading it five times with every check changed (so every job is
// replaced) leaves goroutines and heap within 10% of the first load.
// gocron's singleton mode, which this package used, kept a goroutine and a
// 1,000-slot channel for every job that had run, removed or not: run
// against it, this test saw 5,004 goroutines and 108 MB of heap at the
// first load, and as much again with every reload. Every check runs once
// per load, so that a per-job runner would exist; the interval is long, so
// that nothing runs while goroutines are counted (the runs are gocron's
// RunNow of every slot's job, through the same executor path as a
// timer's). Each load's slots hold its checks only, and removing them all
// leaves no slot and no gocron job.
func TestReloadsDoNotLeak(t *testing.T) { // not parallel: it counts the process's goroutines
	const checks, loads = 5000, 6
	g := &generations{last: map[string]int{}, ran: map[int]int{}}
	s := runningScheduler(t, g.sink, 64)
	up := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	measure := func() (goroutines int, heap uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	var baseG int
	var baseH uint64
	for gen := 1; gen <= loads; gen++ {
		jobs := make([]Job, checks)
		for i := range jobs {
			// The timeout carries the load, and changes the check.
			jobs[i] = Job{Check: new(check(fmt.Sprintf("c%05d", i), time.Hour, time.Duration(gen)*time.Millisecond)), Prober: up}
		}
		if err := s.Reconcile(jobs); err != nil {
			t.Fatal(err)
		}
		if n := len(s.Names()); n != checks {
			t.Fatalf("load %d: %d jobs, want %d", gen, n, checks)
		}
		checkSlots(t, s)
		runNow(t, s)
		waitUntil(t, time.Minute, fmt.Sprintf("every check of load %d to run", gen), func() bool {
			return g.count(gen) == checks && idle(s)
		})
		if gen == 1 {
			baseG, baseH = measure()
			t.Logf("first load: %d goroutines, heap %.1f MB", baseG, float64(baseH)/1e6)
			continue
		}
		var gr int
		var heap uint64
		// gocron's goroutines for the last runs may still be returning.
		waitUntil(t, 20*time.Second, fmt.Sprintf("load %d back within 10%% of the first", gen), func() bool {
			gr, heap = measure()
			return float64(gr) <= 1.1*float64(baseG) && float64(heap) <= 1.1*float64(baseH)
		})
		t.Logf("load %d: %d goroutines, heap %.1f MB", gen, gr, float64(heap)/1e6)
	}
	if err := s.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	checkSlots(t, s)
	if n := len(s.slots); n != 0 {
		t.Errorf("%d slots left once every check was removed", n)
	}
}

// TestInFlightIsBounded: with more checks due than max_in_flight, no more
// than that many probe at once; the others wait (counted as delayed) and
// every check still runs, none pushed back to its next interval.
func TestInFlightIsBounded(t *testing.T) {
	t.Parallel()
	const limit, checks = 3, 12
	rec := &recorder{runs: map[string]int{}}
	s := runningScheduler(t, rec.sink, limit)
	var running, most atomic.Int32
	release := make(chan struct{})
	p := probe.ProberFunc(func(ctx context.Context) probe.Result {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return probe.Result{Status: probe.StatusUp}
	})
	jobs := make([]Job, checks)
	for i := range jobs {
		jobs[i] = Job{Check: new(check(fmt.Sprintf("b%02d", i), time.Hour, time.Minute)), Prober: p}
	}
	if err := s.Reconcile(jobs); err != nil {
		t.Fatal(err)
	}
	runNow(t, s)
	waitFor(t, "the bound reached and the rest waiting", func() bool {
		_, waiting := s.pool.size()
		return running.Load() == limit && waiting == checks-limit
	})
	if got := testutil.ToFloat64(s.m.inFlight); got != limit {
		t.Errorf("tocsin_probes_in_flight = %v, want %d", got, limit)
	}
	if got := testutil.ToFloat64(s.m.delayed); got != checks-limit {
		t.Errorf("tocsin_scheduler_delayed_runs_total = %v, want %d", got, checks-limit)
	}
	close(release)
	waitFor(t, "every check to run", func() bool {
		for _, j := range jobs {
			if rec.count(j.Check.Name) != 1 {
				return false
			}
		}
		return idle(s)
	})
	if m := most.Load(); m != limit {
		t.Errorf("%d probes ran at once, want at most (and here exactly) %d", m, limit)
	}
	if got := testutil.ToFloat64(s.m.inFlight); got != 0 {
		t.Errorf("tocsin_probes_in_flight = %v once all returned, want 0", got)
	}
}

// TestRunDueWhileBusyIsSkippedAndCounted: a check's run due while its
// previous run waits for a slot or probes is skipped, not queued behind
// it, and counted.
func TestRunDueWhileBusyIsSkippedAndCounted(t *testing.T) {
	t.Parallel()
	rec := &recorder{runs: map[string]int{}}
	s := runningScheduler(t, rec.sink, 1)
	release := make(chan struct{})
	p := &blockingProber{started: make(chan struct{}, 1)}
	q := probe.ProberFunc(func(ctx context.Context) probe.Result {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return probe.Result{Status: probe.StatusUp}
	})
	if err := s.Reconcile([]Job{
		{Check: new(check("holder", time.Hour, time.Minute)), Prober: p},
		{Check: new(check("waiter", time.Hour, time.Minute)), Prober: q},
	}); err != nil {
		t.Fatal(err)
	}
	run := func(name string) { t.Helper(); runNow(t, s, name) }
	run("holder")
	<-p.started // the only slot is taken
	run("waiter")
	waitFor(t, "the waiter queued", func() bool { _, waiting := s.pool.size(); return waiting == 1 })
	run("waiter") // still waiting: skipped
	run("holder") // still probing: skipped
	waitFor(t, "two skipped runs", func() bool { return testutil.ToFloat64(s.m.skipped) == 2 })
	s.Lose([]string{"web"}) // ends the holder's probe; the waiter's run is dropped with its job
	close(release)
	waitFor(t, "the pool idle", func() bool { return idle(s) })
	if n := rec.count("waiter") + rec.count("holder"); n != 0 {
		t.Errorf("%d results of removed jobs reached the sink", n)
	}
}
