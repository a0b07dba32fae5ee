package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/probe"
)

// checkStatusIn returns the status of check name as the snapshot serves it.
func checkStatusIn(t *testing.T, s *Server, name string) string {
	t.Helper()
	data, _, ok := s.Snapshot().Body(pathChecks + "/" + name)
	if !ok {
		t.Fatalf("no body for check %s", name)
	}
	var doc struct{ Check struct{ Status string } }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Check.Status
}

// smtpCheck is smtp-inbound's state with one result ten seconds before t0.
func smtpCheck(status detector.CheckStatus) detector.Check {
	res := probe.Result{Status: probe.StatusUp, Start: t0.Add(-10 * time.Second), Duration: 40 * time.Millisecond}
	if status == detector.Down {
		res.Status, res.Reason, res.Message = probe.StatusDown, probe.ReasonConnect, "connection refused"
	}
	return detector.Check{Spec: detector.Spec{Name: "smtp-inbound", Component: "email", Impact: detector.MajorOutage},
		Status: status, Since: res.Start, Last: res, Recent: detector.Samples([]probe.Result{res}), Streak: 1}
}

// TestRefresherReadsPublishedChecks: a poll reads the check states only
// when the store's sequence number moved, and then only what changed
// since the last one it read; a reset, or a store created anew, reads
// everything afresh; a removed state is gone. It rebuilds exactly when it
// read something new.
func TestRefresherReadsPublishedChecks(t *testing.T) {
	t.Parallel()
	const unknown = string(detector.Unknown)
	for _, tc := range []struct {
		name      string
		change    func(f *fakeStore)
		wantReads []int64 // the since of each ChecksSince of the poll
		wantLoad  bool
		rebuilt   bool
		web, smtp string // the statuses shown after the poll
	}{{
		name:   "unchanged",
		change: func(*fakeStore) {},
		web:    "degraded", smtp: "up",
	}, {
		name:      "changed",
		change:    func(f *fakeStore) { f.publish([]detector.Check{smtpCheck(detector.Down)}) },
		wantReads: []int64{2}, rebuilt: true,
		web: "degraded", smtp: "down",
	}, {
		name:      "removed",
		change:    func(f *fakeStore) { f.publish(nil, "web-app-home") },
		wantReads: []int64{2}, rebuilt: true,
		web: unknown, smtp: "up",
	}, {
		// Redis lost its data but not its creation time: its sequence
		// number is behind the reader's, and ChecksSince says Reset.
		name: "reset",
		change: func(f *fakeStore) {
			f.lose(true)
			f.publish([]detector.Check{smtpCheck(detector.Down)})
		},
		wantReads: []int64{2}, rebuilt: true,
		web: unknown, smtp: "down",
	}, {
		// A new creation time: nothing read before holds, the state is
		// loaded again though its version did not move.
		name: "store created anew",
		change: func(f *fakeStore) {
			f.lose(false)
			f.publish([]detector.Check{smtpCheck(detector.Down)})
		},
		wantReads: []int64{0}, wantLoad: true, rebuilt: true,
		web: unknown, smtp: "down",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newRefresherEnv(t, time.Hour)
			env.r.o.Now = func() time.Time { return t0 } // no rebuild for the time's sake
			env.store.publish(append(testChecks(detector.Up), smtpCheck(detector.Up)))
			env.store.publish(testChecks(detector.Degraded))
			ctx := t.Context()
			if err := env.r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if got := env.store.checkReads(); !slices.Equal(got, []int64{0}) {
				t.Fatalf("Refresh read the checks since %v, want everything once ([0])", got)
			}
			before, loads := env.server.Snapshot(), env.store.loadCount()
			tc.change(env.store)
			if err := env.r.cycle(ctx, false); err != nil {
				t.Fatal(err)
			}
			if got := env.store.checkReads()[1:]; !slices.Equal(got, tc.wantReads) {
				t.Errorf("the poll read the checks since %v, want %v", got, tc.wantReads)
			}
			if got := env.store.loadCount() - loads; (got != 0) != tc.wantLoad {
				t.Errorf("the poll loaded the state %d times, want a load: %v", got, tc.wantLoad)
			}
			if rebuilt := env.server.Snapshot() != before; rebuilt != tc.rebuilt {
				t.Errorf("rebuilt = %v, want %v", rebuilt, tc.rebuilt)
			}
			web, smtp := checkStatusIn(t, env.server, "web-app-home"), checkStatusIn(t, env.server, "smtp-inbound")
			if web != tc.web || smtp != tc.smtp {
				t.Errorf("web-app-home %s, smtp-inbound %s; want %s, %s", web, smtp, tc.web, tc.smtp)
			}
		})
	}
}

