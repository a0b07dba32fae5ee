package detector

import "github.com/tocsin/tocsin/probe"

// Flap detection defaults, in percent state change (see FlapPercent).
const (
	// DefaultFlapLow is the percent state change a flapping check must fall
	// below, with at most one change among its recent results, to stop
	// flapping. 5 is Nagios' service default: below it the one change left
	// must be at least 11 results old, so the check has agreed with itself
	// for at least 11 results.
	DefaultFlapLow = 5.0
	// DefaultFlapHigh is the percent state change above which a check starts
	// flapping. Nagios' services use 20; at 20 two one-result blips within
	// 21 results would already pass it and, held at their worst, open a
	// public incident that failure_threshold exists to prevent. At 30 it
	// takes three. Failures long enough to confirm that come back after a
	// recovery are caught sooner by the relapse rule (see relapsed).
	DefaultFlapHigh = 30.0
	// minFlapResults is how many results a check needs before its percent
	// state change can make it flap: a few early changes say little.
	minFlapResults = 10
	// flapWeightStep is how much transition weights grow from the oldest
	// (0.8 = 2 steps) to the newest (1.2 = 3 steps), so recent changes
	// count more (Nagios' low and high curve values).
	flapWeightStep = 0.4
)

// FlapPercent is the weighted percent state change of the last 21 results,
// oldest first, as Nagios computes it: every change of status between two
// consecutive results counts with a weight rising linearly from 0.8 (oldest
// transition) to 1.2 (newest), and the sum is divided by the number of
// possible transitions (the weights average 1). With fewer than 21 results
// the weights spread over the transitions there are; fewer than 2 results
// give 0.
func FlapPercent(results []Sample) float64 {
	results = results[max(0, len(results)-historySize):]
	m := len(results) - 1 // possible transitions
	if m < 1 {
		return 0
	}
	if m == 1 {
		if results[0].Status() != results[1].Status() {
			return 100
		}
		return 0
	}
	// Weight i of m is 0.8 + 0.4·i/(m-1) = 0.4·(2(m-1)+i)/(m-1). Summing
	// the integers 2(m-1)+i keeps the result exact: 100 for a window that
	// changes every time, so that a high threshold of 100 is never passed.
	sum := 0
	for i := 1; i < len(results); i++ {
		if results[i].Status() != results[i-1].Status() {
			sum += 2*(m-1) + i - 1
		}
	}
	return flapWeightStep * 100 * float64(sum) / float64((m-1)*m)
}

// updateFlap recomputes the flap percent after a result and applies the
// hysteresis. A check starts flapping when, with at least 10 results, its
// percent state change is above the high threshold and its window holds
// two failures or more (badRuns), or when its results relapsed (see
// relapsed). It stops when it is steady: its last 21 results
// hold at most one change of status and their percent is below the low
// threshold. Steady implies neither start condition holds, so the two never
// fight; and as long as failures keep coming back within 21 results there
// are two changes in the window and the hold stays, whatever the percent.
func (st *checkState) updateFlap() {
	st.flapPercent = FlapPercent(st.recent)
	low, high := st.spec.FlapLow, st.spec.FlapHigh
	if low <= 0 {
		low = DefaultFlapLow
	}
	if high <= 0 {
		high = DefaultFlapHigh
	}
	f, s := st.thresholds()
	switch {
	case !st.flapping && len(st.recent) >= minFlapResults && st.flapPercent > high && badRuns(st.recent) >= 2:
		st.flapping = true
	case !st.flapping && relapsed(st.recent, f, s):
		st.flapping = true
	case st.flapping && st.flapPercent < low && changes(st.recent) <= 1:
		st.flapping = false
	}
}

// badRuns counts the runs of bad results (degraded or down) in the last 21
// results: one outage and its recovery, however its severity moved
// (degraded, then down), is not flapping, however few results the window
// holds. Seen in TestScenario4WorkersDieSilently under load: up×5,
// degraded, down, up×3 is three changes in ten results, over the high
// threshold, and the recovered incident was held at down for 21 results.
func badRuns(results []Sample) int {
	n, bad := 0, false
	for _, r := range results[max(0, len(results)-historySize):] {
		isBad := r.Status() == probe.StatusDown || r.Status() == probe.StatusDegraded
		if isBad && !bad {
			n++
		}
		bad = isBad
	}
	return n
}

// thresholds are the check's failure and success thresholds, at least 1.
func (st *checkState) thresholds() (f, s int) {
	return max(st.spec.FailureThreshold, 1), max(st.spec.SuccessThreshold, 1)
}

// relapsed reports whether results, oldest first, hold a failure, a
// recovery and the failure again, judged at one level (degraded or worse,
// or down): at least f results that bad (in a row or not: a failure broken
// by short recoveries still counts), later at least s results in a row
// better than it, and later min(f, 2) in a row as bad again.
//
// That is as early as a check that recovered (its incident went to
// monitoring) can be told to be failing again, and early enough that it
// does not recover once more: waiting for the threshold machine to confirm
// the new failure (f in a row), or for the percent state change to climb,
// let the first failure slide out of the 21-result window while bursts of
// a few results went on, and the incident looped monitoring ↔
// investigating. A single bad result is not enough: it is the blip that
// failure_threshold exists to ignore, and one timeout after an outage
// would send its incident back to investigating.
func relapsed(results []Sample, f, s int) bool {
	again := min(f, 2)
	for _, level := range []int{Degraded.Rank(), Down.Rank()} {
		phase, run := 0, 0
		for _, r := range results {
			bad := statusOfResult(r.Status()).Rank() >= level
			switch {
			case phase == 0 && bad:
				if run++; run >= f {
					phase, run = 1, 0
				}
			case phase == 0:
			case phase == 1 && bad:
				run = 0
			case phase == 1:
				if run++; run >= s {
					phase, run = 2, 0
				}
			case bad: // phase 2
				if run++; run >= again {
					return true
				}
			default:
				run = 0
			}
		}
	}
	return false
}

// changes counts the changes of status between consecutive results among
// the last 21.
func changes(results []Sample) int {
	results = results[max(0, len(results)-historySize):]
	n := 0
	for i := 1; i < len(results); i++ {
		if results[i].Status() != results[i-1].Status() {
			n++
		}
	}
	return n
}

// held is the confirmed state: what the threshold machine says, or, while
// the check flaps, the worst state among its recent results, so that an
// on/off target is held down instead of cycling.
func (st *checkState) held() CheckStatus {
	if !st.flapping {
		return st.base
	}
	worst := st.base
	for _, r := range st.recent {
		if s := statusOfResult(r.Status()); worst == Unknown || s.Rank() > worst.Rank() {
			worst = s
		}
	}
	return worst
}

func statusOfResult(s probe.Status) CheckStatus {
	switch s {
	case probe.StatusDown:
		return Down
	case probe.StatusDegraded:
		return Degraded
	}
	return Up
}

// firstBad is the start of the oldest bad result in the window: while a
// check flaps, its bad run may be broken by good results, yet the trouble
// began there.
func (st *checkState) firstBad() (r Sample, ok bool) {
	for _, r := range st.recent {
		if r.Status() == probe.StatusDown || r.Status() == probe.StatusDegraded {
			return r, true
		}
	}
	return Sample{}, false
}
