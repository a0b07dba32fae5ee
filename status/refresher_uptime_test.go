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
}

func (f *fakeUptime) Components(_ context.Context, ids []string, _ int, now time.Time, loc *time.Location) (map[string][]uptime.ComponentDay, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return map[string][]uptime.ComponentDay{"web-app": {{Date: uptime.Midnight(now, loc),
		Millis: map[detector.ComponentStatus]int64{detector.Operational: int64(f.reads) * 1000}}}}, nil
}

func (f *fakeUptime) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// TestRefresherReadsUptime: the history is read at start, every 5 s during
// the first minute (so today's bar fills soon), then once a minute, each
// read shown at once; never while the store is unreadable.
func TestRefresherReadsUptime(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Second)
	up := &fakeUptime{}
	clk := t0
	env.r.Uptime, env.r.Now = up, func() time.Time { return clk }
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
		{2 * time.Second, 1},  // within 5 s of the last read
		{4 * time.Second, 2},  // 6 s after start
		{60 * time.Second, 3}, // past the first minute: now once a minute
		{30 * time.Second, 3},
		{31 * time.Second, 4},
	} {
		clk = clk.Add(step.after)
		_ = env.r.cycle(ctx, cyclePoll)
		if up.count() != step.reads {
			t.Fatalf("at %v: %d reads, want %d", clk.Sub(t0), up.count(), step.reads)
		}
	}
	if got := shown(); got != "4" {
		t.Errorf("the snapshot shows %s s, want the latest read's 4", got)
	}
	env.store.setErr(errors.New("connection refused"))
	clk = clk.Add(2 * time.Minute)
	_ = env.r.cycle(ctx, cyclePoll)
	if up.count() != 4 {
		t.Errorf("uptime read while the store was unreadable")
	}
}
