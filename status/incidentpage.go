package status

import (
	"fmt"
	"net/url"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

const (
	// pathIncidentPrefix is where each incident has a page of its own, the
	// target of its shortlink (docs/operations.md: GET /incidents/{id}).
	pathIncidentPrefix = "/incidents/"
	// maxIncidentIDBytes bounds the ids the incident route looks up; ids
	// are 12 characters (incident.NewID).
	maxIncidentIDBytes = 64
)

// incidentPageView is an incident's own page: everything incidentView has,
// and the worst status each component reached. A scheduled maintenance's
// page has its window instead (Started to Until) and no statuses.
type incidentPageView struct {
	incidentView
	Affected       []affectedView
	Maintenance    bool
	Until, UntilAt string
}

type affectedView struct {
	ID     string
	Name   string
	Status detector.ComponentStatus
	Label  string
}

// validIncidentID reports whether id can name an incident page: the
// characters of incident.NewID and of the slugs maintenance ids are made
// of, nothing that could step out of the path or into another body.
func validIncidentID(id string) bool {
	if id == "" || len(id) > maxIncidentIDBytes {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// incidentHref is the link to an incident's page that the HTML pages and
// the feeds use: its shortlink when page.url is set, so that every link to
// an incident is the one incidents.json publishes (a path in page.url is
// the prefix a reverse proxy strips before the request reaches the route),
// else the route's own path.
func (b *builder) incidentHref(id string) string {
	if s := b.shortlink(id); s != nil {
		return *s
	}
	return pathIncidentPrefix + url.PathEscape(id)
}

// renderedPage is one rendered HTML page and the path it is served at.
type renderedPage struct {
	path string
	data []byte
}

// incidentPages returns the page of every incident and scheduled
// maintenance
// incidents.json or incidents/unresolved.json lists, and the page served
// for any other id.
//
// They are rendered with the other pages, not on request: they come from
// the incidents the snapshot already holds (the incidentLimit most recent
// and the open ones, as the Refresher loads them), so their number and
// memory are bounded by what the JSON holds anyway, and they are rendered
// only when the other pages are (pageKey: a new state read, a new minute),
// which keeps a burst of readers following a shortlink from rendering
// anything. Their bodies are lazy: hashed and compressed on first request.
func (b *builder) incidentPages() ([]renderedPage, []byte, error) {
	out := make([]renderedPage, 0, min(len(b.incidents), incidentLimit))
	for i, in := range b.incidents {
		if i >= incidentLimit && in.Status == incident.Resolved {
			continue // not in the JSON: no shortlink points here
		}
		if !validIncidentID(in.ID) {
			continue // the route would never look it up
		}
		v := b.basePage()
		v.Refresh = 0
		pv := incidentPageView{incidentView: b.incidentView(in), Affected: b.worstStatuses(in)}
		v.Incident = &pv
		data, err := b.execute(v)
		if err != nil {
			return nil, nil, fmt.Errorf("status: render incident %s: %w", in.ID, err)
		}
		out = append(out, renderedPage{path: pathIncidentPrefix + in.ID, data: data})
	}
	maint, err := b.maintenancePages()
	if err != nil {
		return nil, nil, err
	}
	out = append(out, maint...)
	v := b.basePage()
	v.Refresh, v.NotFound = 0, true
	notFound, err := b.execute(v)
	if err != nil {
		return nil, nil, fmt.Errorf("status: render incident not found: %w", err)
	}
	return out, notFound, nil
}

// worstStatuses lists the incident's components in page order with the
// worst status each reached in it: its current one in the incident, or
// worse in one of the updates.
func (b *builder) worstStatuses(in incident.Incident) []affectedView {
	worst := make(map[string]detector.ComponentStatus, len(in.Components))
	for id, s := range in.Components {
		worst[id] = s
	}
	for _, u := range in.Updates {
		for _, a := range u.AffectedComponents {
			if _, ok := worst[a.Code]; ok {
				worst[a.Code] = worse(worst[a.Code], a.NewStatus)
			}
		}
	}
	var out []affectedView
	for _, c := range b.componentsOf(in.Components) {
		s := worst[c.ID]
		out = append(out, affectedView{ID: c.ID, Name: b.scrub(c.Name), Status: s, Label: s.Label()})
	}
	return out
}

// affected says what an update changed, one line per component.
func (b *builder) affected(u incident.Update) []string {
	out := make([]string, 0, len(u.AffectedComponents))
	for _, a := range u.AffectedComponents {
		name := a.Name
		if c, ok := b.byID[a.Code]; ok {
			name = c.Name
		}
		if name == "" {
			name = a.Code
		}
		out = append(out, b.scrub(name)+": "+a.OldStatus.Label()+" → "+a.NewStatus.Label())
	}
	return out
}

// startedAt is when the incident began, with the same fallback as its
// JSON's started_at.
func startedAt(in incident.Incident) time.Time {
	if in.StartedAt.IsZero() {
		return in.CreatedAt
	}
	return in.StartedAt
}

// duration is how long a resolved incident lasted ("lasted 4 min 12 s"),
// or how long an open one has been going on ("ongoing for 12 min").
//
// An open one's is counted to the minute of the snapshot's time, the minute
// the pages are rendered for (pageKey): to the second it would be wrong for
// most of the minute the body is served, and differ between replicas that
// rendered it at other seconds.
func (b *builder) duration(in incident.Incident) string {
	if l := lasted(in); l != "" {
		return "lasted " + l
	}
	start := startedAt(in)
	if in.Status == incident.Resolved || start.IsZero() {
		return ""
	}
	d := b.in.Now.Truncate(time.Minute).Sub(start.Truncate(time.Second)).Truncate(time.Minute)
	if d < time.Minute {
		return "ongoing for under a minute"
	}
	return "ongoing for " + humanDuration(d)
}

// lasted is how long a resolved incident lasted, from its start to its
// resolution; "" for an open one. It is the difference of the two times
// the page shows, each to the second, so that a reader can check it.
func lasted(in incident.Incident) string {
	if in.Status != incident.Resolved || in.ResolvedAt.IsZero() {
		return ""
	}
	return humanDuration(in.ResolvedAt.Truncate(time.Second).Sub(startedAt(in).Truncate(time.Second)))
}

// humanDuration writes d in its two largest units, "4 min 12 s", "2 h 5 min",
// "3 d 4 h", leaving out a second unit that is zero.
func humanDuration(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	units := [...]struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "min"}, {time.Second, "s"}}
	i := 0
	for i < len(units)-1 && d < units[i].size {
		i++
	}
	s := fmt.Sprintf("%d %s", d/units[i].size, units[i].name)
	if i+1 < len(units) {
		if r := d % units[i].size / units[i+1].size; r > 0 {
			s += fmt.Sprintf(" %d %s", r, units[i+1].name)
		}
	}
	return s
}
