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
	marks   map[string]mark
	pending Batch
}

type mark struct {
	at     time.Time
	status detector.ComponentStatus
}

// NewRecorder returns a Recorder bucketing days in loc (UTC if nil).
func NewRecorder(loc *time.Location) *Recorder {
	if loc == nil {
		loc = time.UTC
	}
	return &Recorder{loc: loc, marks: map[string]mark{}, pending: Batch{}}
}

// SetLocation changes the time zone of later buckets.
func (r *Recorder) SetLocation(loc *time.Location) {
	if loc != nil {
		r.loc = loc
	}
}

// CheckResult counts one result of a check.
func (r *Recorder) CheckResult(name string, s probe.Status, at time.Time) {
	r.pending[Bucket{KindCheck, name, at.In(r.loc).Format(dateLayout), string(s)}]++
}

// Component records that component id is in status s at at: the time since
// its previous observation is credited to the status it had then, split at
// midnight. known false (no result yet) stops the clock.
func (r *Recorder) Component(id string, s detector.ComponentStatus, known bool, at time.Time) {
	prev, ok := r.marks[id]
	if !known {
		delete(r.marks, id)
	} else {
		r.marks[id] = mark{at, s}
	}
	if !ok || !at.After(prev.at) || at.Sub(prev.at) > MaxGap {
		return
	}
	from := prev.at
	for from.Before(at) {
		next := Midnight(from, r.loc).AddDate(0, 0, 1)
		to := at
		if next.Before(at) {
			to = next
		}
		if ms := to.Sub(from).Milliseconds(); ms > 0 {
			r.pending[Bucket{KindComponent, id, from.In(r.loc).Format(dateLayout), string(prev.status)}] += ms
		}
		from = to
	}
}

// Forget drops a component's clock (it left the config).
func (r *Recorder) Forget(id string) { delete(r.marks, id) }

// Take returns everything accumulated since the last Take and starts afresh.
// While nothing is taken (the store is away) the counts keep adding up in
// place: memory grows by at most a day's buckets per day.
func (r *Recorder) Take() Batch {
	if len(r.pending) == 0 {
		return nil
	}
	b := r.pending
	r.pending = Batch{}
	return b
}
