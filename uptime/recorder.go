package uptime

import (
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// MaxGap bounds the time credited between two observations of a component:
// a process that was stopped, suspended or starved of CPU for longer did not
// watch the component meanwhile.
const MaxGap = time.Minute

// Kind says whether a bucket belongs to a component or a check.
type Kind byte

const (
	// KindComponent buckets hold milliseconds spent in a component status.
	KindComponent Kind = 'c'
	// KindCheck buckets hold numbers of check results.
	KindCheck Kind = 'k'
)

// Bucket names one counter: a status of one component or check on one day
// (Date is "2006-01-02" in the page's time zone).
type Bucket struct {
	Kind   Kind
	ID     string
	Date   string
	Status string
}

// Batch holds counter increments: milliseconds for components, results for
// checks.
type Batch map[Bucket]int64

// Recorder accumulates uptime between writes. It is not safe for
// concurrent use: the engine calls it under its lock.
type Recorder struct {
	loc     *time.Location
	marks   map[string]*mark
	pending Batch
	// The day last looked up, [dayStart, dayEnd) named dayName: formatting
	// a date for each of thousands of components every second would
	// allocate under the engine's lock.
	dayStart, dayEnd time.Time
	dayName          string
}

// mark is a component's clock: when it was last observed and in which
// status, and the time credited since to one (day, status) that is not in
// pending yet. Crediting a component every second then costs one map
// lookup, not a map write keyed by three strings.
type mark struct {
	at     time.Time
	status detector.ComponentStatus
	run    time.Duration
	runDay string
	runSt  detector.ComponentStatus
}

// flushRunAfter is how much time a run gathers before Take hands it on:
// the history is read once a minute, so a few seconds' delay shows nowhere.
const flushRunAfter = 5 * time.Second

// NewRecorder returns a Recorder bucketing days in loc (UTC if nil).
func NewRecorder(loc *time.Location) *Recorder {
	if loc == nil {
		loc = time.UTC
	}
	return &Recorder{loc: loc, marks: map[string]*mark{}, pending: Batch{}}
}

// SetLocation changes the time zone of later buckets.
func (r *Recorder) SetLocation(loc *time.Location) {
	if loc != nil && loc != r.loc {
		r.loc = loc
		r.dayStart, r.dayEnd = time.Time{}, time.Time{}
	}
}

// day returns the name of t's day in the recorder's zone and when the next
// day starts.
func (r *Recorder) day(t time.Time) (string, time.Time) {
	if t.Before(r.dayStart) || !t.Before(r.dayEnd) {
		r.dayStart = Midnight(t, r.loc)
		r.dayEnd = r.dayStart.AddDate(0, 0, 1)
		r.dayName = r.dayStart.Format(DateLayout)
	}
	return r.dayName, r.dayEnd
}

// CheckResult counts one result of a check.
func (r *Recorder) CheckResult(name string, s probe.Status, at time.Time) {
	date, _ := r.day(at)
	r.pending[Bucket{KindCheck, name, date, string(s)}]++
}

// Component records that component id is in status s at at: the time since
// its previous observation is credited to the status it had then, split at
// midnight. known false (no result yet) stops the clock.
func (r *Recorder) Component(id string, s detector.ComponentStatus, known bool, at time.Time) {
	m := r.marks[id]
	if m == nil {
		if known {
			r.marks[id] = &mark{at: at, status: s}
		}
		return
	}
	if at.After(m.at) && at.Sub(m.at) <= MaxGap {
		for from := m.at; from.Before(at); {
			day, next := r.day(from)
			to := at
			if next.Before(at) {
				to = next
			}
			if m.run > 0 && (day != m.runDay || m.status != m.runSt) {
				r.flushRun(id, m)
			}
			m.run += to.Sub(from)
			m.runDay, m.runSt = day, m.status
			from = to
		}
	}
	m.at, m.status = at, s
	if !known {
		r.flushRun(id, m)
		delete(r.marks, id)
	}
}

// flushRun moves a component's run into pending, in whole milliseconds;
// the remainder stays in the run.
func (r *Recorder) flushRun(id string, m *mark) {
	if ms := m.run.Milliseconds(); ms > 0 {
		r.pending[Bucket{KindComponent, id, m.runDay, string(m.runSt)}] += ms
		m.run -= time.Duration(ms) * time.Millisecond
	}
}

// Forget drops a component's clock (it left the config), handing on what
// it had gathered.
func (r *Recorder) Forget(id string) {
	if m := r.marks[id]; m != nil {
		r.flushRun(id, m)
		delete(r.marks, id)
	}
}

// Drop discards what was gathered for the component id and the checks
// named, without handing it on, and stops its clock: another replica
// watched them meanwhile (its own pause, say, that this one would
// otherwise credit) and credited them itself.
func (r *Recorder) Drop(id string, checks []string) {
	delete(r.marks, id)
	drop := make(map[string]bool, len(checks))
	for _, c := range checks {
		drop[c] = true
	}
	for b := range r.pending {
		if (b.Kind == KindComponent && b.ID == id) || (b.Kind == KindCheck && drop[b.ID]) {
			delete(r.pending, b)
		}
	}
}

// Take returns everything accumulated since the last Take and starts afresh.
// While nothing is taken (the store is away) the counts keep adding up in
// place: memory grows by at most a day's buckets per day.
//
// A component's time within one status and day is handed on once it
// reaches flushRunAfter (or the status or day changes); TakeAll hands on
// everything, for a shutdown.
func (r *Recorder) Take() Batch { return r.take(flushRunAfter) }

// TakeAll is Take with every component's time up to now.
func (r *Recorder) TakeAll() Batch { return r.take(0) }

func (r *Recorder) take(minRun time.Duration) Batch {
	for id, m := range r.marks {
		if m.run > 0 && m.run >= minRun {
			r.flushRun(id, m)
		}
	}
	if len(r.pending) == 0 {
		return nil
	}
	b := r.pending
	r.pending = Batch{}
	return b
}
