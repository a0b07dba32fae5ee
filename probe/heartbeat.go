package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tocsin/tocsin/config"
)

// Heartbeat evaluates a pushed check: jobs report their runs (success,
// fail, start) to the heartbeat API, which stores them; each Probe reads the
// stored beats and judges them with Healthchecks.io's rules (see
// evalHeartbeat). It is built once per check by NewHeartbeat and is safe for
// concurrent use.
//
// When the beats cannot be read (Redis unreachable), Probe repeats the last
// verdict it could make, with a message saying the store is unreachable,
// and says "up" if it never read any. A store outage is tocsin's trouble,
// not the jobs': judging them down would open an incident for every cron
// job at once and page for each, while none of them is known to be broken —
// and no beat can be taken during the outage anyway (the API answers 503).
// The outage itself shows in /readyz and tocsin_store_errors_total, and
// incidents cannot be written meanwhile either. Re-judging the last beats
// read with a clock that moves on is not better: a long outage would turn
// every job "missed" because of tocsin's own failure.
type Heartbeat struct {
	name   string
	period time.Duration
	grace  time.Duration
	beats  BeatReader
	now    func() time.Time
	// since stands in for a missing first_seen (the check was never
	// touched, or Redis lost it): a check never beating is missed period +
	// grace after this prober was built, rather than never.
	since time.Time

	mu   sync.Mutex
	last *Result // last verdict from beats that could be read
}

var _ Prober = (*Heartbeat)(nil)

// NewHeartbeat builds the prober of heartbeat check name. o.Beats is
// required; o.Now is the clock (nil: time.Now).
func NewHeartbeat(name string, c config.HeartbeatCheck, o Options) (*Heartbeat, error) {
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("heartbeat: a check name is required"))
	}
	if o.Beats == nil {
		errs = append(errs, errors.New("heartbeat: no beat store (Options.Beats)"))
	}
	if c.Period <= 0 {
		errs = append(errs, errors.New("heartbeat.period: must be positive"))
	}
	if c.Grace < 0 {
		errs = append(errs, errors.New("heartbeat.grace: must not be negative"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	h := &Heartbeat{name: name, period: c.Period, grace: c.Grace, beats: o.Beats, now: o.Now}
	if h.now == nil {
		h.now = time.Now
	}
	h.since = h.now()
	return h, nil
}

// Probe reads the check's beats and judges them at the current time.
func (h *Heartbeat) Probe(ctx context.Context) Result {
	started := time.Now()
	res := Result{Start: h.now()}
	b, err := h.beats.Beats(ctx, h.name)
	res.Duration = time.Since(started)
	if err != nil {
		return h.storeDown(ctx, res, err)
	}
	if b.FirstSeen.IsZero() {
		b.FirstSeen = h.since
	}
	cfg := config.HeartbeatCheck{Period: h.period, Grace: h.grace}
	res.Status, res.Reason, res.Message = evalHeartbeat(b, cfg, res.Start)
	last := res
	h.mu.Lock()
	h.last = &last
	h.mu.Unlock()
	return res
}

// storeDown is the result when the beats cannot be read: the last verdict
// (or up), never a new failure; see Heartbeat.
func (h *Heartbeat) storeDown(ctx context.Context, res Result, err error) Result {
	reason, detail := Classify(ctx, err)
	unreachable := fmt.Sprintf("heartbeat store unreachable (%s: %s)", reason, detail)
	h.mu.Lock()
	last := h.last
	h.mu.Unlock()
	if last == nil {
		res.Status = StatusUp
		res.Message = Clip(unreachable + "; no beats read yet")
		return res
	}
	res.Status, res.Reason = last.Status, last.Reason
	res.Message = Clip(fmt.Sprintf("%s; last known at %s: %s", unreachable, clockTime(last.Start, res.Start), last.Message))
	return res
}

// evalHeartbeat judges a check's beats at now, with Healthchecks.io's rules:
//
//   - the latest report is a failure (fail not before success; a tie
//     counts as a failure) → down, fail;
//   - a run started (start after the latest success) and the check was not
//     overdue when it started: down, missed, once now − start > grace,
//     else up — a started run suspends the period deadline and gets the
//     grace to report back, as in Healthchecks;
//   - overdue — now > (latest success, or first_seen if none) + period +
//     grace → down, missed;
//   - otherwise up: on time, or new and still waiting for its first beat.
//
// Boundaries are inclusive: exactly period + grace (or grace after a start)
// is still up. It is pure: no I/O, no clock.
func evalHeartbeat(b Beats, c config.HeartbeatCheck, now time.Time) (Status, Reason, string) {
	s, f, st := b.LastSuccess, b.LastFail, b.LastStart
	if !f.IsZero() && !f.Before(s) {
		return StatusDown, ReasonFail, "the job reported failure at " + clockTime(f, now)
	}
	base := s
	if base.IsZero() {
		base = b.FirstSeen
	}
	deadline := base.Add(c.Period + c.Grace)
	overdue := !base.IsZero() && now.After(deadline)
	running := !st.IsZero() && st.After(s)
	if running && (base.IsZero() || !st.After(deadline)) {
		if now.Sub(st) > c.Grace {
			return StatusDown, ReasonMissed, fmt.Sprintf("run started at %s never finished (no report within the %s grace)",
				clockTime(st, now), shortDuration(c.Grace))
		}
		return StatusUp, ReasonNone, "running since " + clockTime(st, now)
	}
	var note string
	if running {
		note = "; a run started at " + clockTime(st, now)
	}
	expected := fmt.Sprintf("expected every %s (+%s grace)", shortDuration(c.Period), shortDuration(c.Grace))
	switch {
	case s.IsZero() && overdue:
		return StatusDown, ReasonMissed, fmt.Sprintf("no heartbeat since monitoring began at %s, %s%s",
			clockTime(b.FirstSeen, now), expected, note)
	case s.IsZero():
		return StatusUp, ReasonNone, "waiting for the first heartbeat"
	case overdue:
		return StatusDown, ReasonMissed, fmt.Sprintf("last heartbeat %s ago, %s%s",
			shortDuration(now.Sub(s)), expected, note)
	}
	return StatusUp, ReasonNone, fmt.Sprintf("last heartbeat %s ago", shortDuration(max(now.Sub(s), 0)))
}

// clockTime formats t for a message in UTC: the time of day, and the date
// too unless t is within a day of now.
func clockTime(t, now time.Time) string {
	t = t.UTC()
	if d := now.Sub(t); d < 24*time.Hour && d > -24*time.Hour {
		return t.Format("15:04:05 UTC")
	}
	return t.Format("2006-01-02 15:04:05 UTC")
}

// shortDuration is fmtDuration without zero tails: "1m", "1h", "3m10s".
func shortDuration(d time.Duration) string {
	s := fmtDuration(d)
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Beats is what is stored for a heartbeat check.
type Beats struct {
	// FirstSeen is when the check was first known; a check that never beat
	// is missed once period + grace have passed since then.
	FirstSeen   time.Time
	LastSuccess time.Time
	LastFail    time.Time
	LastStart   time.Time
	// LastLog and LogMessage are the latest message a job sent to /log;
	// a log changes no state, and the prober does not judge it.
	LastLog    time.Time
	LogMessage string
}

// BeatReader reads a heartbeat check's stored beats (Redis, so that any
// replica can take a beat and any can evaluate it).
type BeatReader interface {
	Beats(ctx context.Context, check string) (Beats, error)
}
