package incident

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned (wrapped) by HumanStore methods for an incident id
// that is not stored.
var ErrNotFound = errors.New("incident not found")

// Limits of what a person may write.
const (
	MaxNameChars = 255
	MaxBodyChars = 10000
	// MaxComponents bounds the components of a manual incident.
	MaxComponents = 100
)

// HumanStatuses are the statuses a person may give an update, in lifecycle
// order.
func HumanStatuses() []Status {
	return []Status{Investigating, Identified, Monitoring, Resolved}
}

// HumanStore applies what people do through the API, each call one atomic
// step that keeps the Store's invariants. Automation never overwrites what
// it writes: a person's name stays (the incident is name-locked) and a
// person's updates stay as written; automation only adds updates.
type HumanStore interface {
	// CreateIncident opens a manual incident (not automatic, name-locked).
	CreateIncident(ctx context.Context, m ManualIncident) (Incident, error)
	// AddUpdate adds a person's update and moves the incident to its status;
	// status resolved resolves it, any other status reopens a resolved one.
	AddUpdate(ctx context.Context, id string, u HumanUpdate) (Incident, error)
	// Rename names the incident and locks the name against automation.
	Rename(ctx context.Context, id, name string, at time.Time) (Incident, error)
}

// ManualIncident is an incident a person opens.
type ManualIncident struct {
	// ID is the new incident's id; empty means a NewID.
	ID     string
	Name   string
	Status Status // empty means Investigating; never Resolved
	Body   string
	// Components are the affected components' statuses as the person sees
	// them; they are recorded in the incident, not in the components' own
	// statuses, which belong to the checks.
	Components map[string]ComponentStatus
	// Impact is the least impact; empty means the worst of Components'.
	Impact Impact
	At     time.Time
}

// HumanUpdate is an update a person writes.
type HumanUpdate struct {
	Status Status
	Body   string
	At     time.Time
}

// Validate reports the first problem of m, naming the field.
func (m ManualIncident) Validate() error {
	if err := validName(m.Name); err != nil {
		return err
	}
	if m.Status != "" && m.Status != Investigating && m.Status != Identified && m.Status != Monitoring {
		return fmt.Errorf("status: must be investigating, identified or monitoring, not %q", m.Status)
	}
	if err := validBody(m.Body); err != nil {
		return err
	}
	if len(m.Components) > MaxComponents {
		return fmt.Errorf("components: at most %d", MaxComponents)
	}
	for _, id := range slices.Sorted(maps.Keys(m.Components)) {
		if strings.TrimSpace(id) == "" || utf8.RuneCountInString(id) > MaxNameChars {
			return fmt.Errorf("components: bad component id %q", id)
		}
		if s := m.Components[id]; !s.Valid() {
			return fmt.Errorf("components.%s: invalid status %q", id, s)
		}
	}
	if m.Impact != "" && !slices.Contains(Impacts(), m.Impact) {
		return fmt.Errorf("impact: must be none, minor, major or critical, not %q", m.Impact)
	}
	if m.At.IsZero() {
		return errors.New("at: zero time")
	}
	return nil
}

// Validate reports the first problem of u, naming the field.
func (u HumanUpdate) Validate() error {
	if !slices.Contains(HumanStatuses(), u.Status) {
		return fmt.Errorf("status: must be investigating, identified, monitoring or resolved, not %q", u.Status)
	}
	if err := validBody(u.Body); err != nil {
		return err
	}
	if u.At.IsZero() {
		return errors.New("at: zero time")
	}
	return nil
}

// ValidName reports whether name can name an incident.
func ValidName(name string) error { return validName(name) }

func validName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("name: required")
	case utf8.RuneCountInString(name) > MaxNameChars:
		return fmt.Errorf("name: longer than %d characters", MaxNameChars)
	}
	return nil
}

func validBody(body string) error {
	switch {
	case strings.TrimSpace(body) == "":
		return errors.New("body: required")
	case utf8.RuneCountInString(body) > MaxBodyChars:
		return fmt.Errorf("body: longer than %d characters", MaxBodyChars)
	}
	return nil
}
