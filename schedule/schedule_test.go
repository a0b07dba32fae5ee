package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

type recorder struct {
	mu   sync.Mutex
	runs map[string]int
}

func (r *recorder) sink(_ context.Context, c config.Check, _ probe.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[c.Name]++
}

func (r *recorder) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[name]
}

func newScheduler(t *testing.T) (*Scheduler, *recorder) {
	t.Helper()
	rec := &recorder{runs: map[string]int{}}
	return runningScheduler(t, rec.sink, 100), rec // owns "web", the tests' checks' component
}

func check(name string, interval, timeout time.Duration) config.Check {
	return config.Check{Name: name, Component: "web", Type: "http", Interval: interval, Timeout: timeout}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJobsRunOnTheirIntervalWithTheirTimeout(t *testing.T) {
	t.Parallel()
	s, rec := newScheduler(t)
	var deadlineLeft atomic.Int64
	p := probe.ProberFunc(func(ctx context.Context) probe.Result {
		d, ok := ctx.Deadline()
		if ok {
			deadlineLeft.Store(int64(time.Until(d)))
		}
		return probe.Result{Status: probe.StatusUp}
	})
	if err := s.Reconcile([]Job{{Check: new(check("a", 50*time.Millisecond, 40*time.Millisecond)), Prober: p}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three runs", func() bool { return rec.count("a") >= 3 })
	if left := time.Duration(deadlineLeft.Load()); left <= 0 || left > 40*time.Millisecond {
		t.Errorf("probe context deadline %v away, want within the 40ms timeout", left)
	}
}

func TestOverrunningProbeNeverOverlaps(t *testing.T) {
	t.Parallel()
	s, rec := newScheduler(t)
	var running, maxRunning atomic.Int32
	p := probe.ProberFunc(func(ctx context.Context) probe.Result {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		time.Sleep(120 * time.Millisecond) // longer than the interval
		return probe.Result{Status: probe.StatusUp}
	})
	if err := s.Reconcile([]Job{{Check: new(check("slow", 30*time.Millisecond, 20*time.Millisecond)), Prober: p}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three runs", func() bool { return rec.count("slow") >= 3 })
	if m := maxRunning.Load(); m != 1 {
		t.Errorf("%d probes of one check ran at once, want 1", m)
	}
	if testutil.ToFloat64(s.m.skipped) == 0 {
		t.Error("runs due while the probe overran were not counted as skipped")
	}
}

// TestJobsAddedBeforeStartRunAfterIt: a check acquired before Start, due
// at once, runs when the scheduler starts, not an interval later (its
// first run is a timer of the package's, armed at Start).
func TestJobsAddedBeforeStartRunAfterIt(t *testing.T) {
	t.Parallel()
	rec := &recorder{runs: map[string]int{}}
	s, err := New(rec.sink, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), 2*time.Second, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	up := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	c := check("early", time.Hour, time.Second)
	if err := s.Reconcile([]Job{{Check: new(c), Prober: up}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Acquire([]string{"web"}, map[string]Resume{"early": {LastStart: time.Now().Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitFor(t, "the first run", func() bool { return rec.count("early") == 1 })
}

func TestReconcileAddsRemovesAndReplaces(t *testing.T) {
	t.Parallel()
	s, rec := newScheduler(t)
	up := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	a, b := check("a", 40*time.Millisecond, 30*time.Millisecond), check("b", 40*time.Millisecond, 30*time.Millisecond)
	if err := s.Reconcile([]Job{{Check: new(a), Prober: up}, {Check: new(b), Prober: up}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both running", func() bool { return rec.count("a") > 0 && rec.count("b") > 0 })
	oldA, oldB := s.jobs["a"], s.jobs["b"]

	b.Timeout = 20 * time.Millisecond
	if err := s.Reconcile([]Job{{Check: new(b), Prober: up}}); err != nil {
		t.Fatal(err)
	}
	if names := s.Names(); len(names) != 1 || names[0] != "b" {
		t.Fatalf("jobs after reconcile = %v, want [b]", names)
	}
	if s.jobs["b"].job.Check.Timeout != 20*time.Millisecond {
		t.Error("changed check was not replaced")
	}
	stopped := rec.count("a")
	time.Sleep(150 * time.Millisecond)
	if got := rec.count("a"); got > stopped+1 {
		t.Errorf("removed job kept running: %d -> %d", stopped, got)
	}
	if s.jobs["b"] == oldB || !oldB.gone.Load() || !oldA.gone.Load() {
		t.Error("the removed and the replaced check were not stopped, or the replaced one's entry was reused")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.slots {
		for _, e := range sl.list() {
			if e == oldA || e == oldB {
				t.Error("a slot still holds a stopped check")
			}
		}
	}
}

func TestSpreadIsStableAndWithinInterval(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "web-app-home", "smtp-inbound"} {
		d := Spread(name, 30*time.Second)
		if d <= 0 || d >= 30*time.Second || d != Spread(name, 30*time.Second) {
			t.Errorf("Spread(%q) = %v", name, d)
		}
	}
}

func TestNextDueSkipsMissedRuns(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	if got := nextDue(t0, t0.Add(25*time.Second), 10*time.Second); !got.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("nextDue = %v", got.Sub(t0))
	}
}

type closingProber struct {
	probe.ProberFunc
	closed atomic.Bool
}

func (c *closingProber) Close() error { c.closed.Store(true); return nil }

func TestRemovedProberIsClosedAfterItsTimeout(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	p := &closingProber{ProberFunc: func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} }}
	if err := s.Reconcile([]Job{{Check: new(check("q", time.Second, 10*time.Millisecond)), Prober: p}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if p.closed.Load() {
		t.Fatal("closed at once: an in-flight probe would fail")
	}
	waitFor(t, "closed", p.closed.Load)
}

// TestUnchangedCheckKeepsItsProber: a reload that leaves a check as it was
// keeps its running prober (a queue keeps its window) and closes the one
// built for the new config, which never runs; it is the one kept from then
// on, on a later reload too.
func TestUnchangedCheckKeepsItsProber(t *testing.T) {
	t.Parallel()
	s, _ := newScheduler(t)
	up := func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} }
	c := check("q", time.Hour, time.Second)
	running := &closingProber{ProberFunc: up}
	if err := s.Reconcile([]Job{{Check: new(c), Prober: running}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		built := &closingProber{ProberFunc: up}
		if err := s.Reconcile([]Job{{Check: new(c), Prober: built}}); err != nil {
			t.Fatal(err)
		}
		if !built.closed.Load() || running.closed.Load() {
			t.Fatalf("closed: built for the reload %v, running %v; want the built one only", built.closed.Load(), running.closed.Load())
		}
		s.mu.Lock()
		kept := s.jobs["q"].job.Prober == probe.Prober(running) && s.want["q"].Prober == probe.Prober(running)
		s.mu.Unlock()
		if !kept {
			t.Fatal("the running prober was not kept")
		}
	}
}

// blockingProber blocks until its context ends, then returns down (what a
// cancelled probe looks like).
type blockingProber struct {
	started chan struct{}
	ended   atomic.Bool
}

func (b *blockingProber) Probe(ctx context.Context) probe.Result {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	b.ended.Store(true)
	return probe.Result{Status: probe.StatusDown, Reason: probe.ReasonTimeout}
}

// TestLoseAndShutdownCancelInFlightProbes: a probe in flight when its
// component moves away, or when tocsin shuts down, is cancelled at once and
// its result never reaches the sink (it says nothing about the target).
func TestLoseAndShutdownCancelInFlightProbes(t *testing.T) {
	t.Parallel()
	for _, stop := range []struct {
		name string
		do   func(s *Scheduler)
	}{
		{"lose", func(s *Scheduler) { s.Lose([]string{"web"}) }},
		{"shutdown", func(s *Scheduler) { _ = s.Shutdown() }},
	} {
		t.Run(stop.name, func(t *testing.T) {
			t.Parallel()
			s, rec := newScheduler(t)
			p := &blockingProber{started: make(chan struct{}, 1)}
			if err := s.Reconcile([]Job{{Check: new(check("slow", 50*time.Millisecond, time.Minute)), Prober: p}}); err != nil {
				t.Fatal(err)
			}
			<-p.started
			stop.do(s)
			waitFor(t, "the probe cancelled", p.ended.Load)
			if n := rec.count("slow"); n != 0 {
				t.Errorf("%d results of cancelled probes reached the sink", n)
			}
		})
	}
}

type restoringProber struct {
	probe.ProberFunc
	mu    sync.Mutex
	state []byte
	calls int
}

func (r *restoringProber) RestoreState(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state, r.calls = b, r.calls+1
	return nil
}

// TestAcquireResumes: a check whose component comes from another replica
// gets that replica's prober state and runs one interval after its last
// run there, not at once and not a whole interval late.
func TestAcquireResumes(t *testing.T) {
	t.Parallel()
	rec := &recorder{runs: map[string]int{}}
	s, err := New(rec.sink, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), 2*time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { _ = s.Shutdown() })
	var firstRun atomic.Int64
	p := &restoringProber{ProberFunc: func(context.Context) probe.Result {
		firstRun.CompareAndSwap(0, time.Now().UnixNano())
		return probe.Result{Status: probe.StatusUp}
	}}
	c := check("q", 2*time.Second, time.Second)
	if err := s.Reconcile([]Job{{Check: new(c), Prober: p}}); err != nil {
		t.Fatal(err)
	}
	if rec.count("q") != 0 {
		t.Fatal("a check of a component owned elsewhere ran")
	}
	last := time.Now().Add(-1500 * time.Millisecond) // due 500ms from now
	acquired := time.Now()
	if err := s.Acquire([]string{"web"}, map[string]Resume{"q": {LastStart: last, ProbeState: []byte("window")}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first run", func() bool { return rec.count("q") > 0 })
	p.mu.Lock()
	if p.calls != 1 || string(p.state) != "window" {
		t.Errorf("RestoreState calls %d with %q, want the last owner's state once", p.calls, p.state)
	}
	p.mu.Unlock()
	// Not before its due time; how late it may be depends on the machine.
	if at := time.Unix(0, firstRun.Load()); at.Before(last.Add(c.Interval)) {
		t.Errorf("first run %v after the acquisition, before it was due (%v)", at.Sub(acquired), last.Add(c.Interval).Sub(acquired))
	}
}

// TestLateGrowsWhenJobsStopRunning: a scheduler whose jobs stopped being
// run (stalled) is late by more than an interval; one that runs them on
// time is not.
func TestLateGrowsWhenJobsStopRunning(t *testing.T) {
	t.Parallel()
	s, rec := newScheduler(t)
	p := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	if err := s.Reconcile([]Job{{Check: new(check("a", 50*time.Millisecond, 40*time.Millisecond)), Prober: p}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "runs", func() bool { return rec.count("a") >= 2 })
	if name, late := s.Late(time.Now()); late > 1 {
		t.Errorf("on time, yet %s is %.1f intervals late", name, late)
	}
	if err := s.cron.StopJobs(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "late by over an interval", func() bool {
		name, late := s.Late(time.Now())
		return name == "a" && late > 1
	})
}

// TestNeverProbedChecksAreSpread: a component acquired with checks nobody
// has probed yet (a first start on an empty store) has them spread over
// their interval as new checks are, not all run at once.
func TestNeverProbedChecksAreSpread(t *testing.T) {
	t.Parallel()
	rec := &recorder{runs: map[string]int{}}
	s, err := New(rec.sink, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), 2*time.Second, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	up := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	var jobs []Job
	resume := map[string]Resume{}
	for i := range 200 {
		c := check(fmt.Sprintf("c%03d", i), time.Hour, time.Second)
		jobs = append(jobs, Job{Check: new(c), Prober: up})
		resume[c.Name] = Resume{} // never probed anywhere
	}
	if err := s.Reconcile(jobs); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := s.Acquire([]string{"web"}, resume); err != nil {
		t.Fatal(err)
	}
	soon := 0
	s.mu.Lock()
	for name, e := range s.jobs {
		e.mu.Lock()
		if want := before.Add(Spread(name, time.Hour)); e.next.Before(want.Add(-time.Second)) || e.next.After(want.Add(time.Minute)) {
			t.Errorf("%s first due %v after the acquisition, want its spread offset %v", name, e.next.Sub(before), Spread(name, time.Hour))
		}
		if e.next.Sub(before) < time.Minute {
			soon++
		}
		e.mu.Unlock()
	}
	s.mu.Unlock()
	if soon > 20 {
		t.Errorf("%d of 200 checks due within a minute of an hour's interval: not spread", soon)
	}
}
