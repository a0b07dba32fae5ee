package status

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/uptime"
)

// fakeUptime returns web-app with as many operational seconds today as it
// has been read.
type fakeUptime struct {
	mu    sync.Mutex
	reads int
	err   error
}

func (f *fakeUptime) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeUptime) ComponentUptimeAt(_ context.Context, now time.Time, ids []string, _ int, loc *time.Location) (map[string][]uptime.ComponentDay, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	return map[string][]uptime.ComponentDay{"web-app": {{Date: uptime.Midnight(now, loc),
		Millis: uptime.MillisOf(map[detector.ComponentStatus]int64{detector.Operational: int64(f.reads) * 1000})}}}, nil
}

func (f *fakeUptime) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// TestRefresherReadsUptime: the history is read at start, once per 5-s
// slot while the store is younger than a minute (so today's bar fills
// soon after a first start), then once per minute slot, each read shown at
// once; never while the store is unreadable.
func TestRefresherReadsUptime(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Second)
	env.store.created = t0 // a new store: t0 is a whole minute
	up := &fakeUptime{}
	clk := t0
	env.r.o.Uptime, env.r.o.Now = up, func() time.Time { return clk }
	ctx := context.Background()
	if err := env.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	shown := func() string {
		t.Helper()
		data, _, ok := env.server.Snapshot().Body(pathComponentsV1 + "web-app" + uptimeQuery + "1")
		if !ok {
			t.Fatal("no uptime document")
		}
		_, after, _ := strings.Cut(string(data), `"durations":{"operational":`)
		return strings.SplitN(after, "}", 2)[0]
	}
	if up.count() != 1 || shown() != "1" {
		t.Fatalf("after start: %d reads, %s s shown", up.count(), shown())
	}
	for _, step := range []struct {
		after time.Duration
		reads int
	}{
		{2 * time.Second, 1},  // the same 5-s slot
		{4 * time.Second, 2},  // the next one
		{60 * time.Second, 3}, // the store is over a minute old: minute slots
		{30 * time.Second, 3}, // 1m36s: the slot of 1m06s
		{31 * time.Second, 4}, // 2m07s
	} {
		clk = clk.Add(step.after)
		_ = env.r.cycle(ctx, false)
		if up.count() != step.reads {
			t.Fatalf("at %v: %d reads, want %d", clk.Sub(t0), up.count(), step.reads)
		}
	}
	if got := shown(); got != "4" {
		t.Errorf("the snapshot shows %s s, want the latest read's 4", got)
	}
	env.store.setErr(errors.New("connection refused"))
	clk = clk.Add(2 * time.Minute)
	_ = env.r.cycle(ctx, false)
	if up.count() != 4 {
		t.Errorf("uptime read while the store was unreadable")
	}
}

// TestRefresherUptimeFailureAndMidnight: an unreadable history keeps the
// last one, is retried at the usual pace, does not make the status stale;
// the bars move on at midnight without waiting for the next read.
func TestRefresherUptimeFailureAndMidnight(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Second)
	up := &fakeUptime{}
	clk := time.Date(2026, 11, 21, 23, 58, 0, 0, time.UTC)
	env.r.o.Uptime, env.r.o.Now = up, func() time.Time { return clk }
	// The store is 100 hours old: minute slots.
	ctx := context.Background()
	if err := env.r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	up.fail(errors.New("READONLY"))
	for range 10 { // 10 polls within the minute: no retry
		clk = clk.Add(5 * time.Second)
		if err := env.r.cycle(ctx, false); err != nil {
			t.Fatalf("an uptime failure is not a store failure: %v", err)
		}
	}
	if up.count() != 1 || env.server.Snapshot().Stale {
		t.Errorf("%d reads, stale %v; want 1 and false", up.count(), env.server.Snapshot().Stale)
	}
	clk = clk.Add(15 * time.Second) // 23:59:05, the next slot: retried
	_ = env.r.cycle(ctx, false)
	if up.count() != 2 {
		t.Errorf("%d reads after a minute, want 2", up.count())
	}
	up.fail(nil)
	clk = time.Date(2026, 11, 22, 0, 0, 1, 0, time.UTC) // the day turns
	_ = env.r.cycle(ctx, false)
	if up.count() != 3 {
		t.Errorf("%d reads after midnight, want 3", up.count())
	}
	data, _, _ := env.server.Snapshot().Body(pathComponentsV1 + "web-app" + uptimeQuery + "1")
	if !strings.Contains(string(data), `"date":"2026-11-22"`) {
		t.Errorf("after midnight the history does not end today: %s", data)
	}
}
