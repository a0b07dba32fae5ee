package status

import (
	"cmp"
	"slices"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// The JSON documents below follow the Atlassian Statuspage public API v2 field
// for field: names, enum values, nesting and nulls, so that existing widgets
// and clients read them unchanged.

type pageJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

type statusJSON struct {
	Indicator   Indicator `json:"indicator"`
	Description string    `json:"description"`
}

type componentJSON struct {
	ID                 string                   `json:"id"`
	Name               string                   `json:"name"`
	Status             detector.ComponentStatus `json:"status"`
	CreatedAt          string                   `json:"created_at"`
	UpdatedAt          string                   `json:"updated_at"`
	Position           int                      `json:"position"`
	Description        *string                  `json:"description"`
	Showcase           bool                     `json:"showcase"`
	StartDate          *string                  `json:"start_date"`
	GroupID            *string                  `json:"group_id"`
	PageID             string                   `json:"page_id"`
	Group              bool                     `json:"group"`
	OnlyShowIfDegraded bool                     `json:"only_show_if_degraded"`
	// Components lists a group's member ids; absent on plain components.
	Components []string `json:"components,omitempty"`
}

type incidentJSON struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	MonitoringAt    *string         `json:"monitoring_at"`
	ResolvedAt      *string         `json:"resolved_at"`
	Impact          string          `json:"impact"`
	Shortlink       *string         `json:"shortlink"`
	StartedAt       string          `json:"started_at"`
	PageID          string          `json:"page_id"`
	IncidentUpdates []updateJSON    `json:"incident_updates"`
	Components      []componentJSON `json:"components"`
}

type updateJSON struct {
	ID                   string         `json:"id"`
	Status               string         `json:"status"`
	Body                 string         `json:"body"`
	IncidentID           string         `json:"incident_id"`
	CreatedAt            string         `json:"created_at"`
	UpdatedAt            string         `json:"updated_at"`
	DisplayAt            string         `json:"display_at"`
	AffectedComponents   []affectedJSON `json:"affected_components"`
	DeliverNotifications bool           `json:"deliver_notifications"`
	CustomTweet          *string        `json:"custom_tweet"`
	TweetID              *string        `json:"tweet_id"`
}

type affectedJSON struct {
	Code      string                   `json:"code"`
	Name      string                   `json:"name"`
	OldStatus detector.ComponentStatus `json:"old_status"`
	NewStatus detector.ComponentStatus `json:"new_status"`
}

// Response envelopes, one per endpoint.
type (
	statusDoc struct {
		Page   pageJSON   `json:"page"`
		Status statusJSON `json:"status"`
	}
	componentsDoc struct {
		Page       pageJSON        `json:"page"`
		Components []componentJSON `json:"components"`
	}
	incidentsDoc struct {
		Page      pageJSON       `json:"page"`
		Incidents []incidentJSON `json:"incidents"`
	}
	maintenancesDoc struct {
		Page                  pageJSON          `json:"page"`
		ScheduledMaintenances []maintenanceJSON `json:"scheduled_maintenances"`
	}
	summaryDoc struct {
		Page                  pageJSON          `json:"page"`
		Components            []componentJSON   `json:"components"`
		Incidents             []incidentJSON    `json:"incidents"`
		ScheduledMaintenances []maintenanceJSON `json:"scheduled_maintenances"`
		Status                statusJSON        `json:"status"`
	}
)

// compRow is one configured component with its resolved status and times.
type compRow struct {
	cfg     config.Component
	groupID string // "" when ungrouped
	status  detector.ComponentStatus
	created time.Time
	updated time.Time
}

