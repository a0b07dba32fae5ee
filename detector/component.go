package detector

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Rank orders check states by how bad they are: down 2, degraded 1, up
// and unknown 0.
func (s CheckStatus) Rank() int {
	switch s {
	case Down:
		return 2
	case Degraded:
		return 1
	}
	return 0
}

// Verdict is a component's status derived from its checks.
type Verdict struct {
	Status ComponentStatus
	// Known is false while a check of the component has no confirmed state
	// and none of its known checks is failing: publishing "operational" then
	// could wrongly end an incident after a restart.
	Known bool
	// Worst is the check that gave Status (empty when operational).
	Worst string
	// BadSince is the earliest start of a bad run among the failing checks.
	BadSince time.Time
	// Failing lists the checks behind Status, worst first, then by name.
	Failing []Failing
}

// Failing is one check that is not up.
type Failing struct {
	Check  string
	Status CheckStatus
	// Flapping is true while the check flaps: Status is its held state.
	Flapping bool
}

// Detail names the failing checks, e.g. "mail-worker=down,queue=degraded",
// and marks flapping ones, e.g. "web=down~flapping": a change of it is news
// even when the component's status stays the same.
func (v Verdict) Detail() string {
	var b strings.Builder
	for i, f := range v.Failing {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.Check + "=" + string(f.Status))
		if f.Flapping {
			b.WriteString("~flapping")
		}
	}
	return b.String()
}

// StatusOf maps a confirmed check state to the component status it implies.
func StatusOf(s CheckStatus, impact ComponentStatus) ComponentStatus {
	switch s {
	case Down:
		if impact == PartialOutage {
			return PartialOutage
		}
		return MajorOutage
	case Degraded:
		return DegradedPerformance
	}
	return Operational
}

// Component returns the status of component id: the worst of its checks.
func (d *Detector) Component(id string) Verdict {
	v := Verdict{Status: Operational, Known: true}
	unknown := false
	for _, st := range d.byComponent[id] {
		if st.status == Unknown {
			unknown = true
			continue
		}
		cs := StatusOf(st.status, st.spec.Impact)
		if cs == Operational {
			continue
		}
		since := st.badSince
		if r, ok := st.firstBad(); ok && st.flapping {
			// Good results break a flapping check's bad runs; its trouble
			// began with the oldest bad result in the window.
			since = r.Start()
		}
		if !since.IsZero() && (v.BadSince.IsZero() || since.Before(v.BadSince)) {
			v.BadSince = since
		}
		if cs.Rank() > v.Status.Rank() || (cs == v.Status && st.spec.Name < v.Worst) {
			v.Status, v.Worst = cs, st.spec.Name
		}
		v.Failing = append(v.Failing, Failing{Check: st.spec.Name, Status: st.status, Flapping: st.flapping})
	}
	slices.SortFunc(v.Failing, func(a, b Failing) int {
		if a.Status != b.Status {
			return cmp.Compare(b.Status.Rank(), a.Status.Rank())
		}
		return cmp.Compare(a.Check, b.Check)
	})
	if unknown && v.Status == Operational {
		v.Known = false
	}
	return v
}
