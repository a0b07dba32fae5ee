// Package uptime keeps daily availability buckets: for every component the
// time spent in each status per day, and for every check the number of
// results of each kind per day. The engine accumulates them in memory
// (Recorder) and writes them in one pipelined transaction per writer pass;
// the status page reads them back for its 90-day bars.
package uptime

import (
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// Days is how many days of history are kept and shown.
const Days = 90

// DateLayout names a day in the page's time zone.
const DateLayout = "2006-01-02"

// partialWeight is how much of a partial outage counts as downtime, as
// Statuspage weighs it: a major outage counts fully, a partial one at 30%.
const partialWeight = 0.3

// ComponentDay is one day of a component: milliseconds spent in each
// status while tocsin was watching.
type ComponentDay struct {
	Date   time.Time // midnight in the page's time zone
	Millis StatusMillis
}

// StatusMillis holds milliseconds per component status, indexed by the
// status's Rank. An array, not a map: every replica keeps 90 days of every
// component, and at 5,000 components a map per day was the largest part of
// the uptime history's memory (issue 14).
type StatusMillis [statusCount]int64

// statusCount is len(detector.ComponentStatuses()), whose ranks run from 0
// (TestStatusMillisCoversEveryStatus).
const statusCount = 5

// Of returns the milliseconds spent in s; 0 for an unknown status.
func (m StatusMillis) Of(s detector.ComponentStatus) int64 {
	if !s.Valid() {
		return 0
	}
	return m[s.Rank()]
}

// Set records ms for s; an unknown status is ignored.
func (m *StatusMillis) Set(s detector.ComponentStatus, ms int64) {
	if s.Valid() {
		m[s.Rank()] = ms
	}
}

// MillisOf makes a StatusMillis from a map; unknown statuses are ignored.
func MillisOf(m map[detector.ComponentStatus]int64) StatusMillis {
	var out StatusMillis
	for s, ms := range m {
		out.Set(s, ms)
	}
	return out
}

// Each calls fn for every status with time recorded, best first.
func (m StatusMillis) Each(fn func(s detector.ComponentStatus, ms int64)) {
	for _, s := range detector.ComponentStatuses() {
		if ms := m[s.Rank()]; ms > 0 {
			fn(s, ms)
		}
	}
}

// Observed reports whether anything was recorded that day.
func (d ComponentDay) Observed() bool {
	for _, ms := range d.Millis {
		if ms > 0 {
			return true
		}
	}
	return false
}

// Worst is the worst status seen that day; "" when nothing was recorded.
func (d ComponentDay) Worst() detector.ComponentStatus {
	var worst detector.ComponentStatus
	d.Millis.Each(func(s detector.ComponentStatus, _ int64) { worst = s }) // best first: the last is the worst
	return worst
}

// downtime returns the weighted downtime and the time that counts
// (everything watched outside maintenance), in milliseconds.
func (d ComponentDay) downtime() (down float64, counted int64) {
	for _, s := range detector.ComponentStatuses() {
		ms := d.Millis.Of(s)
		switch s {
		case detector.UnderMaintenance:
			continue
		case detector.MajorOutage:
			down += float64(ms)
		case detector.PartialOutage:
			down += partialWeight * float64(ms)
		}
		counted += ms
	}
	return down, counted
}

// Uptime is the share of the watched time the component was up (degraded
// counts as up, maintenance is left out); ok is false when there is no
// such time.
func (d ComponentDay) Uptime() (ratio float64, ok bool) {
	return Ratio([]ComponentDay{d})
}

// Ratio is Uptime over several days together, weighted by watched time.
func Ratio(days []ComponentDay) (ratio float64, ok bool) {
	var down float64
	var counted int64
	for _, d := range days {
		dn, c := d.downtime()
		down += dn
		counted += c
	}
	if counted == 0 {
		return 0, false
	}
	return 1 - down/float64(counted), true
}

// CheckDay is one day of a check: its results by status.
type CheckDay struct {
	Date   time.Time
	Counts map[probe.Status]int64
}

// Midnight is the start of t's day in loc.
func Midnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Range returns the n days ending with now's day, oldest first, each at
// midnight in loc.
func Range(now time.Time, n int, loc *time.Location) []time.Time {
	last := Midnight(now, loc)
	out := make([]time.Time, n)
	for i := range n {
		// AddDate keeps midnight across DST changes, unlike Add(24h).
		out[i] = last.AddDate(0, 0, i-n+1)
	}
	return out
}

// Write is one numbered batch of a writer (an engine), on behalf of the
// components its replica owns.
type Write struct {
	// Writer identifies the engine; Seq numbers its batches, increasing.
	Writer string
	Seq    uint64
	Batch  Batch
	// Member is the writer's replica and Tokens its grants, by component:
	// the buckets of a component it no longer owns are not added.
	Member string
	Tokens map[string]int64
	// CheckComponent names the component of each check in Batch.
	CheckComponent map[string]string
}

// WriteResult says what of a batch was not added.
type WriteResult struct {
	// Skipped counts hashes holding another type (written by someone else).
	Skipped int
	// Fenced counts hashes of components the writer no longer owns.
	Fenced int
	// OtherVantage counts hashes another vantage credits: with vantages,
	// one vantage writes each component's uptime (redisstore, uptime.lua).
	OtherVantage int
}
