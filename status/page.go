package status

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

//go:embed page.html.tmpl
var pageTemplateText string

const (
	// pastIncidentsWindow is how far back the front page lists resolved
	// incidents; /history lists all that are kept.
	pastIncidentsWindow = 14 * 24 * time.Hour
	pathHistory         = "/history"
	// pathPageStatic keys the front page without auto-refresh, served at
	// /?refresh=off.
	pathPageStatic = "/?refresh=off"
	// refreshSeconds is the pages' meta refresh.
	refreshSeconds = 60
)

// pageTemplate is parsed once; a parsed template is safe for concurrent use
// and never modified.
var pageTemplate = template.Must(template.New("page").Parse(pageTemplateText))

type pageView struct {
	Name      string
	URL       string
	Indicator Indicator
	// Banner and BannerClass are the headline and its colour: the
	// indicator's, or a calm one after a recovery (see banner).
	Banner      string
	BannerClass string
	Stale       bool
	Generated   string
	GeneratedAt string // machine-readable
	Refresh     int
	Sections    []sectionView
	Open        []incidentView
	Past        []incidentView
	Maintenance []maintView
	// History is set on the history page.
	History bool
	Months  []monthView
	// Incident is set on an incident's own page, NotFound on the page
	// served for an unknown incident.
	Incident *incidentPageView
	NotFound bool
}

// sectionView is a component group, or a run of ungrouped components (Name
// empty).
type sectionView struct {
	ID         string
	Name       string
	Status     detector.ComponentStatus
	Label      string
	Components []compView
}

type compView struct {
	ID          string
	Name        string
	Description string
	Status      detector.ComponentStatus
	Label       string
	Bars        []barView
	Uptime      string
	// Vantages, with vantages, says what the verdict rests on when not on
	// every vantage agreeing: "Failing from eu-west only", "Seen from 2
	// of 3 vantages" (vantageNote).
	Vantages string
}

// barView is one day of the uptime bars.
type barView struct {
	Class string // the worst status that day, or "nodata"
	Date  string
	Label string // status and uptime in words
	Notes []string
	// Focus makes the bar a tab stop: only days with something to say, so
	// that a keyboard does not wade through 90 good days per component.
	Focus bool
}

type incidentView struct {
	Nested     bool   // under a month heading (history page)
	Href       string // the incident's own page: its shortlink
	ID         string
	Name       string
	Status     string
	Impact     string
	Started    string
	StartedAt  string
	Resolved   string
	ResolvedAt string
	// Duration is "lasted 4 min 12 s" or "ongoing for 12 min".
	Duration   string
	Components string
	Updates    []updateView
}

type updateView struct {
	Status string
	Body   string
	At     string
	AtISO  string
	// Affected is what the update changed, "Web App: operational →
	// major outage" (shown on the incident's own page).
	Affected []string
}

type maintView struct {
	ID         string
	Name       string
	Status     string
	StatusText string
	From       string
	Until      string
	Components string
	// Updates are its phases so far, newest first.
	Updates []updateView
}

type monthView struct {
	Name      string
	Incidents []incidentView
}

// renderPage renders the front page from the already mapped data.
func (b *builder) renderPage() ([]byte, error) { return b.renderFront(refreshSeconds) }

// renderStaticPage is the front page without the meta refresh, for people
// who asked it to stop (WCAG 2.2.1: a time limit the user can turn off).
func (b *builder) renderStaticPage() ([]byte, error) { return b.renderFront(0) }

func (b *builder) renderFront(refresh int) ([]byte, error) {
	v := b.basePage()
	v.Refresh = refresh
	v.Sections = b.sections()
	cutoff := b.in.Now.Add(-pastIncidentsWindow)
	for _, in := range b.incidents {
		switch {
		case in.Status != incident.Resolved:
			v.Open = append(v.Open, b.incidentView(in))
		case !maxTime(in.ResolvedAt, in.UpdatedAt).Before(cutoff):
			v.Past = append(v.Past, b.incidentView(in))
		}
	}
	v.Maintenance = b.maintViews()
	return b.execute(v)
}

// renderHistory renders /history: every incident kept, by month.
func (b *builder) renderHistory() ([]byte, error) {
	v := b.basePage()
	v.History = true
	v.Refresh = 0 // an archive: nothing to follow
	for _, in := range b.incidents {
		// By creation, the order incidents are listed in, so that a month
		// never comes twice.
		month := in.CreatedAt.In(b.loc).Format("January 2006")
		if len(v.Months) == 0 || v.Months[len(v.Months)-1].Name != month {
			v.Months = append(v.Months, monthView{Name: month})
		}
		last := &v.Months[len(v.Months)-1]
		iv := b.incidentView(in)
		iv.Nested = true
		last.Incidents = append(last.Incidents, iv)
	}
	return b.execute(v)
}

func (b *builder) basePage() pageView {
	class, text := b.banner()
	return pageView{
		Name:        b.scrub(b.page.Name),
		URL:         b.pageURL,
		Indicator:   b.indicator,
		Banner:      text,
		BannerClass: class,
		Stale:       b.in.Stale,
		Generated:   b.human(b.pageGeneratedAt()),
		GeneratedAt: b.ts(b.pageGeneratedAt()),
		Refresh:     refreshSeconds,
	}
}

// bannerMonitoring is the banner's class and text while every component has
// recovered and the only open incidents are being monitored.
const (
	bannerMonitoring     = "monitoring"
	bannerMonitoringText = "Service Recovered — Monitoring"
)

