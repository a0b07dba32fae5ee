package status

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
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

func TestRefresherChecksChangedDoesNotReadStore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		env := newRefresherEnv(t, time.Hour) // no poll during the test
		if err := env.r.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		loads, versions := env.store.loadCount(), env.store.versionCount()
		stop := env.start()
		defer stop()
		env.checks.set(testChecks(detector.Up))
		env.r.ChecksChanged()
		synctest.Wait()
		if got := checkStatusIn(t, env.server, "web-app-home"); got != "up" {
			t.Errorf("web-app-home = %s after ChecksChanged, want up", got)
		}
		if l, v := env.store.loadCount(), env.store.versionCount(); l != loads || v != versions {
			t.Errorf("ChecksChanged read the store: %d loads, %d version reads; want %d, %d", l, v, loads, versions)
		}
	})
}

func TestRefresherChecksChangedIsRateLimited(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		env := newRefresherEnv(t, time.Hour)
		env.r.ChecksEvery = time.Second
		if err := env.r.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		reads := env.checks.readCount()
		stop := env.start()
		defer stop()
		// A result every 10ms for 3s, each changing the checks.
		for i := range 300 {
			st := detector.Up
			if i%2 == 1 {
				st = detector.Degraded
			}
			env.checks.set(testChecks(st))
			env.r.ChecksChanged()
			time.Sleep(10 * time.Millisecond)
		}
		// One rebuild at once, then one per second; and the last change shows
		// within ChecksEvery.
		if n := env.checks.readCount() - reads; n < 3 || n > 4 {
			t.Errorf("%d rebuilds for 3s of results, want 3..4", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := checkStatusIn(t, env.server, "web-app-home"); got != "degraded" {
			t.Errorf("web-app-home = %s, want the last result's degraded", got)
		}
	})
}

func TestRefresherPollLeavesChecksAlone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		env := newRefresherEnv(t, 10*time.Millisecond)
		if err := env.r.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		reads := env.checks.readCount()
		stop := env.start()
		defer stop()
		env.checks.set(testChecks(detector.Up))
		time.Sleep(reloadEvery / 2)
		if n := env.checks.readCount(); n != reads {
			t.Errorf("polls read the checks %d times", n-reads)
		}
		// The state is reloaded every reloadEvery, and the checks with it.
		time.Sleep(reloadEvery)
		synctest.Wait()
		if got := checkStatusIn(t, env.server, "web-app-home"); got != "up" {
			t.Errorf("web-app-home = %s after reloadEvery, want up", got)
		}
	})
}

// TestRefresherLoadFailureIsNoSuccess: the version read works but Load
// does not (a schema mismatch, bad JSON): the snapshot goes stale and
// LastSuccess stays put, so /readyz fails.
func TestRefresherLoadFailureIsNoSuccess(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Hour)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	env.r.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	ctx := context.Background()
	if err := env.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	good := env.r.LastSuccess()
	env.store.setLoadErr(errors.New("state schema 3, want 2"))
	env.store.set(incidentState()) // a new version to load
	for i, kind := range []cycleKind{cyclePoll, cyclePoll, cycleStore, cycleChecks} {
		clock.Add(int64(time.Second))
		err := env.r.cycle(ctx, kind)
		if kind != cycleChecks && (err == nil || !strings.Contains(err.Error(), "schema")) {
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
	if err := env.r.cycle(ctx, cyclePoll); err != nil {
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
	env.r.Store = blockingStore{env.store}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := env.r.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Refresh = %v, want context.Canceled", err)
	}
	if env.server.Snapshot() != before || !env.r.LastSuccess().Equal(good) {
		t.Error("a cancelled cycle published a snapshot or moved LastSuccess")
	}
	if err := env.r.cycle(ctx, cycleChecks); !errors.Is(err, context.Canceled) {
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
	if _, err := build(ctx, benchInputs(t, 2*ctxEvery), buildOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("build = %v, want context.Canceled", err)
	}
}