// buildComponents resolves every configured component's status and lays out
// the Statuspage component list: each group right before its members,
// positions 1..n in config order.
func (b *builder) buildComponents() {
	human := b.humanStatuses()
	rows := make([]compRow, 0, len(b.cfg.Components))
	for _, c := range b.cfg.Components {
		rows = append(rows, b.componentRow(c, human[c.ID]))
	}
	b.rows = rows
	b.components = make([]componentJSON, 0, len(rows))
	b.byID = make(map[string]componentJSON, len(rows))
	b.statuses = make(map[string]detector.ComponentStatus, len(rows))
	done := map[string]bool{}
	for _, r := range rows {
		b.statuses[r.cfg.ID] = r.status
		if r.groupID == "" {
			b.addComponent(r)
			continue
		}
		if done[r.groupID] {
			continue
		}
		done[r.groupID] = true
		var members []compRow
		for _, m := range rows {
			if m.groupID == r.groupID {
				members = append(members, m)
			}
		}
		b.addGroup(r.cfg.Group, r.groupID, members)
	}
}

// humanStatus is the worst status people set on a component through its
// unresolved incidents, and when they set it.
type humanStatus struct {
	status detector.ComponentStatus
	at     time.Time
}

// humanStatuses collects, per component, the worst status people set on
// it in an unresolved incident (docs/architecture.md, People's actions: worst of human and automatic).
func (b *builder) humanStatuses() map[string]humanStatus {
	var out map[string]humanStatus
	for _, in := range b.in.State.Incidents {
		if in.Status == incident.Resolved {
			continue
		}
		for id, s := range in.HumanComponents {
			if out == nil {
				out = map[string]humanStatus{}
			}
			if cur, ok := out[id]; !ok || s.Rank() > cur.status.Rank() {
				out[id] = humanStatus{s, in.CreatedAt}
			}
		}
	}
	return out
}

// componentRow takes the stored status (operational when none is stored),
// shows under_maintenance while a maintenance window covers an otherwise
// operational component, and the status people set (h) when it is worse.
func (b *builder) componentRow(c config.Component, h humanStatus) compRow {
	r := compRow{cfg: c, status: detector.Operational, updated: b.base}
	if st, ok := b.in.State.Components[c.ID]; ok {
		if st.Status.Valid() {
			r.status = st.Status
		}
		if !st.UpdatedAt.IsZero() {
			r.updated = st.UpdatedAt
		}
	}
	if r.status == detector.Operational && b.inMaintenance(c.ID) {
		r.status = detector.UnderMaintenance
	}
	if h.status.Valid() && h.status.Rank() > r.status.Rank() {
		r.status = h.status
		r.updated = maxTime(r.updated, h.at)
	}
	r.created = minTime(b.base, r.updated)
	if c.Group != "" {
		r.groupID = "grp-" + slug(c.Group)
	}
	return r
}

func (b *builder) addComponent(r compRow) {
	c := componentJSON{
		ID:          r.cfg.ID,
		Name:        r.cfg.Name,
		Status:      r.status,
		CreatedAt:   b.ts(r.created),
		UpdatedAt:   b.ts(r.updated),
		Position:    len(b.components) + 1,
		Description: nullString(r.cfg.Description),
		Showcase:    true,
		GroupID:     nullString(r.groupID),
		PageID:      b.page.ID,
	}
	b.components = append(b.components, c)
	b.byID[c.ID] = c
}

// addGroup adds a group component (status: its worst member) and then its
// members.
func (b *builder) addGroup(name, id string, members []compRow) {
	g := componentJSON{ID: id, Name: name, Status: detector.Operational, Position: len(b.components) + 1,
		PageID: b.page.ID, Group: true}
	created, updated := members[0].created, members[0].updated
	for _, m := range members {
		g.Status = worse(g.Status, m.status)
		created, updated = minTime(created, m.created), maxTime(updated, m.updated)
		g.Components = append(g.Components, m.cfg.ID)
	}
	g.CreatedAt, g.UpdatedAt = b.ts(created), b.ts(updated)
	b.components = append(b.components, g)
	for _, m := range members {
		b.addComponent(m)
	}
}

// worse returns the worse of two component statuses.
func worse(a, c detector.ComponentStatus) detector.ComponentStatus {
	if c.Rank() > a.Rank() {
		return c
	}
	return a
}

