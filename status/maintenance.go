package status

import (
	"cmp"
	"slices"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/maintenance"
)

// Scheduled maintenance statuses, as Statuspage spells them.
const (
	phaseScheduled  = "scheduled"
	phaseInProgress = "in_progress"
	phaseCompleted  = "completed"
)

// maintenanceJSON is a Statuspage scheduled maintenance: an incident with a
// window.
type maintenanceJSON struct {
	incidentJSON
	ScheduledFor   string `json:"scheduled_for"`
	ScheduledUntil string `json:"scheduled_until"`
}

// maintRow is one occurrence of a configured maintenance window and where
// Now falls in it.
type maintRow struct {
	win   maintenance.Window
	id    string
	phase string
	// changed is when the occurrence last changed phase (its start or end),
	// or when it became known while still scheduled.
	changed time.Time
	created time.Time
}

// buildMaintenance resolves every configured window against Now. A fixed
// window is one row. A recurring window is up to two: the last occurrence
// that ended (completed) and the one in progress, or else the next one
// (scheduled).
func (b *builder) buildMaintenance() {
	b.maint = make([]maintRow, 0, len(b.cfg.Maintenance))
	for _, m := range b.cfg.Maintenance {
		for i, w := range maintenanceOccurrences(m, b.in.Now) {
			if w != nil {
				b.maint = append(b.maint, b.maintRow(*w, phases[i]))
			}
		}
	}
}

// phases names the occurrences maintenanceOccurrences returns, in order.
var phases = [3]string{phaseCompleted, phaseInProgress, phaseScheduled}

// maintenanceOccurrences returns the occurrences of m shown at now, in the
// order of phases; nil for none. The next occurrence is shown only while
// none is in progress.
func maintenanceOccurrences(m config.Maintenance, now time.Time) [3]*maintenance.Window {
	prev, cur, next := maintenance.Occurrences(m, now)
	if cur != nil {
		next = nil
	}
	return [3]*maintenance.Window{prev, cur, next}
}

func (b *builder) maintRow(w maintenance.Window, phase string) maintRow {
	r := maintRow{win: w, id: "mnt-" + slug(w.Name), phase: phase}
	if w.Recurring {
		// Each occurrence is its own scheduled maintenance.
		r.id += "-" + w.Start.UTC().Format("200601021504")
	}
	r.created = minTime(b.base, w.Start)
	switch phase {
	case phaseScheduled:
		r.changed = r.created
	case phaseInProgress:
		r.changed = w.Start
	default:
		r.changed = w.End
	}
	return r
}

// inMaintenance reports whether an in-progress window covers component id.
func (b *builder) inMaintenance(id string) bool {
	for _, m := range b.maint {
		if m.phase == phaseInProgress && slices.Contains(m.win.Components, id) {
			return true
		}
	}
	return false
}

// maintenances returns the windows in the given phases (all when none are
// given): the full list newest first, a filtered list soonest first.
func (b *builder) maintenances(phases ...string) []maintenanceJSON {
	rows := make([]maintRow, 0, len(b.maint))
	for _, r := range b.maint {
		if len(phases) == 0 || slices.Contains(phases, r.phase) {
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, c maintRow) int {
		if n := a.win.Start.Compare(c.win.Start); n != 0 {
			return n
		}
		return cmp.Compare(a.id, c.id)
	})
	if len(phases) == 0 {
		slices.Reverse(rows)
	}
	out := make([]maintenanceJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, b.maintenance(r))
	}
	return out
}

func (b *builder) maintenance(r maintRow) maintenanceJSON {
	affected := make(map[string]struct{}, len(r.win.Components))
	for _, id := range r.win.Components {
		affected[id] = struct{}{}
	}
	body := r.win.Message
	if body == "" {
		body = r.win.Name
	}
	at := b.ts(r.changed)
	upd := updateJSON{
		ID: r.id + "-" + r.phase, Status: r.phase, Body: b.scrub(body), IncidentID: r.id,
		CreatedAt: at, UpdatedAt: at, DisplayAt: at, DeliverNotifications: true,
	}
	inc := incidentJSON{
		ID:              r.id,
		Name:            r.win.Name,
		Status:          r.phase,
		CreatedAt:       b.ts(r.created),
		UpdatedAt:       at,
		Impact:          string(IndicatorMaintenance),
		Shortlink:       b.shortlink(r.id),
		StartedAt:       b.ts(r.win.Start),
		PageID:          b.page.ID,
		IncidentUpdates: []updateJSON{upd},
		Components:      b.componentsOfIDs(affected),
	}
	if r.phase == phaseCompleted {
		inc.ResolvedAt = b.tsNull(r.win.End)
	}
	return maintenanceJSON{incidentJSON: inc, ScheduledFor: b.ts(r.win.Start), ScheduledUntil: b.ts(r.win.End)}
}

// componentsOfIDs is componentsOf for a plain set of ids; unknown ids are
// skipped (config validation rejects them anyway).
func (b *builder) componentsOfIDs(ids map[string]struct{}) []componentJSON {
	out := make([]componentJSON, 0, len(ids))
	for _, c := range b.components {
		if _, ok := ids[c.ID]; ok && !c.Group {
			out = append(out, c)
		}
	}
	return out
}
