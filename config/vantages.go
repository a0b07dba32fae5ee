package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Vantages: a fleet probes from several places (a zone, region or
// cluster each, one Deployment each), named in the top-level vantages
// list; each replica knows its own (scheduler.vantage). A component takes
// a status only when at least a quorum of the live vantages that probe it
// see it at least that bad; what fewer see is regional: shown, and paged
// only under regional: degraded. No vantages declared is one unnamed
// vantage that probes everything, as before vantages existed.
const (
	// quorumMajority is how the file writes a Quorum of 0.
	quorumMajority = "majority"

	// regionalIgnore and regionalDegraded are the values of regional.
	regionalIgnore   = "ignore"
	regionalDegraded = "degraded"

	// maxVantageName bounds a vantage name: it is a metric label value, a
	// part of Redis keys and, through the Helm chart, of a Deployment's
	// name, which Kubernetes limits to a DNS label.
	maxVantageName = 32
)

// applyVantageDefaults resolves vantages, quorum and regional: a
// component takes what it leaves unset from defaults, and a check that
// lists no vantages takes its component's (defaults' when the component is
// unknown, which validate reports). A heartbeat check takes none: it is
// pushed, not probed. An empty list, written or inherited, is nil: every
// declared vantage.
func (c *Config) applyVantageDefaults() {
	d := c.Defaults
	byID := make(map[string]int, len(c.Components))
	for i := range c.Components {
		comp := &c.Components[i]
		comp.Vantages = inheritList(comp.Vantages, d.Vantages)
		comp.Quorum = cmp.Or(comp.Quorum, d.Quorum)
		comp.Regional = cmp.Or(comp.Regional, d.Regional)
		if _, dup := byID[comp.ID]; !dup {
			byID[comp.ID] = i
		}
	}
	for i := range c.Checks {
		ch := &c.Checks[i]
		from := d.Vantages
		if j, ok := byID[ch.Component]; ok {
			from = c.Components[j].Vantages
		}
		if ch.Type == typeHeartbeat {
			from = nil
		}
		ch.Vantages = inheritList(ch.Vantages, from)
	}
}

// inheritList returns own, or from when own is empty; nil when both are.
func inheritList(own, from []string) []string {
	switch {
	case len(own) > 0:
		return own
	case len(from) > 0:
		return from
	}
	return nil
}

// VantagesOf returns the vantages that probe check ch: its effective list
// as Load resolved it (the check's, else its component's, else defaults'),
// in the order written, or every declared vantage when that is empty. It
// returns nil when no vantages are declared (one unnamed vantage probes
// everything) and for a heartbeat check, which is pushed to tocsin and has
// no vantage. The slice is shared with c and must not be modified.
func (c *Config) VantagesOf(ch Check) []string {
	return c.vantagesOf(&ch)
}

func (c *Config) vantagesOf(ch *Check) []string {
	switch {
	case len(c.Vantages) == 0 || ch.Type == typeHeartbeat:
		return nil
	case len(ch.Vantages) > 0:
		return ch.Vantages
	}
	return c.Vantages
}

// ProbingVantages maps every component to the vantages that probe it, in
// the order of the top-level list: the union of VantagesOf its checks. A
// component of heartbeat checks only is judged alike from every vantage
// (the beats are in the store), so all of them probe it. Nil when no
// vantages are declared. One pass over the checks: at 50,000 checks
// a pass per component is 250 million steps.
// Only the vantages a component maps to own it, observe it and credit its
// uptime; the others leave it alone.
func (c *Config) ProbingVantages() map[string][]string {
	if len(c.Vantages) == 0 {
		return nil
	}
	seen := make(map[string]map[string]bool, len(c.Components))
	for i := range c.Checks {
		ch := &c.Checks[i]
		for _, v := range c.vantagesOf(ch) {
			if seen[ch.Component] == nil {
				seen[ch.Component] = map[string]bool{}
			}
			seen[ch.Component][v] = true
		}
	}
	out := make(map[string][]string, len(c.Components))
	for _, comp := range c.Components {
		var vs []string
		for _, v := range c.Vantages {
			if seen[comp.ID][v] {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			vs = c.Vantages
		}
		out[comp.ID] = vs
	}
	return out
}

// Probes reports whether vantage probes check ch: always without
// vantages, and for heartbeat checks, which every vantage judges alike.
func (c *Config) Probes(vantage string, ch Check) bool {
	vs := c.vantagesOf(&ch)
	return vs == nil || slices.Contains(vs, vantage)
}

// QuorumOf returns how many vantages must see a status before a component
// takes it, given its configured quorum q (0: majority, as
// Component.Quorum holds it) and live, the number of live vantages that
// probe it. A majority is live/2+1. A fixed q is capped at live, so that a
// lone surviving vantage can still page when the others are gone. The
// result is never below 1.
func QuorumOf(q, live int) int {
	n := live/2 + 1
	if q > 0 {
		n = min(q, live)
	}
	return max(n, 1)
}

// VantageError returns the problem of running c as the daemon of this
// replica, nil if none: when vantages are declared, a replica must know
// which one it is. Validate does not ask for scheduler.vantage, because
// tocsin validate, tocsin check and CI load the fleet's config without a
// vantage of their own; the daemon calls VantageError after Load, at
// start and on every reload (a new config may declare vantages), and
// refuses to run, or to put the config in force, on an error. A vantage
// that is set but not declared is Validate's problem, not this one's.
func (c *Config) VantageError() error {
	if len(c.Vantages) == 0 || c.Scheduler.Vantage != "" {
		return nil
	}
	return &problem{path: "scheduler.vantage", msg: fmt.Sprintf(
		"required, since vantages are declared (%s): set TOCSIN_VANTAGE or --vantage to this replica's",
		strings.Join(c.Vantages, ", "))}
}
