package status

import (
	"cmp"
	"slices"
	"time"

	"github.com/tocsin/tocsin/config"
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

// maintRow is one configured maintenance window and where Now falls in it.
type maintRow struct {
	cfg   config.Maintenance
	id    string
	phase string
	// changed is when the window last changed phase (its start or end), or
	// when it became known while still scheduled.
	changed time.Time
	created time.Time
}

// maintenancePhase places now relative to a window [start, end).
func maintenancePhase(m config.Maintenance, now time.Time) string {
	switch {
	case now.Before(m.Start):
		return phaseScheduled
	case now.Before(m.End):
		return phaseInProgress
	}
	return phaseCompleted
}

// buildMaintenance resolves every configured window against Now.
func (b *builder) buildMaintenance() {
	b.maint = make([]maintRow, 0, len(b.cfg.Maintenance))
	for _, m := range b.cfg.Maintenance {
		r := maintRow{cfg: m, id: "mnt-" + slug(m.Name), phase: maintenancePhase(m, b.in.Now)}
		r.created = minTime(b.base, m.Start)
		switch r.phase {
		case phaseScheduled:
			r.changed = r.created
		case phaseInProgress:
			r.changed = m.Start
		default:
			r.changed = m.End
		}
		b.maint = append(b.maint, r)
	}
}

// inMaintenance reports whether an in-progress window covers component id.
func (b *builder) inMaintenance(id string) bool {
	for _, m := range b.maint {
		if m.phase == phaseInProgress && slices.Contains(m.cfg.Components, id) {
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
		if n := a.cfg.Start.Compare(c.cfg.Start); n != 0 {
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
	affected := make(map[string]struct{}, len(r.cfg.Components))
	for _, id := range r.cfg.Components {
		affected[id] = struct{}{}
	}
	body := r.cfg.Message
	if body == "" {
		body = r.cfg.Name
	}
	at := b.ts(r.changed)
	upd := updateJSON{
		ID: r.id + "-" + r.phase, Status: r.phase, Body: b.scrub(body), IncidentID: r.id,
		CreatedAt: at, UpdatedAt: at, DisplayAt: at, DeliverNotifications: true,
	}
	inc := incidentJSON{
		ID:              r.id,
		Name:            r.cfg.Name,
		Status:          r.phase,
		CreatedAt:       b.ts(r.created),
		UpdatedAt:       at,
		Impact:          string(IndicatorMaintenance),
		Shortlink:       b.shortlink(r.id),
		StartedAt:       b.ts(r.cfg.Start),
		PageID:          b.page.ID,
		IncidentUpdates: []updateJSON{upd},
		Components:      b.componentsOfIDs(affected),
	}
	if r.phase == phaseCompleted {
		inc.ResolvedAt = b.tsNull(r.cfg.End)
	}
	return maintenanceJSON{incidentJSON: inc, ScheduledFor: b.ts(r.cfg.Start), ScheduledUntil: b.ts(r.cfg.End)}
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
