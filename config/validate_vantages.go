package config

import (
	"fmt"
	"slices"
	"strings"
)

// validateVantages checks the vantage keys: the top-level names, this
// replica's vantage, and the vantages, quorum and regional of defaults,
// components and checks. A value a component or check holds because it
// inherited it (equal to where it comes from) is reported there, once,
// as validateTiming does for a check's timing.
func (c *Config) validateVantages(p *problems) {
	names := validateVantageNames(p, c.Vantages)
	switch v := c.Scheduler.Vantage; {
	case v == "":
		// Only the daemon needs one: VantageError.
	case len(names) == 0:
		p.add("scheduler.vantage", "set, but no vantages are declared")
	case !slices.Contains(names, v):
		p.add("scheduler.vantage", notDeclared(v, names))
	}
	d := c.Defaults
	checkVantageList(p, "defaults.vantages", d.Vantages, names)
	d.validateQuorum(p, names)
	checkRegional(p, "defaults.regional", d.Regional)
	byID := make(map[string]*Component, len(c.Components))
	for i := range c.Components {
		comp := &c.Components[i]
		if _, dup := byID[comp.ID]; !dup {
			byID[comp.ID] = comp
		}
		comp.validateVantages(p, fmt.Sprintf("components[%d]", i), d, names)
	}
	for i := range c.Checks {
		ch := &c.Checks[i]
		if len(ch.Vantages) == 0 {
			continue
		}
		path := fmt.Sprintf("checks[%d].vantages", i)
		if ch.Type == typeHeartbeat {
			p.add(path, "heartbeat checks are pushed to tocsin and have no vantage")
			continue
		}
		from := d.Vantages
		if comp, ok := byID[ch.Component]; ok {
			from = comp.Vantages
		}
		if !slices.Equal(ch.Vantages, from) {
			checkVantageList(p, path, ch.Vantages, names)
		}
	}
}

// validateVantageNames checks the top-level vantages list and returns its
// valid names, each once, in order: what the other keys may name.
func validateVantageNames(p *problems, vantages []string) []string {
	var names []string
	for i, v := range vantages {
		path := fmt.Sprintf("vantages[%d]", i)
		switch {
		case !validVantageName(v):
			p.addf(path, "invalid vantage name %q (want 1-%d lower-case letters, digits and '-', starting with a letter)", v, maxVantageName)
		case slices.Contains(names, v):
			p.addf(path, "duplicate vantage %q", v)
		default:
			names = append(names, v)
		}
	}
	return names
}

// validVantageName reports whether s is a vantage name: [a-z][a-z0-9-]*,
// at most maxVantageName long.
func validVantageName(s string) bool {
	if s == "" || len(s) > maxVantageName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if r != '-' && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// validateQuorum checks defaults.quorum against the vantages that probe a
// component by default.
func (d Defaults) validateQuorum(p *problems, names []string) {
	n := probedBy(d.Vantages, names)
	switch {
	case !quorumTooLarge(d.Quorum, n, names):
	case len(names) == 0:
		p.add("defaults.quorum", noVantagesForQuorum)
	case len(d.Vantages) > 0:
		p.addf("defaults.quorum", "%d is more than the %s in defaults.vantages", d.Quorum, vantageCount(n, ""))
	default:
		p.addf("defaults.quorum", "%d is more than the %s", d.Quorum, vantageCount(n, "declared "))
	}
}

// validateVantages checks a component's vantages, quorum and regional.
func (comp *Component) validateVantages(p *problems, path string, d Defaults, names []string) {
	ownList := !slices.Equal(comp.Vantages, d.Vantages)
	if ownList {
		checkVantageList(p, path+".vantages", comp.Vantages, names)
	}
	// A quorum equal to defaults' was most likely inherited: a problem of
	// it alone is reported under defaults.quorum, but one that this
	// component's own vantages make is reported here.
	ownQuorum := comp.Quorum != d.Quorum
	n := probedBy(comp.Vantages, names)
	switch {
	case !quorumTooLarge(comp.Quorum, n, names) || !ownQuorum && !ownList:
	case len(names) == 0:
		if ownQuorum {
			p.add(path+".quorum", noVantagesForQuorum)
		}
	default:
		from, verb := "", "probe"
		if !ownQuorum {
			from = " (from defaults.quorum)"
		}
		if n == 1 {
			verb = "probes"
		}
		p.addf(path+".quorum", "%d%s is more than the %s that %s this component", comp.Quorum, from, vantageCount(n, ""), verb)
	}
	if comp.Regional != d.Regional {
		checkRegional(p, path+".regional", comp.Regional)
	}
}

// noVantagesForQuorum is the problem of a quorum above 1 without vantages.
const noVantagesForQuorum = "needs vantages; none are declared"

// quorumTooLarge reports whether quorum q cannot be met by the n vantages
// that probe what it is the quorum of: without vantages declared (names
// empty) only majority (0) and 1 can.
func quorumTooLarge(q, n int, names []string) bool {
	if len(names) == 0 {
		return q > 1
	}
	return q > n
}

// probedBy returns how many vantages a list of them names: its length, or
// the number declared when it is empty (every one).
func probedBy(list, names []string) int {
	if len(list) > 0 {
		return len(list)
	}
	return len(names)
}

// vantageCount is "1 vantage" or "n vantages", with adjective adj
// ("declared ") before the noun.
func vantageCount(n int, adj string) string {
	if n == 1 {
		return "1 " + adj + "vantage"
	}
	return fmt.Sprintf("%d %svantages", n, adj)
}

// checkVantageList checks a vantages list at path: every name declared,
// none twice.
func checkVantageList(p *problems, path string, list, names []string) {
	for i, v := range list {
		key := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case slices.Contains(list[:i], v):
			p.addf(key, "duplicate vantage %q", v)
		case !slices.Contains(names, v):
			p.add(key, notDeclared(v, names))
		}
	}
}

// notDeclared is the problem of a vantage name that is not among names,
// the declared ones, with the closest one when it is a slip away.
func notDeclared(v string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("%q is not a declared vantage (none are declared)", v)
	}
	msg := fmt.Sprintf("%q is not a declared vantage (declared: %s)", v, strings.Join(names, ", "))
	if s := closestOf(v, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

func checkRegional(p *problems, path, r string) {
	if r != regionalIgnore && r != regionalDegraded {
		p.addf(path, "unknown value %q (want %s or %s)", r, regionalIgnore, regionalDegraded)
	}
}