// sortIncidents orders the state's incidents newest first (by creation, then
// id) so the output does not depend on the store's ordering.
func sortIncidents(in []incident.Incident) []incident.Incident {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, c incident.Incident) int {
		if n := c.CreatedAt.Compare(a.CreatedAt); n != 0 {
			return n
		}
		return cmp.Compare(a.ID, c.ID)
	})
	return out
}

func (b *builder) incident(in incident.Incident) incidentJSON {
	created := in.CreatedAt
	updated := in.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	started := in.StartedAt
	if started.IsZero() {
		started = created
	}
	impact := string(in.Impact)
	if impact == "" {
		impact = string(incident.ImpactNone)
	}
	updates := make([]updateJSON, 0, len(in.Updates))
	for i := len(in.Updates) - 1; i >= 0; i-- {
		updates = append(updates, b.update(in.ID, in.Updates[i]))
	}
	return incidentJSON{
		ID:              in.ID,
		Name:            b.scrub(in.Name),
		Status:          string(in.Status),
		CreatedAt:       b.ts(created),
		UpdatedAt:       b.ts(updated),
		MonitoringAt:    b.tsNull(in.MonitoringAt),
		ResolvedAt:      b.tsNull(in.ResolvedAt),
		Impact:          impact,
		Shortlink:       b.shortlink(in.ID),
		StartedAt:       b.ts(started),
		PageID:          b.page.ID,
		IncidentUpdates: updates,
		Components:      b.componentsOf(in.Components),
	}
}

func (b *builder) update(incidentID string, u incident.Update) updateJSON {
	var affected []affectedJSON
	for _, a := range u.AffectedComponents {
		affected = append(affected, affectedJSON(a))
	}
	at := b.ts(u.CreatedAt)
	return updateJSON{
		ID:                   u.ID,
		Status:               string(u.Status),
		Body:                 b.scrub(u.Body),
		IncidentID:           incidentID,
		CreatedAt:            at,
		UpdatedAt:            at,
		DisplayAt:            at,
		AffectedComponents:   affected,
		DeliverNotifications: u.Notified,
	}
}

// componentsOf returns the component objects of an incident's components in
// page order; a component no longer configured gets a minimal object so the
// incident's history keeps it.
func (b *builder) componentsOf(m map[string]detector.ComponentStatus) []componentJSON {
	out := make([]componentJSON, 0, len(m))
	var gone []string
	for _, c := range b.components {
		if _, ok := m[c.ID]; ok && !c.Group {
			out = append(out, c)
		}
	}
	for id := range m {
		if _, ok := b.byID[id]; !ok {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		out = append(out, componentJSON{ID: id, Name: id, Status: m[id], CreatedAt: b.ts(b.base),
			UpdatedAt: b.ts(b.base), PageID: b.page.ID})
	}
	return out
}

func (b *builder) shortlink(id string) *string {
	if b.cfg.Page.URL == "" {
		return nil
	}
	s := b.pageURL + pathIncidentPrefix + id
	return &s
}

// pageUpdatedAt is the latest change the page shows.
func (b *builder) pageUpdatedAt() time.Time {
	var t time.Time
	for _, r := range b.rows {
		if st, ok := b.in.State.Components[r.cfg.ID]; ok {
			t = maxTime(t, st.UpdatedAt)
		}
	}
	for _, in := range b.incidents {
		t = maxTime(t, maxTime(in.CreatedAt, in.UpdatedAt))
	}
	for _, m := range b.maint {
		if m.phase != phaseScheduled {
			t = maxTime(t, m.changed)
		}
	}
	if t.IsZero() {
		return b.base
	}
	return t
}

func minTime(a, c time.Time) time.Time {
	if a.IsZero() || (!c.IsZero() && c.Before(a)) {
		return c
	}
	return a
}

func maxTime(a, c time.Time) time.Time {
	if c.After(a) {
		return c
	}
	return a
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
