package status

import (
	"fmt"
	"strings"
	"time"
)

// maintenancePages returns the page of every scheduled maintenance that
// scheduled-maintenances.json lists: its shortlink points to
// /incidents/{id} as an incident's does (on Statuspage a maintenance is an
// incident). They are made from that JSON, so the page shows exactly the
// timeline the API publishes. Bounded like the incident pages: at most
// three occurrences per configured window.
func (b *builder) maintenancePages() ([]renderedPage, error) {
	list := b.maintenances()
	out := make([]renderedPage, 0, len(list))
	for _, m := range list {
		if !validIncidentID(m.ID) {
			continue // the route would never look it up
		}
		v := b.basePage()
		v.Refresh = 0
		pv := b.maintenancePageView(m)
		v.Incident = &pv
		data, err := b.execute(v)
		if err != nil {
			return nil, fmt.Errorf("status: render maintenance %s: %w", m.ID, err)
		}
		out = append(out, renderedPage{path: pathIncidentPrefix + m.ID, data: data})
	}
	return out, nil
}

// maintenancePageView maps a maintenance as the API shows it to the
// incident page.
func (b *builder) maintenancePageView(m maintenanceJSON) incidentPageView {
	from, until := parseTS(m.ScheduledFor), parseTS(m.ScheduledUntil)
	length := humanDuration(until.Sub(from))
	v := incidentPageView{Maintenance: true, Until: b.human(until), UntilAt: b.ts(until)}
	v.incidentView = incidentView{Href: b.incidentHref(m.ID), ID: m.ID, Name: b.scrub(m.Name),
		Status: strings.ReplaceAll(m.Status, "_", " "), Impact: m.Impact, Started: b.human(from), StartedAt: b.ts(from),
		Duration: "planned for " + length}
	if m.Status == phaseCompleted {
		v.Duration = "lasted " + length
	}
	for _, c := range m.Components {
		v.Affected = append(v.Affected, affectedView{ID: c.ID, Name: b.scrub(c.Name)})
	}
	for _, u := range m.IncidentUpdates {
		at := parseTS(u.CreatedAt)
		uv := updateView{Status: strings.ReplaceAll(u.Status, "_", " "), Body: b.scrub(u.Body), At: b.human(at),
			AtISO: u.CreatedAt}
		for _, a := range u.AffectedComponents {
			if a.OldStatus == a.NewStatus {
				continue // a scheduled window changes nothing yet
			}
			uv.Affected = append(uv.Affected, b.scrub(a.Name)+": "+a.OldStatus.Label()+" → "+a.NewStatus.Label())
		}
		v.Updates = append(v.Updates, uv)
	}
	return v
}

// parseTS reads back a time ts wrote; the zero time if it cannot.
func parseTS(s string) time.Time {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
