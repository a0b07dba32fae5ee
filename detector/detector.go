// Package detector turns probe results into confirmed check states and
// component statuses. It is pure logic: no I/O, no clock reads, no goroutines,
// and it is not safe for concurrent use — its owner serialises calls.
package detector

import (
	"math"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// CheckStatus is a check's confirmed state.
type CheckStatus string

// Confirmed check states.
const (
	Unknown  CheckStatus = "unknown"
	Up       CheckStatus = "up"
	Degraded CheckStatus = "degraded"
	Down     CheckStatus = "down"
)

// CheckStatuses lists every confirmed state.
func CheckStatuses() []CheckStatus {
	return []CheckStatus{Up, Degraded, Down, Unknown}
}

// historySize is how many recent results a check keeps: the 21-result flap
// window.
const historySize = 21

// Spec is what the detector needs to know about a check.
type Spec struct {
	Name      string
	Component string
	// Impact is the component status while this check is down: PartialOutage
	// or MajorOutage.
	Impact           ComponentStatus
	FailureThreshold int
	SuccessThreshold int
	// FlapLow and FlapHigh are the flap thresholds in percent state change
	// (see FlapPercent); 0 means DefaultFlapLow and DefaultFlapHigh.
	FlapLow  float64
	FlapHigh float64
}

// Sample is what a check keeps of each recent result: enough for flap
// detection, bad runs and the recent list of /api/v1/checks, in 16 bytes.
// The full result (message, phases, queue figures) is kept for the latest
// only: 21 of those per check were most of a 50,000-check replica's heap
// (issue 14), and so were 21 samples of strings and times (64 bytes each).
// The engine and every replica's read model hold 21 samples of every
// check: 24-byte samples were 50 MB at 50,000 checks.
type Sample struct {
	start  int64 // Unix nanoseconds; 0: none
	micros int32 // the duration in whole microseconds, as /api/v1/checks shows it
	status uint8 // statusCode
	reason uint8 // reasonCode
}

// NewSample is the sample of a result with these fields. The duration is
// kept to the microsecond, within ±35 minutes (any probe's timeout).
func NewSample(start time.Time, d time.Duration, st probe.Status, reason probe.Reason) Sample {
	us := math.Round(float64(d) / float64(time.Microsecond))
	s := Sample{micros: int32(max(math.MinInt32, min(math.MaxInt32, us))), status: statusCode(st), reason: reasonCode(reason)}
	if !start.IsZero() {
		s.start = start.UnixNano()
	}
	return s
}

// SampleOf is what a check keeps of r once a newer result came.
func SampleOf(r probe.Result) Sample { return NewSample(r.Start, r.Duration, r.Status, r.Reason) }

// Start is when the probe started, in UTC (zero if unknown).
func (s Sample) Start() time.Time {
	if s.start == 0 {
		return time.Time{}
	}
	return time.Unix(0, s.start).UTC()
}

// Duration is how long the probe took.
func (s Sample) Duration() time.Duration { return time.Duration(s.micros) * time.Microsecond }

// Status is the probe's verdict.
func (s Sample) Status() probe.Status { return statusOf(s.status) }

// Reason is why the probe was not up ("" when it was).
func (s Sample) Reason() probe.Reason { return reasonOf(s.reason) }

// Samples is SampleOf of each of rs, in order.
func Samples(rs []probe.Result) []Sample {
	out := make([]Sample, len(rs))
	for i, r := range rs {
		out[i] = SampleOf(r)
	}
	return out
}

// Check is a copy of one check's state, safe to hand to readers.
type Check struct {
	Spec
	Status CheckStatus
	// Since is when Status was confirmed (zero while unknown).
	Since time.Time
	// BadSince is when the current run of bad results began (zero if the last
	// result was up): an incident's retroactive start.
	BadSince time.Time
	// Last is the latest result; Recent holds up to 21 results, oldest
	// first, the latest included. Recent is shared and must not be
	// modified.
	Last   probe.Result
	Recent []Sample
	// Streak counts consecutive results equal to Last.Status.
	Streak int
	// Flapping is true while the check flaps; Status is then held at the
	// worst state among Recent. FlapPercent is the latest percent state
	// change (see FlapPercent).
	Flapping    bool
	FlapPercent float64
	// Base is what the threshold machine says, and Runs its counters;
	// Status differs from Base only while the check flaps. With them a
	// Check holds everything the detector knows, so another replica can
	// continue from it (Restore).
	Base CheckStatus
	Runs Runs
}

// Runs are the threshold machine's counters of consecutive results.
type Runs struct {
	Down    int // down
	Bad     int // degraded or down
	Up      int // up
	NotDown int // up or degraded
}

// Change reports a confirmed state change of one check, a start or stop of
// its flapping, or both.
type Change struct {
	Check string
	From  CheckStatus
	To    CheckStatus
	// WasFlapping and Flapping are the flap state before and after the
	// result: flapping started or stopped when they differ.
	WasFlapping bool
	Flapping    bool
}

type checkState struct {
	spec Spec
	// status is the confirmed state; base is what the threshold machine
	// says. They differ only while the check flaps.
	status   CheckStatus
	base     CheckStatus
	since    time.Time
	badSince time.Time
	runs     Runs
	recent   []Sample
	last     probe.Result
	flapping bool
	// flapPercent is the percent state change after the latest result.
	flapPercent float64
}

// Detector holds the state of every configured check.
type Detector struct {
	checks      map[string]*checkState
	byComponent map[string][]*checkState
}

// New returns a detector with no checks.
func New() *Detector {
	return &Detector{checks: map[string]*checkState{}, byComponent: map[string][]*checkState{}}
}

// Configure sets the checks. Existing checks keep their state (new
// thresholds apply from their next result); removed checks are forgotten.
func (d *Detector) Configure(specs []Spec) {
	next := make(map[string]*checkState, len(specs))
	byComponent := map[string][]*checkState{}
	for _, s := range specs {
		st, ok := d.checks[s.Name]
		if !ok {
			st = &checkState{status: Unknown, base: Unknown}
		}
		st.spec = s
		next[s.Name] = st
		byComponent[s.Component] = append(byComponent[s.Component], st)
	}
	d.checks, d.byComponent = next, byComponent
}

// Observe applies one result of the named check at time now. It reports the
// confirmed change or the start or stop of flapping, if any; unknown checks
// are ignored.
func (d *Detector) Observe(name string, r probe.Result, now time.Time) (Change, bool) {
	st, ok := d.checks[name]
	if !ok {
		return Change{}, false
	}
	st.record(r)
	st.base = st.next()
	wasFlapping := st.flapping
	st.updateFlap()
	next := st.held()
	if next == st.status && wasFlapping == st.flapping {
		return Change{}, false
	}
	ch := Change{Check: name, From: st.status, To: next, WasFlapping: wasFlapping, Flapping: st.flapping}
	if next != st.status {
		st.status, st.since = next, now
	}
	return ch, true
}

func (st *checkState) record(r probe.Result) {
	// Copy on write: snapshots share the old slice with readers, so it is
	// never modified in place.
	keep := st.recent[max(0, len(st.recent)-historySize+1):]
	next := make([]Sample, 0, len(keep)+1)
	st.recent = append(append(next, keep...), SampleOf(r))
	st.last = r
	n := &st.runs
	switch r.Status {
	case probe.StatusDown:
		n.Down++
		n.Bad++
		n.Up, n.NotDown = 0, 0
	case probe.StatusDegraded:
		n.Down, n.Up = 0, 0
		n.Bad++
		n.NotDown++
	default:
		n.Down, n.Bad = 0, 0
		n.Up++
		n.NotDown++
	}
	switch n.Bad {
	case 0:
		st.badSince = time.Time{}
	case 1:
		st.badSince = r.Start
	}
}

// next is the confirmed state after the latest result. Getting worse needs
// failure_threshold results at least that bad; getting better needs
// success_threshold results at least that good. A check starts up on its
// first good result: there is nothing to recover from yet.
func (st *checkState) next() CheckStatus {
	f, s := st.thresholds()
	cur, n := st.base, st.runs
	switch {
	case n.Down >= f:
		return Down
	case n.Bad >= f && (cur == Unknown || cur == Up):
		return Degraded
	case cur == Unknown && n.Up >= 1:
		return Up
	case (cur == Down || cur == Degraded) && n.Up >= s:
		return Up
	case cur == Down && n.NotDown >= s:
		return Degraded
	}
	return cur
}

// Spec returns the named check's spec, if the check is configured.
func (d *Detector) Spec(name string) (Spec, bool) {
	st, ok := d.checks[name]
	if !ok {
		return Spec{}, false
	}
	return st.spec, true
}

// Check returns a copy of the named check's state.
func (d *Detector) Check(name string) (Check, bool) {
	st, ok := d.checks[name]
	if !ok {
		return Check{}, false
	}
	return st.snapshot(), true
}

// Checks returns a copy of every check's state, in no particular order.
func (d *Detector) Checks() []Check {
	out := make([]Check, 0, len(d.checks))
	for _, st := range d.checks {
		out = append(out, st.snapshot())
	}
	return out
}

func (st *checkState) snapshot() Check {
	c := Check{Spec: st.spec, Status: st.status, Since: st.since, BadSince: st.badSince,
		Recent:   st.recent, // never written in place: see record
		Flapping: st.flapping, FlapPercent: st.flapPercent, Base: st.base, Runs: st.runs}
	if n := len(st.recent); n > 0 {
		c.Last = st.last
		for i := n - 1; i >= 0 && st.recent[i].Status() == c.Last.Status; i-- {
			c.Streak++
		}
	}
	return c
}

// Restore sets the named check's state to c, as another replica published
// it: the check continues from there (its own spec stays). It reports
// false for a check that is not configured or belongs to another
// component now.
func (d *Detector) Restore(c Check) bool {
	st, ok := d.checks[c.Name]
	if !ok || st.spec.Component != c.Component {
		return false
	}
	status, base := c.Status, c.Base
	if status == "" {
		status = Unknown
	}
	if base == "" {
		base = status
	}
	*st = checkState{spec: st.spec, status: status, base: base, since: c.Since, badSince: c.BadSince,
		runs: c.Runs, recent: c.Recent[max(0, len(c.Recent)-historySize):], last: c.Last,
		flapping: c.Flapping, flapPercent: c.FlapPercent}
	return true
}

// Reset forgets the named check's state: it is unknown until its next
// result (its component moved to another replica, which judges it now).
func (d *Detector) Reset(name string) {
	if st, ok := d.checks[name]; ok {
		*st = checkState{spec: st.spec, status: Unknown, base: Unknown}
	}
}
