package status

import (
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// Indicator is the page's overall status, as Statuspage spells it.
type Indicator string

// Indicators, from best to worst; maintenance ranks just above none.
const (
	IndicatorNone        Indicator = "none"
	IndicatorMaintenance Indicator = "maintenance"
	IndicatorMinor       Indicator = "minor"
	IndicatorMajor       Indicator = "major"
	IndicatorCritical    Indicator = "critical"
)

// rank orders indicators so that a larger rank is worse.
func (i Indicator) rank() int {
	switch i {
	case IndicatorMaintenance:
		return 1
	case IndicatorMinor:
		return 2
	case IndicatorMajor:
		return 3
	case IndicatorCritical:
		return 4
	}
	return 0
}

func (i Indicator) worse(o Indicator) Indicator {
	if o.rank() > i.rank() {
		return o
	}
	return i
}

// Description is Statuspage's phrase for the indicator.
func (i Indicator) Description() string {
	switch i {
	case IndicatorMaintenance:
		return "Service Under Maintenance"
	case IndicatorMinor:
		return "Minor Service Outage"
	case IndicatorMajor:
		return "Partial System Outage"
	case IndicatorCritical:
		return "Major Service Outage"
	}
	return "All Systems Operational"
}

// indicatorOfComponent maps a component status to the indicator it implies.
func indicatorOfComponent(s detector.ComponentStatus) Indicator {
	switch s {
	case detector.UnderMaintenance:
		return IndicatorMaintenance
	case detector.DegradedPerformance:
		return IndicatorMinor
	case detector.PartialOutage:
		return IndicatorMajor
	case detector.MajorOutage:
		return IndicatorCritical
	}
	return IndicatorNone
}

// indicatorOfImpact maps an incident impact to the indicator it implies.
func indicatorOfImpact(im incident.Impact) Indicator {
	switch im {
	case incident.ImpactMinor:
		return IndicatorMinor
	case incident.ImpactMajor:
		return IndicatorMajor
	case incident.ImpactCritical:
		return IndicatorCritical
	}
	return IndicatorNone
}
