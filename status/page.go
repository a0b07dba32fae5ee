package status

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

//go:embed page.html.tmpl
var pageTemplateText string

// pastIncidentsWindow is how far back the HTML page lists resolved incidents.
const pastIncidentsWindow = 14 * 24 * time.Hour

// pageTemplate is parsed once; a parsed template is safe for concurrent use
// and never modified.
var pageTemplate = template.Must(template.New("page").Parse(pageTemplateText))

type pageView struct {
	Name        string
	URL         string
	Indicator   Indicator
	Description string
	Stale       bool
	Generated   string
	Sections    []sectionView
	Open        []incidentView
	Past        []incidentView
	Maintenance []maintView
}

// sectionView is a component group, or a run of ungrouped components (Name
// empty).
type sectionView struct {
	Name       string
	Status     detector.ComponentStatus
	Label      string
	Components []compView
}

type compView struct {
	Member      bool // shown indented under its group
	Name        string
	Description string
	Status      detector.ComponentStatus
	Label       string
}

type incidentView struct {
	Name       string
	Status     string
	Impact     string
	Started    string
	Resolved   string
	Components string
	Updates    []updateView
}

type updateView struct {
	Status string
	Body   string
	At     string
}

type maintView struct {
	Name   string
	Status string
	From   string
	Until  string
	Body   string
}

// renderPage renders the HTML status page from the already mapped data.
func (b *builder) renderPage() ([]byte, error) {
	v := pageView{
		Name:        b.page.Name,
		URL:         b.pageURL,
		Indicator:   b.indicator,
		Description: b.indicator.Description(),
		Stale:       b.in.Stale,
		Generated:   b.human(b.in.Now),
		Sections:    b.sections(),
	}
	cutoff := b.in.Now.Add(-pastIncidentsWindow)
	for _, in := range b.incidents {
		switch {
		case in.Status != incident.Resolved:
			v.Open = append(v.Open, b.incidentView(in))
		case !maxTime(in.ResolvedAt, in.UpdatedAt).Before(cutoff):
			v.Past = append(v.Past, b.incidentView(in))
		}
	}
	for _, m := range b.maint {
		if m.phase != phaseCompleted {
			v.Maintenance = append(v.Maintenance, maintView{Name: m.win.Name, Status: m.phase,
				From: b.human(m.win.Start), Until: b.human(m.win.End), Body: b.scrub(m.win.Message)})
		}
	}
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
	for _, c := range b.components {
		if c.Group {
			out = append(out, sectionView{Name: c.Name, Status: c.Status, Label: c.Status.Label()})
			continue
		}
		if c.GroupID == nil && (len(out) == 0 || out[len(out)-1].Name != "") {
			out = append(out, sectionView{})
		}
		desc := ""
		if c.Description != nil {
			desc = *c.Description
		}
		last := &out[len(out)-1]
		last.Components = append(last.Components,
			compView{Member: c.GroupID != nil, Name: c.Name, Description: desc, Status: c.Status, Label: c.Status.Label()})
	}
	return out
}

func (b *builder) incidentView(in incident.Incident) incidentView {
	v := incidentView{Name: b.scrub(in.Name), Status: string(in.Status), Impact: string(in.Impact),
		Started: b.human(in.StartedAt)}
	if !in.ResolvedAt.IsZero() {
		v.Resolved = b.human(in.ResolvedAt)
	}
	var names []string
	for _, c := range b.componentsOf(in.Components) {
		names = append(names, c.Name)
	}
	v.Components = strings.Join(names, ", ")
	for _, u := range slices.Backward(in.Updates) {
		v.Updates = append(v.Updates, updateView{Status: string(u.Status), Body: b.scrub(u.Body),
			At: b.human(u.CreatedAt)})
	}
	return v
}

// human formats a time for people, in the page's time zone.
func (b *builder) human(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(b.loc).Format("Jan 2, 2006 15:04 MST")
}