// TestRefresherReadsChecksInParts: a read that stops early (More) is
// continued from where it stopped, in the same poll.
func TestRefresherReadsChecksInParts(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Hour)
	ctx := t.Context()
	if err := env.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// Three passes of 3,000 checks: more than one read takes, and the
	// configured check that shows is in the last pass.
	const pass = 3000
	for p := range 3 {
		cs := make([]detector.Check, 0, pass)
		for i := range pass {
			cs = append(cs, detector.Check{Spec: detector.Spec{Name: fmt.Sprintf("extra-%d-%04d", p, i)},
				Status: detector.Up})
		}
		if p == 2 {
			cs[pass-1] = testChecks(detector.Degraded)[0]
		}
		env.store.publish(cs)
	}
	if err := env.r.cycle(ctx, false); err != nil {
		t.Fatal(err)
	}
	// 0 at Refresh; then from 0 (nothing read yet) to 2, and from 2.
	if got := env.store.checkReads(); !slices.Equal(got, []int64{0, 0, 2}) {
		t.Errorf("reads since %v, want [0 0 2]", got)
	}
	if got := checkStatusIn(t, env.server, "web-app-home"); got != "degraded" {
		t.Errorf("web-app-home = %s, want the last pass's degraded", got)
	}
	env.r.mu.Lock()
	n := len(env.r.checks.list)
	env.r.mu.Unlock()
	if n != 3*pass {
		t.Errorf("%d check states held, want %d", n, 3*pass)
	}
}

// TestRefresherChecksFollowPolls: check states published every 10ms are
// read once per poll, not once per publish, each read taking up where
// the last stopped; the last one shows within a poll.
func TestRefresherChecksFollowPolls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		env := newRefresherEnv(t, time.Second)
		if err := env.r.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		stop := env.start()
		defer stop()
		for i := range 300 {
			st := detector.Up
			if i%2 == 1 {
				st = detector.Degraded
			}
			env.store.publish(testChecks(st))
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		reads := env.store.checkReads()
		if n := len(reads) - 1; n < 3 || n > 4 {
			t.Errorf("%d check reads for 4s of polls, want 3..4", n)
		}
		for i := 2; i < len(reads); i++ {
			if reads[i] <= reads[i-1] {
				t.Errorf("read %d since %d after one since %d: want each read to go on from the last", i,
					reads[i], reads[i-1])
			}
		}
		if got := checkStatusIn(t, env.server, "web-app-home"); got != "degraded" {
			t.Errorf("web-app-home = %s, want the last publish's degraded", got)
		}
	})
}

// TestRefresherReloadLeavesChecksAlone: polls that find the checks'
// sequence number unchanged read no check state, not even the reload of
// the state every reloadEvery, which rebuilds with the checks held.
func TestRefresherReloadLeavesChecksAlone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		env := newRefresherEnv(t, 10*time.Millisecond)
		env.store.publish(testChecks(detector.Up))
		if err := env.r.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		first, loads := env.server.Snapshot(), env.store.loadCount()
		stop := env.start()
		defer stop()
		time.Sleep(reloadEvery / 2)
		synctest.Wait()
		if env.server.Snapshot() != first {
			t.Error("polls rebuilt though nothing changed")
		}
		time.Sleep(reloadEvery)
		synctest.Wait()
		if n := len(env.store.checkReads()); n != 1 {
			t.Errorf("%d check reads, want only Refresh's", n)
		}
		if n := env.store.loadCount() - loads; n != 1 {
			t.Errorf("%d loads in 1.5 reloadEvery, want 1", n)
		}
		if env.server.Snapshot() == first {
			t.Error("no rebuild after reloadEvery")
		}
		if got := checkStatusIn(t, env.server, "web-app-home"); got != "up" {
			t.Errorf("web-app-home = %s after reloadEvery, want up", got)
		}
	})
}

