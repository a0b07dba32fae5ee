package detector

import "slices"

// ComponentStatus is a component's status, with Statuspage's enum values.
type ComponentStatus string

// Component statuses, as Statuspage spells them.
const (
	Operational         ComponentStatus = "operational"
	DegradedPerformance ComponentStatus = "degraded_performance"
	PartialOutage       ComponentStatus = "partial_outage"
	MajorOutage         ComponentStatus = "major_outage"
	UnderMaintenance    ComponentStatus = "under_maintenance"
)

// ComponentStatuses lists every component status, best first.
func ComponentStatuses() []ComponentStatus {
	return []ComponentStatus{Operational, UnderMaintenance, DegradedPerformance, PartialOutage, MajorOutage}
}

// Rank orders component statuses so that a larger rank is worse: its
// place in ComponentStatuses, the one definition of the order. Maintenance
// ranks just above operational: any real failure outranks it. -1 for an
// unknown status.
func (s ComponentStatus) Rank() int { return slices.Index(ComponentStatuses(), s) }

// Valid reports whether s is one of the known statuses.
func (s ComponentStatus) Valid() bool { return s.Rank() >= 0 }

// Label is the human phrase for s ("major outage").
func (s ComponentStatus) Label() string {
	switch s {
	case Operational:
		return "operational"
	case UnderMaintenance:
		return "under maintenance"
	case DegradedPerformance:
		return "degraded performance"
	case PartialOutage:
		return "partial outage"
	case MajorOutage:
		return "major outage"
	}
	return string(s)
}
