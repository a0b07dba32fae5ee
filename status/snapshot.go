// Package status serves tocsin's public read API — Statuspage v2 JSON, the
// /api/v1/checks JSON, the HTML status page, health and metrics — from an
// immutable snapshot that is rebuilt in the background. No request ever waits
// on the store.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/uptime"
)

// Paths of the snapshot-backed read endpoints.
const (
	pathPage               = "/"
	pathStatus             = "/api/v2/status.json"
	pathSummary            = "/api/v2/summary.json"
	pathComponents         = "/api/v2/components.json"
	pathIncidents          = "/api/v2/incidents.json"
	pathUnresolved         = "/api/v2/incidents/unresolved.json"
	pathMaintenances       = "/api/v2/scheduled-maintenances.json"
	pathMaintUpcoming      = "/api/v2/scheduled-maintenances/upcoming.json"
	pathMaintActive        = "/api/v2/scheduled-maintenances/active.json"
	pathChecks             = "/api/v1/checks"
	contentTypeJSON        = "application/json; charset=utf-8"
	contentTypeHTML        = "text/html; charset=utf-8"
	incidentLimit          = 50
	timeLayout             = "2006-01-02T15:04:05.000Z07:00" // RFC 3339 with milliseconds, as Statuspage
	minScrubbedSecretBytes = 4
)

// Inputs is everything a snapshot is built from.
type Inputs struct {
	Config *config.Config
	// State holds the components' stored statuses and the incidents (open
	// and recent), newest first.
	State incident.State
	// Checks are the check states their owners published, in any order.
	// A snapshot keeps the states to encode the checks documents on
	// request, so a state must not change once given; the slice may
	// (the Refresher reorders and replaces its elements, checkset.go).
	Checks []*detector.Check
	// CheckVantages holds the vantage each of Checks was published from,
	// with vantages (config vantages); nil or "" without.
	CheckVantages []string
	// ChecksUpdated is when the check states were last published, by the
	// store's clock (zero: unknown).
	ChecksUpdated time.Time
	// Now is the clock time-dependent output is judged by (maintenance
	// phases, the day, what counts as past); the Refresher takes it from
	// the store, whose clock every replica shares.
	Now time.Time
	// Stale is set when the store could not be read; State is the last good
	// one.
	Stale bool
	// Uptime holds each component's recent days (any order, any range:
	// the days shown are picked by date); nil shows no data.
	Uptime map[string][]uptime.ComponentDay
	// UptimeAt is the instant Uptime stands for (the slot it was read
	// for, the same on every replica); zero if unknown.
	UptimeAt time.Time
	// StateRead and UptimeRead are when State and Uptime were read. When
	// both are set and the same as for the previous snapshot, as are the
	// config, staleness, maintenance phases and the minute, a Refresher's
	// rebuild reuses the previous HTML pages, feeds, badges and uptime
	// documents instead of rendering them again.
	StateRead, UptimeRead time.Time
	// Epoch stands in for times the state does not know (a component never
	// stored yet); the Refresher passes when the store was created, which
	// every replica reads alike, so bodies stay byte-identical across
	// rebuilds and replicas. Zero means Now.
	Epoch time.Time
}

// Snapshot is an immutable view of the status: every read endpoint's body
// with its ETag and gzip variant. The bodies of single checks are encoded on
// first request, from the snapshot's own data, once. Safe for concurrent
// use.
type Snapshot struct {
	// Built is Inputs.Now.
	Built time.Time
	// Stale is Inputs.Stale.
	Stale bool
	// Indicator is the page's overall status.
	Indicator Indicator
	// ComponentStatuses maps every configured component id to the status
	// shown.
	ComponentStatuses map[string]detector.ComponentStatus
	// OpenIncidentsByImpact counts unresolved incidents per impact; every
	// impact is present.
	OpenIncidentsByImpact map[incident.Impact]int

	bodies map[string]*body
	checks *checkBodies
	// pages are the HTML pages, feeds, badges and uptime documents,
	// rendered on first request (pages.go); nil in a snapshot without
	// them.
	pages *pageSet

	// What the next build may reuse when the config is the same.
	cfg   *config.Config
	loc   *time.Location
	scrub func(string) string
}

// Body returns the uncompressed body and ETag served at path.
func (s *Snapshot) Body(path string) (data []byte, etag string, ok bool) {
	b, ok, err := s.body(path)
	if !ok || err != nil {
		return nil, "", false
	}
	etag, _ = b.tags()
	return b.bytes(), etag, true
}

