package queue

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/probe"
)

var trendT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// series builds a window of samples every step from trendT0 with the given
// depths.
func series(step time.Duration, depths ...float64) []queuePoint {
	w := make([]queuePoint, len(depths))
	for i, d := range depths {
		w[i] = queuePoint{at: trendT0.Add(time.Duration(i) * step), QueueSample: QueueSample{Depth: d}}
	}
	return w
}

// withAges sets each sample's oldest age.
func withAges(w []queuePoint, ages ...time.Duration) []queuePoint {
	for i := range w {
		w[i].OldestAge = &ages[i]
	}
	return w
}

// stuckHead gives every sample the age of one oldest item enqueued at
// enqueued before trendT0.
func stuckHead(w []queuePoint, enqueued time.Duration) []queuePoint {
	for i := range w {
		age := w[i].at.Sub(trendT0) + enqueued
		w[i].OldestAge = &age
	}
	return w
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestJudgeQueue(t *testing.T) {
	t.Parallel()
	const step = 30 * time.Second
	stall := queueRules{stallAfter: 3 * time.Minute, window: 5 * time.Minute}
	tests := []struct {
		name   string
		w      []queuePoint
		rules  queueRules
		status probe.Status
		reason probe.Reason
		msg    string // exact, or a substring when prefixed with "…"
	}{
		{"flat at zero", series(step, repeat(0, 11)...), stall,
			probe.StatusUp, "", "q: 0 items, steady"},
		{"one sample", series(step, 5), stall,
			probe.StatusUp, "", "q: 5 items"},
		{"flat above zero, shorter than stall_after", series(step, repeat(7, 5)...), stall,
			probe.StatusUp, "", "q: 7 items, steady"},
		{"flat above zero for stall_after", series(step, repeat(7, 7)...), stall,
			probe.StatusDown, probe.ReasonStalled, "q: 7 items, steady — not draining for 3m"},
		{"flat above zero, oldest item keeps changing", withAges(series(step, repeat(7, 11)...),
			10*time.Second, 12*time.Second, 9*time.Second, 11*time.Second, 10*time.Second, 10*time.Second,
			13*time.Second, 9*time.Second, 10*time.Second, 12*time.Second, 10*time.Second), stall,
			probe.StatusUp, "", "q: 7 items, oldest 10s, steady"},
		{"flat above zero, oldest item stuck", stuckHead(series(step, repeat(7, 11)...), time.Minute), stall,
			probe.StatusDown, probe.ReasonStalled, "q: 7 items, oldest 6m, steady — not draining for 3m"},
		{"flat above zero, no stall_after", series(step, repeat(7, 11)...), queueRules{window: 5 * time.Minute},
			probe.StatusUp, "", "q: 7 items, steady"},
		{"dip inside stall_after", series(step, 7, 7, 7, 7, 6, 7, 7, 7), stall,
			probe.StatusUp, "", "…"},
		{"empty for a moment inside stall_after", series(step, 3, 3, 0, 3, 3, 3, 3), stall,
			probe.StatusUp, "", "…"},
		{"draining", series(step, 1000, 900, 800, 700, 600, 500), stall,
			probe.StatusUp, "", "q: 500 items, draining at 3.3/s, about 2m30s to drain"},
		{"growing", series(step, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110), queueRules{window: 5 * time.Minute},
			probe.StatusDegraded, probe.ReasonThreshold, "q: 110 items, growing at 20/min — growing for 5m without falling"},
		{"growing with flat steps", series(step, 10, 10, 20, 20, 30, 30), queueRules{window: 5 * time.Minute},
			probe.StatusDegraded, probe.ReasonThreshold, "…growing for 2m30s without falling"},
		{"growing, shorter than half the window", series(step, 10, 20, 30, 40), queueRules{window: 5 * time.Minute},
			probe.StatusUp, "", "q: 40 items, growing at 20/min"},
		{"growing with one fall", series(step, 10, 20, 30, 25, 40, 50, 60), queueRules{window: 5 * time.Minute},
			probe.StatusUp, "", "…"},
		{"growing past stall_after", series(step, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110), stall,
			probe.StatusDown, probe.ReasonStalled, "q: 110 items, growing at 20/min — not draining for 3m; growing for 5m without falling"},
		{"growing from zero for stall_after", series(step, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6), stall,
			probe.StatusDegraded, probe.ReasonThreshold, "…growing for 5m without falling"},
		{"max_age", withAges(series(step, 4, 4), time.Minute, 6*time.Minute+10*time.Second),
			queueRules{maxAge: 5 * time.Minute, window: 5 * time.Minute},
			probe.StatusDown, probe.ReasonThreshold, "q: 4 items, oldest 6m10s, steady — oldest older than max_age (5m)"},
		{"max_age not reached", withAges(series(step, 4), 5*time.Minute),
			queueRules{maxAge: 5 * time.Minute, window: 5 * time.Minute},
			probe.StatusUp, "", "q: 4 items, oldest 5m"},
		{"max_age, age unknown", series(step, 4), queueRules{maxAge: time.Second, window: 5 * time.Minute},
			probe.StatusUp, "", "q: 4 items"},
		{"min_consumers", consumersAt(series(step, 12), 0), queueRules{minConsumers: 1, window: 5 * time.Minute},
			probe.StatusDown, probe.ReasonThreshold, "q: 12 items, 0 consumers — 0 consumers (want at least 1)"},
		{"min_consumers met", consumersAt(series(step, 12), 2), queueRules{minConsumers: 2, window: 5 * time.Minute},
			probe.StatusUp, "", "q: 12 items, 2 consumers"},
		{"min_consumers, consumers unknown", series(step, 12), queueRules{minConsumers: 1, window: 5 * time.Minute},
			probe.StatusUp, "", "q: 12 items"},
		{"degraded_depth", series(step, 1500), queueRules{degradedDepth: 1000, downDepth: 50000, window: 5 * time.Minute},
			probe.StatusDegraded, probe.ReasonThreshold, "q: 1,500 items — at or over degraded_depth (1,000)"},
		{"down_depth", series(step, 50000), queueRules{degradedDepth: 1000, downDepth: 50000, window: 5 * time.Minute},
			probe.StatusDown, probe.ReasonThreshold, "q: 50,000 items — at or over down_depth (50,000)"},
		{"below degraded_depth", series(step, 999), queueRules{degradedDepth: 1000, downDepth: 50000, window: 5 * time.Minute},
			probe.StatusUp, "", "q: 999 items"},
		{"worst wins", withAges(series(step, 2000, 2000), 0, 10*time.Minute),
			queueRules{degradedDepth: 1000, maxAge: 5 * time.Minute, window: 5 * time.Minute},
			probe.StatusDown, probe.ReasonThreshold, "q: 2,000 items, oldest 10m, steady — oldest older than max_age (5m); at or over degraded_depth (1,000)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.w[len(tt.w)-1].at
			st := queueStats(tt.w)
			v := judgeQueue(tt.w, st, tt.rules, now)
			if v.status != tt.status || v.reason != tt.reason {
				t.Errorf("verdict = %s/%q, want %s/%q (findings %q)", v.status, v.reason, tt.status, tt.reason, v.findings)
			}
			msg := v.message("q", st)
			if want, ok := strings.CutPrefix(tt.msg, "…"); ok {
				if !strings.Contains(msg, want) {
					t.Errorf("message = %q, want it to contain %q", msg, want)
				}
			} else if msg != tt.msg {
				t.Errorf("message = %q\nwant      %q", msg, tt.msg)
			}
		})
	}
}

