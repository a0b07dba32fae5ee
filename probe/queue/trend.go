package queue

import (
	"fmt"
	"strings"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// headTolerance absorbs the jitter between a sample's time and the clock
// reading its source took for ages (microseconds for our sources): an
// oldest item whose age grew by the time between two samples, within this,
// is still the same item.
const headTolerance = 50 * time.Millisecond

// queueRules are the verdict settings of a queue check; zero turns a rule off.
type queueRules struct {
	degradedDepth float64
	downDepth     float64
	maxAge        time.Duration
	stallAfter    time.Duration
	minConsumers  int
	window        time.Duration
}

// queueFinding is one rule that fired.
type queueFinding struct {
	status probe.Status
	reason probe.Reason
	text   string
}

// queueVerdict is the judgement of a window: the worst finding's status and
// reason, and every finding's text as evidence.
type queueVerdict struct {
	status   probe.Status
	reason   probe.Reason
	findings []string
}

// message is the result message: the figures, then what fired.
func (v queueVerdict) message(name string, st probe.QueueStats) string {
	msg := Format(name, st)
	if len(v.findings) > 0 {
		msg += " — " + strings.Join(v.findings, "; ")
	}
	return msg
}

// judgeQueue applies the rules to a window (oldest first, the last sample
// taken at now) and the stats computed from it. The worst finding wins; of
// equally bad ones the first in this order gives the reason: down_depth,
// max_age, min_consumers, stalled, growing, degraded_depth.
//
// Stalled (down): depth > 0 and not draining for stall_after — across every
// sample since stall_after ago (the window must reach that far back) the
// depth never fell and, where the source knows the oldest item's age, the
// oldest item stayed the same (its age grew with the clock). The second
// condition keeps a queue whose consumers keep pace with its producers, so
// that its depth sits still, from looking stalled.
//
// Growing (degraded): at least three samples spanning at least half the
// window, the depth never falling from one to the next, and higher at the
// end than at the start.
func judgeQueue(w []queuePoint, st probe.QueueStats, r queueRules, now time.Time) queueVerdict {
	var fs []queueFinding
	add := func(s probe.Status, reason probe.Reason, format string, args ...any) {
		fs = append(fs, queueFinding{s, reason, fmt.Sprintf(format, args...)})
	}
	overDown := r.downDepth > 0 && st.Depth >= r.downDepth
	if overDown {
		add(probe.StatusDown, probe.ReasonThreshold, "at or over down_depth (%s)", formatCount(r.downDepth))
	}
	if r.maxAge > 0 && st.OldestAge != nil && *st.OldestAge > r.maxAge {
		add(probe.StatusDown, probe.ReasonThreshold, "oldest older than max_age (%s)", formatAge(r.maxAge))
	}
	if r.minConsumers > 0 && st.Consumers != nil && *st.Consumers < r.minConsumers {
		add(probe.StatusDown, probe.ReasonThreshold, "%s (want at least %d)", probe.Plural(*st.Consumers, "consumer"), r.minConsumers)
	}
	if span, ok := stalled(w, r.stallAfter, now); ok {
		add(probe.StatusDown, probe.ReasonStalled, "not draining for %s", formatAge(span))
	}
	if span, ok := growing(w, r.window); ok {
		add(probe.StatusDegraded, probe.ReasonThreshold, "growing for %s without falling", formatAge(span))
	}
	if !overDown && r.degradedDepth > 0 && st.Depth >= r.degradedDepth {
		add(probe.StatusDegraded, probe.ReasonThreshold, "at or over degraded_depth (%s)", formatCount(r.degradedDepth))
	}
	v := queueVerdict{status: probe.StatusUp}
	for _, f := range fs {
		if f.status.Rank() > v.status.Rank() {
			v.status, v.reason = f.status, f.reason
		}
		v.findings = append(v.findings, f.text)
	}
	return v
}

// stalled reports whether the queue has not drained for stallAfter, and
// over how long it has been watched doing so (see judgeQueue). It is false
// while the window does not yet reach stallAfter back.
func stalled(w []queuePoint, stallAfter time.Duration, now time.Time) (time.Duration, bool) {
	if stallAfter <= 0 || len(w) < 2 {
		return 0, false
	}
	from := -1
	for i := len(w) - 1; i >= 0; i-- {
		if !w[i].at.After(now.Add(-stallAfter)) {
			from = i
			break
		}
	}
	if from < 0 {
		return 0, false // too short a history to tell
	}
	for i := from; i < len(w); i++ {
		if w[i].Depth <= 0 {
			return 0, false
		}
		if i > from && (w[i].Depth < w[i-1].Depth || headMoved(w[i-1], w[i])) {
			return 0, false
		}
	}
	return now.Sub(w[from].at), true
}

// headMoved reports whether the oldest item changed between a and b: its
// age grew by less than the time between them, so it is a newer item. False
// when either sample lacks the age.
func headMoved(a, b queuePoint) bool {
	if a.OldestAge == nil || b.OldestAge == nil {
		return false
	}
	return *b.OldestAge+headTolerance < *a.OldestAge+b.at.Sub(a.at)
}

// growing reports whether the depth grew without ever falling across the
// window, and over how long (see judgeQueue).
func growing(w []queuePoint, window time.Duration) (time.Duration, bool) {
	if len(w) < 3 {
		return 0, false
	}
	span := w[len(w)-1].at.Sub(w[0].at)
	if span < window/2 {
		return 0, false
	}
	for i := 1; i < len(w); i++ {
		if w[i].Depth < w[i-1].Depth {
			return 0, false
		}
	}
	return span, w[len(w)-1].Depth > w[0].Depth
}