// body returns the body served at path; err is the failure to render the
// page that holds it.
func (s *Snapshot) body(path string) (*body, bool, error) {
	if name, ok := strings.CutPrefix(path, pathChecks+"/"); ok {
		b, ok := s.checks.get(name)
		return b, ok, nil
	}
	if path == pathChecks && s.checks != nil {
		return s.checks.listBody(), true, nil
	}
	if rest, ok := strings.CutPrefix(path, pathComponentsV1); ok {
		id, days, _ := strings.Cut(rest, uptimeQuery)
		n, err := strconv.Atoi(days)
		if err != nil || s.pages == nil {
			return nil, false, nil
		}
		b, ok := s.pages.uptimeDocs().get(id, n)
		return b, ok, nil
	}
	if b, ok := s.bodies[path]; ok {
		return b, true, nil
	}
	if s.pages == nil {
		return nil, false, nil
	}
	return s.pages.get(path)
}

// Paths lists every path the snapshot has a body for, sorted. It renders
// every page.
func (s *Snapshot) Paths() ([]string, error) {
	var checks map[string]int
	if s.checks != nil {
		checks = s.checks.names
	}
	out := make([]string, 0, len(s.bodies)+len(checks)+1)
	for p := range s.bodies {
		out = append(out, p)
	}
	if s.checks != nil {
		out = append(out, pathChecks)
	}
	for name := range checks {
		out = append(out, pathChecks+"/"+name)
	}
	if s.pages != nil {
		pages, err := s.pages.paths()
		if err != nil {
			return nil, err
		}
		out = append(out, pages...)
	}
	slices.Sort(out)
	return out, nil
}

// builder carries what the mapping functions share during one Build.
type builder struct {
	in      Inputs
	cfg     *config.Config
	loc     *time.Location
	base    time.Time // fallback for unknown times
	page    pageJSON
	pageURL string
	scrub   func(string) string

	rows       []compRow
	components []componentJSON
	byID       map[string]componentJSON
	statuses   map[string]detector.ComponentStatus
	incidents  []incident.Incident
	maint      []maintRow
	indicator  Indicator
	days       map[string][]dayView // uptime history by component
}

// Build maps the inputs to every read endpoint's body and encodes each once.
func Build(in Inputs) (*Snapshot, error) {
	return build(context.Background(), in, buildOptions{})
}

// buildOptions is what a Refresher passes to build besides the inputs.
type buildOptions struct {
	// enc makes the bodies; nil means a new encoder.
	enc *encoder
	// prev is the last snapshot: bodies and check objects that did not
	// change are taken from it instead of being encoded again.
	prev *Snapshot
}

// build is Build with reuse; it gives up with ctx's error between steps.
func build(ctx context.Context, in Inputs, o buildOptions) (*Snapshot, error) {
	if in.Config == nil {
		return nil, errors.New("status: build: no config")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("status: build: %w", err)
	}
	if o.enc == nil {
		o.enc = newEncoder()
	}
	var prevBodies map[string]*body
	if o.prev != nil {
		prevBodies = o.prev.bodies
	}
	b := newBuilder(in, o.prev)
	b.buildMaintenance()
	b.buildComponents()
	b.incidents = sortIncidents(in.State.Incidents)
	b.indicator = b.overall()
	b.page.UpdatedAt = b.ts(b.pageUpdatedAt())

	snap := &Snapshot{
		Built:                 in.Now,
		Stale:                 in.Stale,
		Indicator:             b.indicator,
		ComponentStatuses:     b.statuses,
		OpenIncidentsByImpact: b.openByImpact(),
		bodies:                map[string]*body{},
		cfg:                   b.cfg,
		loc:                   b.loc,
		scrub:                 b.scrub,
	}
	for path, doc := range b.documents() {
		data, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("status: encode %s: %w", path, err)
		}
		snap.bodies[path] = o.enc.reuse(prevBodies[path], data, contentTypeJSON, false)
	}
	b.pageBodies(snap, o)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("status: build: %w", err)
	}
	var err error
	if snap.checks, err = b.checkList(ctx, o.enc, o.prev); err != nil {
		return nil, err
	}
	return snap, nil
}

// generatedAt is when what the documents show last changed in the store,
// by the store's clock: the same on every replica, and unchanged while the
// store does not change, so that an unchanged document keeps its ETag.
// Changes that are not the store's (a config reload, a maintenance window
// beginning, a new read of the uptime history) change a document without
// moving it.
func (b *builder) generatedAt() time.Time {
	if t := maxTime(b.in.State.UpdatedAt, b.in.ChecksUpdated); !t.IsZero() {
		return t
	}
	return b.base
}

// pageGeneratedAt is generatedAt for what the HTML page and the uptime
// documents show: the state and the uptime history, not the checks.
func (b *builder) pageGeneratedAt() time.Time {
	if t := maxTime(b.in.State.UpdatedAt, b.in.UptimeAt); !t.IsZero() {
		return t
	}
	return b.base
}

