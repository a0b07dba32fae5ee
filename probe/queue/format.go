package queue

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// Format describes a queue's figures for people, in a fixed format
// that incident updates and probe messages share:
//
//	<name>: <depth> <unit>[, oldest <age>][, <trend>][, <n> consumers]
//
// e.g. "mailers: 12,400 jobs, oldest 4m10s, draining at 350/s, about 35s
// to drain, 3 consumers". The depth has thousands separators; the unit is
// jobs for Sidekiq, messages for RabbitMQ and items otherwise, told apart by
// the Extra figures each source reports (retry and dead; unacked and
// ack_rate). The age is rounded to the second, and left out for an empty
// queue. The trend is "draining at
// <rate>[, about <eta> to drain]", "growing at <rate>" or "steady"; it is
// left out until there are two samples. Rates of at least 1/s are given per
// second, slower ones per minute or per hour.
func Format(name string, s probe.QueueStats) string {
	var b strings.Builder
	b.WriteString(name + ": " + formatCount(s.Depth) + " " + queueUnit(s))
	if s.OldestAge != nil && s.Depth > 0 {
		b.WriteString(", oldest " + formatAge(*s.OldestAge))
	}
	if s.RatePerSecond != nil {
		switch r := *s.RatePerSecond; {
		case formatRate(r) == "":
			b.WriteString(", steady")
		case r < 0:
			b.WriteString(", draining at " + formatRate(r))
			if s.DrainETA != nil {
				b.WriteString(", about " + formatETA(*s.DrainETA) + " to drain")
			}
		default:
			b.WriteString(", growing at " + formatRate(r))
		}
	}
	if s.Consumers != nil {
		b.WriteString(", " + probe.Plural(*s.Consumers, "consumer"))
	}
	return b.String()
}

// queueUnit names what the queue holds, singular for a depth of exactly 1.
func queueUnit(s probe.QueueStats) string {
	unit := "items"
	switch {
	case hasExtra(s.Extra, "retry", "dead"):
		unit = "jobs"
	case hasExtra(s.Extra, "unacked", "ack_rate"):
		unit = "messages"
	}
	if s.Depth == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	return unit
}

func hasExtra(m map[string]float64, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// formatCount writes a count with thousands separators: 12,400. A count
// that is not whole (a PromQL average) keeps one decimal: 12.5.
func formatCount(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	x = math.Round(x*10) / 10
	sign := ""
	if x < 0 {
		sign, x = "-", -x
	}
	whole, frac := math.Modf(x)
	if whole >= 1e15 {
		return sign + strconv.FormatFloat(x, 'g', 4, 64)
	}
	digits := strconv.FormatFloat(whole, 'f', 0, 64)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if frac >= 0.05 {
		b.WriteString("." + strconv.Itoa(int(math.Round(frac*10))))
	}
	return sign + b.String()
}

// formatRate writes the size of a rate in the largest unit that makes it at
// least 1: "350/s", "1.5/s", "12/min", "0.5/h"; "" when it rounds to zero.
func formatRate(r float64) string {
	a := math.Abs(r)
	switch {
	case a >= 1:
		return formatFigure(a) + "/s"
	case a*60 >= 1:
		return formatFigure(a*60) + "/min"
	case a*3600 >= 0.05:
		return formatFigure(a*3600) + "/h"
	}
	return ""
}

// formatFigure writes a positive figure with one decimal below 10 and none
// from there on: 1.5, 12, 1,200.
func formatFigure(v float64) string {
	if v >= 10 {
		return formatCount(math.Round(v))
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
}

// formatAge writes a duration rounded to the second without trailing
// zeros: 4m10s, 3m, 2h5m, 0s.
func formatAge(d time.Duration) string {
	return trimDuration(d.Round(time.Second))
}

// formatETA writes an estimate no more precisely than it deserves: to the
// second under a minute, to 10 s under 10 minutes, then to the minute, and
// to 10 minutes from an hour on.
func formatETA(d time.Duration) string {
	switch {
	case d < time.Second:
		d = time.Second // "about 0s to drain" reads like a bug
	case d < time.Minute:
		d = d.Round(time.Second)
	case d < 10*time.Minute:
		d = d.Round(10 * time.Second)
	case d < time.Hour:
		d = d.Round(time.Minute)
	default:
		d = d.Round(10 * time.Minute)
	}
	return trimDuration(d)
}

// trimDuration is d.String() without zero minutes and seconds: "3m0s" is
// "3m", "2h0m0s" is "2h".
func trimDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