func consumersAt(w []queuePoint, n int) []queuePoint {
	for i := range w {
		w[i].Consumers = &n
	}
	return w
}

// TestStalledNeedsHistory checks that the stall rule waits until the window
// reaches stall_after back, and fires from then on.
func TestStalledNeedsHistory(t *testing.T) {
	t.Parallel()
	const step = 10 * time.Second
	w := series(step, repeat(3, 20)...)
	for n := 1; n <= len(w); n++ {
		now := w[n-1].at
		_, got := stalled(w[:n], time.Minute, now)
		want := now.Sub(trendT0) >= time.Minute
		if got != want {
			t.Errorf("after %s: stalled = %v, want %v", now.Sub(trendT0), got, want)
		}
	}
}

func TestSlope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		w    []queuePoint
		want float64
		ok   bool
	}{
		{"none", nil, 0, false},
		{"one", series(time.Second, 5), 0, false},
		{"same time", []queuePoint{{at: trendT0}, {at: trendT0, QueueSample: QueueSample{Depth: 3}}}, 0, false},
		{"line", series(2*time.Second, 0, 10, 20, 30), 5, true},
		{"falling", series(time.Second, 30, 20, 10), -10, true},
		{"noisy", series(time.Second, 0, 12, 18, 30), 9.6, true},
	}
	for _, tt := range tests {
		got, ok := slope(tt.w)
		if ok != tt.ok || (ok && !near(got, tt.want, 1e-9)) {
			t.Errorf("%s: slope = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestTrendRun: the rate follows a turn of the depth once the new
// direction has held for two steps, and only then.
func TestTrendRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		w     []queuePoint
		first float64 // the depth the run starts at
	}{
		{"short", series(time.Second, 5, 9), 5},
		{"one way", series(time.Second, 0, 10, 20, 30), 0},
		{"flat steps continue a run", series(time.Second, 0, 10, 10, 20), 0},
		{"a turn one step old", series(time.Second, 0, 10, 20, 30, 25), 0},
		{"a drain after a stall", series(time.Second, 0, 10, 20, 30, 25, 15), 30},
		{"a drain with a flat step", series(time.Second, 0, 10, 20, 30, 30, 25, 15), 30},
		{"growth after a drain", series(time.Second, 30, 20, 10, 15, 20), 10},
		{"noise", series(time.Second, 5, 7, 4, 6, 5, 7), 5},
		{"ends flat", series(time.Second, 0, 10, 20, 20), 0},
	}
	for _, tt := range tests {
		if got := trendRun(tt.w); got[0].Depth != tt.first {
			t.Errorf("%s: the run starts at %v, want %v", tt.name, got[0].Depth, tt.first)
		}
	}
	// The figures of a queue draining after a stall say so at once.
	st := queueStats(series(2*time.Second, 100, 200, 300, 300, 250, 200))
	if st.RatePerSecond == nil || *st.RatePerSecond != -25 || st.DrainETA == nil || *st.DrainETA != 8*time.Second {
		t.Errorf("after a stall: rate %v, eta %v; want -25/s, 8s", ptrVal(st.RatePerSecond), st.DrainETA)
	}
}

func near(got, want, tol float64) bool {
	d := got - want
	return d <= tol && d >= -tol
}

func TestPruneAndThin(t *testing.T) {
	t.Parallel()
	w := series(time.Minute, repeat(1, 10)...) // 0..9 minutes
	now := w[9].at
	got := prune(w, now, 5*time.Minute)
	// Samples at 4..9 minutes are in the window, the one at 3 is the anchor.
	if len(got) != 7 || !got[0].at.Equal(trendT0.Add(3*time.Minute)) {
		t.Errorf("prune kept %d samples from %s, want 7 from 3m", len(got), got[0].at.Sub(trendT0))
	}
	// An anchor older than two windows goes.
	w = series(11*time.Minute, 1, 2)
	if got := prune(w, w[1].at, 5*time.Minute); len(got) != 1 {
		t.Errorf("prune kept a stale anchor: %d samples", len(got))
	}

	// Thinning drops samples between their neighbours first, so every
	// fall stays; then the oldest.
	w = series(time.Second, 5, 6, 7, 3, 4, 4, 9)
	for _, want := range []string{"[5 7 3 4 4 9]", "[5 7 3 4 9]", "[5 7 3 9]", "[7 3 9]"} {
		w = thin(w)
		var depths []float64
		for _, p := range w {
			depths = append(depths, p.Depth)
		}
		if got := fmt.Sprint(depths); got != want {
			t.Errorf("thinned to %s, want %s", got, want)
		}
	}
}
