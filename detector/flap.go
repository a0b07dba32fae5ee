package detector

import "github.com/tocsin/tocsin/probe"

// Flap detection defaults: Nagios' service defaults.
const (
	// DefaultFlapLow is the percent state change below which a flapping
	// check stops flapping.
	DefaultFlapLow = 20.0
	// DefaultFlapHigh is the percent state change above which a check starts
	// flapping.
	DefaultFlapHigh = 30.0
	// minFlapResults is how many results a check needs before it can be
	// called flapping: a few early changes say little.
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
func FlapPercent(results []probe.Result) float64 {
	results = results[max(0, len(results)-historySize):]
	m := len(results) - 1 // possible transitions
	if m < 1 {
		return 0
	}
	if m == 1 {
		if results[0].Status != results[1].Status {
			return 100
		}
		return 0
	}
	// Weight i of m is 0.8 + 0.4·i/(m-1) = 0.4·(2(m-1)+i)/(m-1). Summing
	// the integers 2(m-1)+i keeps the result exact: 100 for a window that
	// changes every time, so that a high threshold of 100 is never passed.
	sum := 0
	for i := 1; i < len(results); i++ {
		if results[i].Status != results[i-1].Status {
			sum += 2*(m-1) + i - 1
		}
	}
	return flapWeightStep * 100 * float64(sum) / float64((m-1)*m)
}

// updateFlap recomputes the flap percent after a result and applies the
// hysteresis: flapping starts above the high threshold and stops below the
// low one.
func (st *checkState) updateFlap() {
	st.flapPercent = FlapPercent(st.recent)
	low, high := st.spec.FlapLow, st.spec.FlapHigh
	if low <= 0 {
		low = DefaultFlapLow
	}
	if high <= 0 {
		high = DefaultFlapHigh
	}
	switch {
	case !st.flapping && len(st.recent) >= minFlapResults && st.flapPercent > high:
		st.flapping = true
	case st.flapping && st.flapPercent < low:
		st.flapping = false
	}
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
		if s := statusOfResult(r.Status); worst == Unknown || rank(s) > rank(worst) {
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
func (st *checkState) firstBad() (r probe.Result, ok bool) {
	for _, r := range st.recent {
		if r.Status == probe.StatusDown || r.Status == probe.StatusDegraded {
			return r, true
		}
	}
	return probe.Result{}, false
}
