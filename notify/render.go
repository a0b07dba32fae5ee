package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/outbox"
)

// Page is what the receivers link to: the status page.
type Page struct {
	Name string
	URL  string // without a trailing slash; "" when unknown
	// Groups maps component ids to their group (for PagerDuty's group).
	Groups map[string]string
}

// incidentURL is an incident's page, "" without a page URL.
func (p Page) incidentURL(id string) string {
	if p.URL == "" {
		return ""
	}
	return p.URL + "/incidents/" + id
}

// componentList names an incident's components with their statuses, in
// the order they joined: "Web App (major outage), API (operational)".
func componentList(in *outbox.Incident) string {
	parts := make([]string, 0, len(in.Codes))
	for _, code := range in.Codes {
		name := in.Names[code]
		if name == "" {
			name = code
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", name, detector.ComponentStatus(in.Components[code]).Label()))
	}
	return strings.Join(parts, ", ")
}

// codes returns the ids of an incident's components, in join order.
func codes(in *outbox.Incident) []string {
	if len(in.Codes) > 0 {
		return in.Codes
	}
	out := make([]string, 0, len(in.Components))
	for c := range in.Components {
		out = append(out, c)
	}
	return out
}

// headline says what happened, in a few words.
func headline(e outbox.Entry) string {
	ev := e.Event
	in := ev.Incident
	switch ev.Kind {
	case outbox.Test:
		return "Test notification from tocsin"
	case outbox.MaintenanceStarted:
		return "Maintenance started: " + ev.Subject
	case outbox.MaintenanceEnded:
		return "Maintenance ended: " + ev.Subject
	case outbox.Warning:
		return "Warning: " + ev.Subject
	}
	if in == nil {
		return string(ev.Kind)
	}
	switch ev.Kind {
	case outbox.Opened:
		return "Opened: " + in.Name
	case outbox.Resolved:
		return fmt.Sprintf("Resolved after %s: %s", lasted(in, ev.At.Time()), in.Name)
	case outbox.Reopened:
		return "Reopened: " + in.Name
	case outbox.Monitoring:
		return "Recovering (monitoring): " + in.Name
	case outbox.Reminder:
		return fmt.Sprintf("Still %s after %s: %s", in.Status, lasted(in, ev.At.Time()), in.Name)
	case outbox.Renamed:
		return "Renamed: " + in.Name
	}
	return "Updated: " + in.Name
}

// lasted is how long an incident has lasted: from its start to its
// resolution, or to at (the event's time).
func lasted(in *outbox.Incident, at time.Time) string {
	start := in.StartedAt.Time()
	if start.IsZero() {
		start = in.CreatedAt.Time()
	}
	end := in.ResolvedAt.Time()
	if end.IsZero() {
		end = at
	}
	if start.IsZero() || end.Before(start) {
		return "0s"
	}
	return end.Sub(start).Round(time.Second).String()
}

// evidence is the update's text: what changed and why.
func evidence(e outbox.Entry) string {
	if u := e.Event.Update; u != nil {
		return u.Body
	}
	return e.Event.Body
}

// severity is an impact in PagerDuty's terms.
func severity(imp incident.Impact) string {
	switch imp {
	case incident.ImpactCritical:
		return "critical"
	case incident.ImpactMajor:
		return "error"
	case incident.ImpactMinor:
		return "warning"
	}
	return "info"
}

// clip shortens s to n bytes at a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
