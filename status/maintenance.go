package status

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
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
	// created is when the occurrence became known: when the store was
	// created (Inputs.Epoch), or its start if that is earlier.
	created time.Time
	// changed is when the occurrence entered its current phase.
	changed time.Time
}

// maintStep is one phase an occurrence has been through, with the change
// it made to its components. Statuspage keeps each phase as an update of
// its own; the scheduled one changes nothing (operational to operational).
type maintStep struct {
	phase    string
	at       time.Time
	old, new detector.ComponentStatus
}

// steps are the phases r has been through, oldest first: scheduled when it
// became known, in progress at its start, completed at its end.
func (r maintRow) steps() []maintStep {
	all := []maintStep{
		{phaseScheduled, r.created, detector.Operational, detector.Operational},
		{phaseInProgress, r.win.Start, detector.Operational, detector.UnderMaintenance},
		{phaseCompleted, r.win.End, detector.UnderMaintenance, detector.Operational},
	}
	for i, s := range all {
		if s.phase == r.phase {
			return all[:i+1]
		}
	}
	return all[:1]
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
	steps := r.steps()
	r.changed = steps[len(steps)-1].at
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
	steps := r.steps()
	updates := make([]updateJSON, 0, len(steps))
	for _, s := range slices.Backward(steps) {
		updates = append(updates, b.maintUpdate(r, s))
	}
	inc := incidentJSON{
		ID:              r.id,
		Name:            r.win.Name,
		Status:          r.phase,
		CreatedAt:       b.ts(r.created),
		UpdatedAt:       b.ts(r.changed),
		Impact:          string(IndicatorMaintenance),
		Shortlink:       b.shortlink(r.id),
		StartedAt:       b.ts(r.win.Start),
		PageID:          b.page.ID,
		IncidentUpdates: updates,
		Components:      b.componentsOfIDs(affected),
	}
	if r.phase == phaseCompleted {
		inc.ResolvedAt = b.tsNull(r.win.End)
	}
	return maintenanceJSON{incidentJSON: inc, ScheduledFor: b.ts(r.win.Start), ScheduledUntil: b.ts(r.win.End)}
}

// maintUpdate is the update of one step. Its id is the occurrence's and
// the phase's, so every rebuild and every replica gives the same one.
func (b *builder) maintUpdate(r maintRow, s maintStep) updateJSON {
	var affected []affectedJSON
	for _, c := range b.components {
		if !c.Group && slices.Contains(r.win.Components, c.ID) {
			affected = append(affected, affectedJSON{Code: c.ID, Name: c.Name, OldStatus: s.old, NewStatus: s.new})
		}
	}
	at := b.ts(s.at)
	return updateJSON{
		ID: r.id + "-" + s.phase, Status: s.phase, Body: b.maintBody(r, s.phase), IncidentID: r.id,
		CreatedAt: at, UpdatedAt: at, DisplayAt: at, AffectedComponents: affected,
		DeliverNotifications: b.maintNotified(r, s.phase),
	}
}

// maintBody is what an update says: the configured message when
// scheduled, the phase after that.
func (b *builder) maintBody(r maintRow, phase string) string {
	switch phase {
	case phaseInProgress:
		return "Maintenance is in progress."
	case phaseCompleted:
		return "Maintenance has been completed."
	}
	return b.scrub(cmp.Or(r.win.Message, r.win.Name))
}

// maintNotified reports whether a phase of r is sent to a receiver: a
// start or an end, to a receiver that asked for maintenance (about one of
// r's components, if it names any), as notify/events.go queues them.
// Nothing is sent when a window is scheduled.
func (b *builder) maintNotified(r maintRow, phase string) bool {
	if phase == phaseScheduled {
		return false
	}
	for _, rc := range b.cfg.Notify {
		if rc.Maintenance && (len(rc.Components) == 0 ||
			slices.ContainsFunc(r.win.Components, func(c string) bool { return slices.Contains(rc.Components, c) })) {
			return true
		}
	}
	return false
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

// maintViews are the page's maintenance windows, in progress or upcoming,
// each with its timeline as maintenances gives it.
func (b *builder) maintViews() []maintView {
	var out []maintView
	for _, m := range b.maint {
		if m.phase == phaseCompleted {
			continue
		}
		var names []string
		for _, c := range m.win.Components {
			if comp, ok := b.byID[c]; ok {
				names = append(names, b.scrub(comp.Name))
			}
		}
		v := maintView{ID: m.id, Name: b.scrub(m.win.Name), Status: m.phase, StatusText: phaseText(m.phase),
			From: b.human(m.win.Start), Until: b.human(m.win.End), Components: strings.Join(names, ", ")}
		for _, s := range slices.Backward(m.steps()) {
			v.Updates = append(v.Updates, updateView{Status: phaseText(s.phase), Body: b.maintBody(m, s.phase),
				At: b.human(s.at), AtISO: b.ts(s.at)})
		}
		out = append(out, v)
	}
	return out
}

// phaseText is a phase for people: "in progress".
func phaseText(phase string) string { return strings.ReplaceAll(phase, "_", " ") }
