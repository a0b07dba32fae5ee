package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// evidence is the body of an incident update: what changed, which checks
// say so, their errors and their figures (latency, queue depth, drain ETA),
// so a reader sees why without opening logs. Every failing check is named,
// worst first.
func evidence(comp config.Component, checks []*config.Check, v detector.Verdict, check func(string) (detector.Check, bool)) string {
	switch v.Status {
	case detector.Operational:
		return fmt.Sprintf("%s is operational again: all of its checks are passing.%s", comp.Name, figures(checks, check))
	case detector.UnderMaintenance:
		return fmt.Sprintf("%s is under scheduled maintenance.", comp.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s.", comp.Name, v.Status.Label())
	for _, f := range v.Failing {
		if c, ok := check(f.Check); ok {
			b.WriteString(" ")
			describe(&b, c)
		}
	}
	return b.String()
}

// describe writes one check's state: "Check x is down (reason: message);
// last probe took 1.2s; 3 bad results in a row since 10:02:03 UTC."
func describe(b *strings.Builder, c detector.Check) {
	if c.Flapping {
		// Held at its worst recent state: the last result says little.
		fmt.Fprintf(b, "Check %s has intermittent failures: its state changed in %.0f%% of recent results, so it is held %s until it is steady.",
			c.Name, c.FlapPercent, c.Status)
		return
	}
	fmt.Fprintf(b, "Check %s is %s", c.Name, c.Status)
	last := c.Last
	if last.Status.Rank() < probe.Status(c.Status).Rank() {
		// Recovering, not yet confirmed: the figures below are the last
		// probe's, which passed; say so, or they read like the failure's.
		fmt.Fprintf(b, ", recovering: its last probe was %s", last.Status)
	}
	if last.Reason != probe.ReasonNone || last.Message != "" {
		b.WriteString(" (")
		b.WriteString(string(last.Reason))
		if last.Message != "" {
			if last.Reason != probe.ReasonNone {
				b.WriteString(": ")
			}
			b.WriteString(last.Message)
		}
		b.WriteString(")")
	}
	if last.Duration >= time.Millisecond && last.Queue == nil {
		fmt.Fprintf(b, "; last probe took %s", last.Duration.Round(time.Millisecond))
	}
	if c.Streak > 1 {
		fmt.Fprintf(b, "; %d bad results in a row", c.Streak)
	}
	if !c.BadSince.IsZero() {
		fmt.Fprintf(b, " since %s", c.BadSince.UTC().Format("15:04:05 UTC"))
	}
	b.WriteString(".")
}

// draining marks failing queue checks that have started to drain. It is part
// of the observation's detail, so the turn from growing to draining writes
// one update with the depth and the time to drain — what the seeds' people
// wrote by hand ("should be up to date within 20 minutes"). The rate is a
// slope over the check's window, so it does not flip on every sample.
// The caller holds e.mu.
func (e *Engine) draining(v detector.Verdict) string {
	var b strings.Builder
	for _, f := range v.Failing {
		if c, ok := e.det.Check(f.Check); ok && c.Last.Queue != nil && c.Last.Queue.DrainETA != nil {
			b.WriteString(";" + f.Check + "~draining")
		}
	}
	return b.String()
}

// figures are the latest queue figures of a component's checks, for the
// update that says it recovered: a reader sees the queue draining, from
// the probe that recovered, not the figures of the failure.
func figures(checks []*config.Check, check func(string) (detector.Check, bool)) string {
	var b strings.Builder
	for _, cc := range checks {
		c, ok := check(cc.Name)
		if !ok || c.Last.Queue == nil || c.Last.Message == "" {
			continue
		}
		msg, _, _ := strings.Cut(c.Last.Message, " — ") // the figures, not the rules
		b.WriteString(" " + msg + ".")
	}
	return b.String()
}
