package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// evidence is the body of an incident update: what changed, which check says
// so, its error and its figures, so a reader sees why without opening logs.
func evidence(comp config.Component, v detector.Verdict, worst detector.Check) string {
	switch v.Status {
	case detector.Operational:
		return fmt.Sprintf("%s is operational again: all of its checks are passing.", comp.Name)
	case detector.UnderMaintenance:
		return fmt.Sprintf("%s is under scheduled maintenance.", comp.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s. Check %s is %s", comp.Name, v.Status.Label(), worst.Name, worst.Status)
	last := worst.Last
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
	if last.Duration > 0 {
		fmt.Fprintf(&b, "; last probe took %s", last.Duration.Round(time.Millisecond))
	}
	if worst.Streak > 1 {
		fmt.Fprintf(&b, "; %d bad results in a row", worst.Streak)
	}
	if !v.BadSince.IsZero() {
		fmt.Fprintf(&b, " since %s", v.BadSince.UTC().Format("15:04:05 UTC"))
	}
	b.WriteString(".")
	return b.String()
}