// TestRefresherChecksReadFailureIsStale: when the check states cannot be
// read, the snapshot goes stale with the checks last read, and
// LastSuccess stays put; the next good read catches up.
func TestRefresherChecksReadFailureIsStale(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Hour)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	env.r.o.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	env.store.publish(testChecks(detector.Up))
	ctx := t.Context()
	if err := env.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	good := env.r.LastSuccess()
	env.store.setChecksErr(errors.New("READONLY"))
	env.store.publish(testChecks(detector.Degraded))
	clock.Add(int64(time.Second))
	if err := env.r.cycle(ctx, false); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Errorf("cycle = %v, want the read error", err)
	}
	if !env.server.Snapshot().Stale || !env.r.LastSuccess().Equal(good) {
		t.Errorf("stale %v, LastSuccess %v; want stale and %v", env.server.Snapshot().Stale,
			env.r.LastSuccess(), good)
	}
	if got := checkStatusIn(t, env.server, "web-app-home"); got != "up" {
		t.Errorf("web-app-home = %s while unreadable, want the last read's up", got)
	}
	env.store.setChecksErr(nil)
	clock.Add(int64(time.Second))
	if err := env.r.cycle(ctx, false); err != nil {
		t.Fatal(err)
	}
	if env.server.Snapshot().Stale || !env.r.LastSuccess().After(good) {
		t.Errorf("after recovery: stale %v, LastSuccess %v", env.server.Snapshot().Stale, env.r.LastSuccess())
	}
	if got := checkStatusIn(t, env.server, "web-app-home"); got != "degraded" {
		t.Errorf("web-app-home = %s after recovery, want degraded", got)
	}
}

// TestRefresherLoadFailureIsNoSuccess: the version read works but Load
// does not (a schema mismatch, bad JSON): the snapshot goes stale and
// LastSuccess stays put, so /readyz fails.
func TestRefresherLoadFailureIsNoSuccess(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Hour)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	env.r.o.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	ctx := context.Background()
	if err := env.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	good := env.r.LastSuccess()
	env.store.setLoadErr(errors.New("state schema 3, want 2"))
	env.store.set(incidentState()) // a new version to load
	for i, force := range []bool{false, false, true, false} {
		clock.Add(int64(time.Second))
		err := env.r.cycle(ctx, force)
		if err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("cycle %d = %v, want the Load error", i, err)
		}
		if got := env.r.LastSuccess(); !got.Equal(good) {
			t.Errorf("cycle %d: LastSuccess advanced to %v with Load failing", i, got)
		}
		if snap := env.server.Snapshot(); !snap.Stale || snap.Indicator != IndicatorNone {
			t.Errorf("cycle %d: snapshot stale %v, indicator %s; want the old state, stale", i, snap.Stale,
				snap.Indicator)
		}
	}
	// The version does not change again, but the state is not trusted
	// until a Load succeeds.
	env.store.setLoadErr(nil)
	clock.Add(int64(time.Second))
	if err := env.r.cycle(ctx, false); err != nil {
		t.Fatal(err)
	}
	if snap := env.server.Snapshot(); snap.Stale || snap.Indicator != IndicatorCritical ||
		!env.r.LastSuccess().After(good) {
		t.Errorf("after recovery: stale %v, indicator %s, LastSuccess %v", snap.Stale, snap.Indicator,
			env.r.LastSuccess())
	}
}

// blockingStore is a store whose Load waits for its context to end.
type blockingStore struct{ *fakeStore }

func (b blockingStore) Load(ctx context.Context, _ int) (incident.State, error) {
	<-ctx.Done()
	return incident.State{}, ctx.Err()
}

func TestRefresherCycleRespectsContext(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Hour)
	if err := env.r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, good := env.server.Snapshot(), env.r.LastSuccess()
	env.r.o.Store = blockingStore{env.store}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := env.r.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Refresh = %v, want context.Canceled", err)
	}
	if env.server.Snapshot() != before || !env.r.LastSuccess().Equal(good) {
		t.Error("a cancelled cycle published a snapshot or moved LastSuccess")
	}
	if err := env.r.cycle(ctx, false); !errors.Is(err, context.Canceled) {
		t.Errorf("cycle after cancel = %v, want context.Canceled", err)
	}
	if env.server.Snapshot() != before {
		t.Error("a cycle with a done context published a snapshot")
	}
}

func TestBuildRespectsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := build(ctx, benchInputs(t, 2048), buildOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("build = %v, want context.Canceled", err)
	}
}