// banner is the headline of the front and history pages: the indicator and
// its phrase, except after a recovery. The indicator (status.json, computed
// as Statuspage does in status/indicator.go) keeps an unresolved incident's
// impact until it is resolved, resolve_after after everything recovered;
// a person reading "Major Service Outage" meanwhile would think the outage
// still on. So while every open incident is monitoring and every component
// operational, the banner says the service recovered and is watched, in a
// calm colour.
func (b *builder) banner() (class, text string) {
	open := 0
	for _, in := range b.incidents {
		switch in.Status {
		case incident.Resolved:
			continue
		case incident.Monitoring:
			open++
		default:
			return string(b.indicator), b.indicator.Description()
		}
	}
	if open == 0 {
		return string(b.indicator), b.indicator.Description()
	}
	for _, s := range b.statuses {
		if s != detector.Operational {
			return string(b.indicator), b.indicator.Description()
		}
	}
	return bannerMonitoring, bannerMonitoringText
}

func (b *builder) execute(v pageView) ([]byte, error) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("status: render page: %w", err)
	}
	return buf.Bytes(), nil
}

// sections groups the component list for display, in page order. The list
// has each group right before its members, so a member joins the last
// section.
func (b *builder) sections() []sectionView {
	var out []sectionView
	notes := b.vantageNotes()
	for _, c := range b.components {
		if c.Group {
			out = append(out, sectionView{ID: c.ID, Name: b.scrub(c.Name), Status: c.Status, Label: c.Status.Label()})
			continue
		}
		if c.GroupID == nil && (len(out) == 0 || out[len(out)-1].Name != "") {
			out = append(out, sectionView{})
		}
		desc := ""
		if c.Description != nil {
			desc = *c.Description
		}
		days := b.days[c.ID]
		last := &out[len(out)-1]
		last.Components = append(last.Components, compView{ID: c.ID, Name: b.scrub(c.Name), Description: b.scrub(desc),
			Status: c.Status, Label: c.Status.Label(), Bars: b.bars(days), Uptime: uptimeSummary(historyRatio(days)),
			Vantages: notes[c.ID]})
	}
	return out
}

// uptimeSummary is the line under a component's bars.
func uptimeSummary(ratio float64, ok bool) string {
	if !ok {
		return "no data yet"
	}
	return uptimePct(ratio, true) + " uptime"
}

// bars turns a component's days into the uptime bars.
func (b *builder) bars(days []dayView) []barView {
	out := make([]barView, len(days))
	for i, d := range days {
		bar := barView{Class: "nodata", Date: d.Date.Format("Jan 2, 2006"), Label: "no data"}
		if d.Status != "" {
			bar.Class = string(d.Status)
			bar.Label = d.Status.Label()
			if d.Status == detector.Operational {
				bar.Label = "no downtime"
			}
			if d.HasRatio {
				bar.Label += ", " + uptimePct(d.Ratio, true) + " uptime"
			}
		}
		for _, in := range d.Incidents {
			bar.Notes = append(bar.Notes, in.Name)
		}
		bar.Focus = len(bar.Notes) > 0 || (d.Status != "" && d.Status != detector.Operational)
		out[i] = bar
	}
	return out
}

func (b *builder) incidentView(in incident.Incident) incidentView {
	started := startedAt(in)
	v := incidentView{Href: b.incidentHref(in.ID), ID: in.ID, Name: b.scrub(in.Name), Status: string(in.Status),
		Impact: string(in.Impact), Started: b.human(started), StartedAt: b.ts(started), Duration: b.duration(in)}
	if !in.ResolvedAt.IsZero() {
		v.Resolved, v.ResolvedAt = b.human(in.ResolvedAt), b.ts(in.ResolvedAt)
	}
	var names []string
	for _, c := range b.componentsOf(in.Components) {
		names = append(names, c.Name)
	}
	v.Components = strings.Join(names, ", ")
	for _, u := range slices.Backward(in.Updates) {
		v.Updates = append(v.Updates, updateView{Status: string(u.Status), Body: b.scrub(u.Body),
			At: b.human(u.CreatedAt), AtISO: b.ts(u.CreatedAt), Affected: b.affected(u)})
	}
	return v
}

// human formats a time for people, in the page's time zone, to the second:
// several updates often come within one minute, and a timeline that reads
// "18:17" five times says nothing about their order or spacing.
func (b *builder) human(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(b.loc).Format("Jan 2, 2006 15:04:05 MST")
}

// vantageNotes are what each component's row says of its vantages: those
// that see a failure fewer than the quorum share (so the status does not
// show it, or shows it as degraded under regional: degraded), and, when
// some of the vantages that probe it are gone or silent, how many the
// verdict rests on. Nil without vantages; no entry when all agree.
func (b *builder) vantageNotes() map[string]string {
	if len(b.cfg.Vantages) == 0 {
		return nil
	}
	probing := b.cfg.ProbingVantages()
	out := map[string]string{}
	for _, c := range b.cfg.Components {
		st := b.in.State.Components[c.ID]
		var notes []string
		if n := len(st.FailingFrom); n > 0 && n < config.QuorumOf(c.Quorum, st.Vantages) {
			notes = append(notes, "Failing from "+andList(st.FailingFrom)+" only")
		}
		if all := len(probing[c.ID]); st.Vantages > 0 && st.Vantages < all {
			notes = append(notes, fmt.Sprintf("Seen from %d of %d vantages", st.Vantages, all))
		}
		if len(notes) > 0 {
			out[c.ID] = strings.Join(notes, " · ")
		}
	}
	return out
}

// andList joins names as "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
