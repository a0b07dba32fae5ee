// Package outbox holds the types of the notification outbox (docs/notifications.md):
// the events the store's scripts append in the same atomic step as the
// changes they report, which receivers each is for, and what a delivering
// replica reads back. redisstore keeps them; notify delivers them.
package outbox

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/tocsin/tocsin/incident"
)

// Kind is what an event reports.
type Kind string

// Event kinds. Incident events come from the transitions (automatic or a
// person's); reminders, maintenance and warnings from the delivering side.
const (
	Opened     Kind = "opened"     // an incident opened (automatically or by a person)
	Joined     Kind = "joined"     // a component joined an open incident
	Updated    Kind = "updated"    // a component's status or the evidence changed; a person's update
	Monitoring Kind = "monitoring" // every component operational again
	Reopened   Kind = "reopened"   // a relapse, or a person reopened it
	Resolved   Kind = "resolved"   // resolved, by time or by a person
	Renamed    Kind = "renamed"    // a person renamed it
	Reminder   Kind = "reminder"   // still open (repeat_every)
	// MaintenanceStarted and MaintenanceEnded report a window's phases;
	// Warning a private check warning (a certificate near its expiry).
	MaintenanceStarted Kind = "maintenance_started"
	MaintenanceEnded   Kind = "maintenance_ended"
	Warning            Kind = "warning"
	// Test is what `tocsin notify test` sends.
	Test Kind = "test"
)

// IncidentKinds are the kinds a transition produces.
func IncidentKinds() []Kind {
	return []Kind{Opened, Joined, Updated, Monitoring, Reopened, Resolved, Renamed}
}

// Filter is which events a receiver takes, as the store's scripts apply
// it: events of incidents at MinImpact at least, touching one of
// Components (if any), of one of Kinds, or (ImpactChanges) any event that
// changed the incident's impact.
type Filter struct {
	Receiver      string
	MinImpact     incident.Impact
	Components    []string
	Kinds         []Kind
	ImpactChanges bool
}

// Event is one event as the outbox carries it.
type Event struct {
	Kind Kind `json:"kind"`
	// At is when it was queued (the store's clock).
	At       Millis    `json:"at"`
	Incident *Incident `json:"incident,omitempty"`
	// Update is the incident update the event is about (absent for a
	// rename, a reminder and the non-incident kinds).
	Update *Update `json:"update,omitempty"`
	// Prev is the incident as it was before the change, if it existed.
	Prev *Prev `json:"prev,omitempty"`
	// Subject and Body carry the non-incident kinds: the maintenance
	// window's or check's name and what to say.
	Subject    string   `json:"subject,omitempty"`
	Body       string   `json:"body,omitempty"`
	Components []string `json:"components,omitempty"`
}

// Incident is an incident as an event carries it: without its timeline.
type Incident struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Status       incident.Status `json:"status"`
	Impact       incident.Impact `json:"impact"`
	Auto         bool            `json:"auto"`
	CreatedAt    Millis          `json:"created_at"`
	StartedAt    Millis          `json:"started_at"`
	MonitoringAt Millis          `json:"monitoring_at"`
	ResolvedAt   Millis          `json:"resolved_at"`
	// Components maps each component the incident affected to its status;
	// Names to its display name; Codes lists them in the order they joined.
	Components StringMap `json:"components"`
	Names      StringMap `json:"names"`
	Codes      Strings   `json:"codes"`
}

// Update is an incident update as an event carries it.
type Update struct {
	ID        string                       `json:"id"`
	Status    incident.Status              `json:"status"`
	Body      string                       `json:"body"`
	CreatedAt Millis                       `json:"created_at"`
	Affected  []incident.AffectedComponent `json:"affected"`
	Human     bool                         `json:"human"`
}

// Prev is what an incident was before the event's change.
type Prev struct {
	Impact incident.Impact `json:"impact"`
	Status incident.Status `json:"status"`
	Codes  Strings         `json:"codes"`
}

// Entry is one event in the outbox, as a receiver's delivery reads it.
type Entry struct {
	// ID is the stream entry's id: the order of the outbox.
	ID string
	// To are the receivers the event was queued for.
	To    []string
	Event Event
}

// Key is the stable idempotency key of an event: incident id and update
// id, or the entry id for events about no update.
func (e Entry) Key() string {
	switch {
	case e.Event.Incident != nil && e.Event.Update != nil:
		return e.Event.Incident.ID + ":" + e.Event.Update.ID
	case e.Event.Incident != nil:
		return e.Event.Incident.ID + ":" + string(e.Event.Kind) + ":" + e.ID
	}
	return string(e.Event.Kind) + ":" + e.ID
}

// Millis is a time in unix milliseconds in JSON; 0 or null is the zero
// time. It reads exponent notation, which Lua's number formatting may
// write.
type Millis int64

// Time is m as a time.
func (m Millis) Time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m)).UTC()
}

// UnmarshalJSON reads a number or null.
func (m *Millis) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*m = 0
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*m = Millis(f)
	return nil
}

// StringMap is a JSON object of strings that also reads [], which is how
// miniredis' Lua encodes an empty table.
type StringMap map[string]string

// UnmarshalJSON reads an object or [].
func (m *StringMap) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("[]")) {
		*m = StringMap{}
		return nil
	}
	return json.Unmarshal(b, (*map[string]string)(m))
}

// Strings is a JSON list of strings that also reads {}, which is how
// Redis' cjson encodes an empty table.
type Strings []string

// UnmarshalJSON reads a list or {}.
func (s *Strings) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("{}")) {
		*s = nil
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}