// newBuilder prepares a build; the time zone and the scrubber, which only
// depend on the config, are taken from prev when its config is the same.
func newBuilder(in Inputs, prev *Snapshot) *builder {
	b := &builder{in: in, cfg: in.Config, loc: time.UTC, base: in.Epoch}
	if b.base.IsZero() {
		b.base = in.Now
	}
	p := in.Config.Page
	tz := p.TimeZone
	switch {
	case tz == "":
		tz = "Etc/UTC"
	case prev != nil && prev.cfg == in.Config:
		b.loc = prev.loc
	default:
		if loc, err := time.LoadLocation(tz); err == nil {
			b.loc = loc
		}
	}
	id := p.ID
	if id == "" {
		id = slug(p.Name)
	}
	b.pageURL = strings.TrimSuffix(p.URL, "/")
	b.page = pageJSON{ID: id, Name: p.Name, URL: b.pageURL, TimeZone: tz}
	if prev != nil && prev.cfg == in.Config {
		b.scrub = prev.scrub
	} else {
		b.scrub = newScrubber(in.Config.Secrets())
	}
	return b
}

// documents returns the value to encode for every Statuspage endpoint; the
// checks list is encoded by checkList.
func (b *builder) documents() map[string]any {
	all := make([]incidentJSON, 0, min(len(b.incidents), incidentLimit))
	open := make([]incidentJSON, 0)
	for i, in := range b.incidents {
		if i >= incidentLimit && in.Status == incident.Resolved {
			continue
		}
		j := b.incident(in)
		if i < incidentLimit {
			all = append(all, j)
		}
		if in.Status != incident.Resolved {
			open = append(open, j)
		}
	}
	st := statusJSON{Indicator: b.indicator, Description: b.indicator.Description()}
	return map[string]any{
		pathStatus:       statusDoc{Page: b.page, Status: st},
		pathComponents:   componentsDoc{Page: b.page, Components: b.components},
		pathIncidents:    incidentsDoc{Page: b.page, Incidents: all},
		pathUnresolved:   incidentsDoc{Page: b.page, Incidents: open},
		pathMaintenances: maintenancesDoc{Page: b.page, ScheduledMaintenances: b.maintenances()},
		pathMaintUpcoming: maintenancesDoc{Page: b.page,
			ScheduledMaintenances: b.maintenances(phaseScheduled)},
		pathMaintActive: maintenancesDoc{Page: b.page,
			ScheduledMaintenances: b.maintenances(phaseInProgress)},
		pathSummary: summaryDoc{Page: b.page, Components: b.components, Incidents: open,
			ScheduledMaintenances: b.maintenances(phaseInProgress, phaseScheduled), Status: st},
	}
}

// overall is the page indicator: the worst of the component statuses, the
// open incidents' impacts and any maintenance in progress.
func (b *builder) overall() Indicator {
	ind := IndicatorNone
	for _, s := range b.statuses {
		ind = ind.worse(indicatorOfComponent(s))
	}
	for _, in := range b.incidents {
		if in.Status != incident.Resolved {
			ind = ind.worse(indicatorOfImpact(in.Impact))
		}
	}
	for _, m := range b.maint {
		if m.phase == phaseInProgress {
			ind = ind.worse(IndicatorMaintenance)
		}
	}
	return ind
}

func (b *builder) openByImpact() map[incident.Impact]int {
	out := make(map[incident.Impact]int, len(incident.Impacts()))
	for _, im := range incident.Impacts() {
		out[im] = 0
	}
	for _, in := range b.incidents {
		if in.Status != incident.Resolved {
			im := in.Impact
			if im == "" {
				im = incident.ImpactNone
			}
			out[im]++
		}
	}
	return out
}

// ts is the one timestamp format of every body, in the page's time zone.
func (b *builder) ts(t time.Time) string { return t.In(b.loc).Format(timeLayout) }

// tsNull is ts with null for the zero time.
func (b *builder) tsNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := b.ts(t)
	return &s
}

// slug turns a display name into an id fragment: [a-z0-9-]+.
func slug(s string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
			dash = false
			continue
		}
		if !dash && sb.Len() > 0 {
			sb.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(sb.String(), "-")
	if out == "" {
		h := fnv.New32a()
		_, _ = h.Write([]byte(s))
		out = fmt.Sprintf("x%08x", h.Sum32())
	}
	return out
}

// newScrubber returns a function that replaces every known secret value in
// free text (probe messages, incident bodies) with a placeholder. Very short
// values are skipped: replacing them would garble ordinary words.
func newScrubber(secrets []string) func(string) string {
	var long []string
	for _, s := range secrets {
		if len(s) >= minScrubbedSecretBytes {
			long = append(long, s)
		}
	}
	if len(long) == 0 {
		return func(s string) string { return s }
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortFunc(long, func(a, c string) int { return len(c) - len(a) })
	pairs := make([]string, 0, 2*len(long))
	for _, s := range long {
		pairs = append(pairs, s, "<redacted>")
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}
