// Package maintenance computes when configured maintenance windows are in
// effect: fixed windows (start and end) and recurring ones (a cron
// expression for the start, a duration and a time zone). It reads no clock:
// every answer is relative to the time passed in.
package maintenance

import (
	"slices"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tocsin/tocsin/config"
)

// Window is one occurrence of a maintenance window: [Start, End).
type Window struct {
	Name       string
	Components []string
	Message    string
	Start      time.Time
	End        time.Time
	// Recurring is true for an occurrence of a cron window.
	Recurring bool
}

// Covers reports whether the occurrence covers component at now.
func (w Window) Covers(component string, now time.Time) bool {
	return !now.Before(w.Start) && now.Before(w.End) && slices.Contains(w.Components, component)
}

// Active returns the window that puts component under maintenance at now,
// if any. When several do, the one that started last wins.
func Active(ms []config.Maintenance, component string, now time.Time) (Window, bool) {
	var best Window
	found := false
	for _, m := range ms {
		if !slices.Contains(m.Components, component) {
			continue
		}
		if _, cur, _ := Occurrences(m, now); cur != nil && (!found || cur.Start.After(best.Start)) {
			best, found = *cur, true
		}
	}
	return best, found
}

// Occurrences places now relative to m. cur is the occurrence in progress at
// now (Start <= now < End), prev the latest one that has ended (End <= now)
// and next the first that starts after now; each is nil if there is none. A
// fixed window fills exactly one of the three. A recurring window whose cron
// expression or time zone does not parse (Validate rejects both) has none.
//
// A recurring occurrence starts at a time the cron expression matches on the
// wall clock of the window's time zone (UTC if empty) and lasts Duration of
// elapsed time, so a window may cross midnight and a DST change. Starts that
// fall in a skipped hour of a DST change do not happen that day; a start in
// a repeated hour happens twice (as github.com/robfig/cron schedules).
func Occurrences(m config.Maintenance, now time.Time) (prev, cur, next *Window) {
	if m.Cron == "" {
		w := window(m, m.Start, m.End, false)
		switch {
		case now.Before(m.Start):
			return nil, nil, w
		case now.Before(m.End):
			return nil, w, nil
		}
		return w, nil, nil
	}
	sched, ok := schedule(m)
	if !ok || m.Duration <= 0 {
		return nil, nil, nil
	}
	// The latest start at or before now is the only one that can still be
	// in progress: every occurrence lasts the same.
	if s := lastAtOrBefore(sched, now); !s.IsZero() && now.Before(s.Add(m.Duration)) {
		cur = window(m, s, s.Add(m.Duration), true)
	}
	if s := lastAtOrBefore(sched, now.Add(-m.Duration)); !s.IsZero() {
		prev = window(m, s, s.Add(m.Duration), true)
	}
	if s := sched.Next(now); !s.IsZero() {
		next = window(m, s, s.Add(m.Duration), true)
	}
	return prev, cur, next
}

func window(m config.Maintenance, start, end time.Time, recurring bool) *Window {
	return &Window{
		Name: m.Name, Components: m.Components, Message: m.Message,
		Start: start, End: end, Recurring: recurring,
	}
}

// maxLookback bounds the search for an earlier start; cron's own search
// forward gives up after five years too.
const maxLookback = 5 * 366 * 24 * time.Hour

// lastAtOrBefore returns the latest time sched matches that is not after t,
// or the zero time if there is none within maxLookback. cron only searches
// forward, so this finds a span (lo, t] that holds a match, doubling it from
// a minute, then halves the span until Next(lo) is the last match in it.
func lastAtOrBefore(sched cron.Schedule, t time.Time) time.Time {
	span := time.Minute
	lo := t.Add(-span)
	for {
		if n := sched.Next(lo); !n.IsZero() && !n.After(t) {
			break
		}
		if span >= maxLookback {
			return time.Time{}
		}
		span *= 2
		lo = t.Add(-span)
	}
	// Invariant: Next(lo) <= t, so there is a match in (lo, t].
	for {
		f := sched.Next(lo)
		if n := sched.Next(f); n.IsZero() || n.After(t) {
			return f
		}
		mid := lo.Add(t.Sub(lo) / 2)
		if n := sched.Next(mid); !n.IsZero() && !n.After(t) {
			lo = mid
		} else {
			// No match in (mid, t]: the last one is in (lo, mid].
			t = mid
		}
	}
}

// schedule is the window's cron schedule in its zone: parsed by config.Load
// once, or here for a Maintenance built by hand (tests).
func schedule(m config.Maintenance) (cron.Schedule, bool) {
	if s := m.Schedule(); s != nil {
		return s, true
	}
	loc, err := time.LoadLocation(m.TimeZone) // "" is UTC
	if err != nil {
		return nil, false
	}
	parsed, err := config.ParseCron(m.Cron)
	if err != nil {
		return nil, false
	}
	parsed.Location = loc
	return parsed, true
}
