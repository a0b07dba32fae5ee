package main

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/acme"
	"github.com/tocsin/tocsin/internal/redistest"
)

// browserConfig is the page the browser tests load: a group of two mail
// components and two components on their own, each watched by an HTTP check
// of its own target (named <component>-check), in compressed time. The
// latencies leave a loaded machine room: a healthy target answers well
// within degraded_latency, a slow one (650 ms) well within the timeout. The
// last verb takes extra YAML.
const browserConfig = `
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "browser:"}
page: {name: "Acme Status"}
defaults: {interval: 1s, timeout: 950ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, group_by: window, resolve_after: 1m, reopen_window: 1m}
components:
  - {id: inbound-mail, name: Inbound Mail, group: Email}
  - {id: outbound-mail, name: Outbound Mail, group: Email}
  - {id: web-app, name: Web App}
  - {id: api, name: API}
checks:
  - {name: inbound-mail-check, component: inbound-mail, type: http, http: {url: %q}}
  - {name: outbound-mail-check, component: outbound-mail, type: http, http: {url: %q}}
  - {name: web-app-check, component: web-app, type: http, http: {url: %q, degraded_latency: 400ms}}
  - {name: api-check, component: api, type: http, impact: major_outage, http: {url: %q}}
%s`

// browserComponentIDs are the checked components, in config order.
var browserComponentIDs = []string{"inbound-mail", "outbound-mail", "web-app", "api"}

// statusLabels is what the page shows for each Statuspage component status.
var statusLabels = map[string]string{
	"operational":          "operational",
	"degraded_performance": "degraded performance",
	"partial_outage":       "partial outage",
	"major_outage":         "major outage",
	"under_maintenance":    "under maintenance",
}

// uptimeDays is how many daily uptime bars each component shows.
const uptimeDays = 90

// browserState is one state of the daemon the page is rendered in.
type browserState struct {
	name        string
	extraYAML   func() string                  // appended to browserConfig
	faults      func(map[string]*acme.Service) // applied before the daemon starts, by component id
	want        map[string]string              // component id -> status; absent: operational
	wantBanner  string                         // "" checks only that the page agrees with the API
	incident    bool                           // an incident is open
	maintenance string                         // the active window's name, if any
}

// TestBrowserStatusPage loads the HTML page the real binary serves in
// headless Chromium, in three states, and checks what a person would see in
// the rendered DOM: the banner, each component's status, the open incident's
// title and latest update, the maintenance window, 90 uptime bars per
// component. The DOM and desktop and mobile screenshots of each state are
// kept as test artifacts.
func TestBrowserStatusPage(t *testing.T) {
	t.Parallel()
	chromiumBinary(t) // skip (or fail in CI) before starting anything
	states := []browserState{
		{name: "operational", wantBanner: "All Systems Operational"},
		{
			name: "incident",
			faults: func(svc map[string]*acme.Service) {
				svc["web-app"].SetLatency(650 * time.Millisecond) // beyond degraded_latency, within the timeout
				svc["api"].SetStatus(http.StatusServiceUnavailable)
			},
			want:     map[string]string{"web-app": "degraded_performance", "api": "major_outage"},
			incident: true,
		},
		{
			name: "maintenance",
			extraYAML: func() string {
				return fmt.Sprintf(`maintenance:
  - {name: Outbound mail relay upgrade, components: [outbound-mail], start: %q, end: %q, message: "Replacing the relay hosts"}
`, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
			},
			want:        map[string]string{"outbound-mail": "under_maintenance"},
			wantBanner:  "Service Under Maintenance",
			maintenance: "Outbound mail relay upgrade",
		},
	}
	artifacts := artifactDir(t)
	t.Logf("artifacts (DOM and screenshots): %s", artifacts)
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			p := startBrowserState(t, st)
			page, doc := loadStablePage(t, p)
			if err := os.WriteFile(filepath.Join(artifacts, st.name+".html"), []byte(doc), 0o644); err != nil {
				t.Error(err)
			}
			screenshot(t, p.base+"/", filepath.Join(artifacts, st.name+"-desktop.png"), 1280, 2000)
			screenshot(t, p.base+"/", filepath.Join(artifacts, st.name+"-mobile.png"), 390, 1600)
			checkRenderedPage(t, parseDOM(doc), page, st)
		})
	}
}

// startBrowserState runs the daemon with st's faults and waits until the
// API shows st's component statuses (and its incident).
func startBrowserState(t *testing.T, st browserState) *proc {
	t.Helper()
	rds := redistest.Start(t)
	svc := map[string]*acme.Service{}
	var urls []any
	for _, id := range browserComponentIDs {
		svc[id] = startWeb(t)
		urls = append(urls, svc[id].URL())
	}
	extra := ""
	if st.extraYAML != nil {
		extra = st.extraYAML()
	}
	if st.faults != nil {
		st.faults(svc)
	}
	args := append(append([]any{rds.URL()}, urls...), extra)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(browserConfig, args...))
	p := startTocsin(t, nil, "run", "--config", cfg)
	took := eventually(t, 20*time.Second, st.name+": component statuses and incidents in the API", func() bool {
		v := readPageAPI(p)
		for _, c := range v.Components {
			if want := cmp.Or(st.want[c.ID], "operational"); !c.Group && c.Status != want {
				return false
			}
		}
		if st.incident {
			return len(v.Incidents) == 1 && len(v.Incidents[0].Components) == len(st.want)
		}
		if len(v.Incidents) != 0 {
			return false
		}
		for _, id := range browserComponentIDs {
			if p.checkStatus(id+"-check") != "up" {
				return false
			}
		}
		return true
	})
	t.Logf("%s: settled in %s", st.name, took.Round(time.Millisecond))
	return p
}

// pageAPI is what the JSON API says the page should show.
type pageAPI struct {
	Indicator, Description string
	Components             []apiComponent
	Incidents              []apiIncident
	Maintenances           []string
}

type apiComponent struct {
	ID, Name, Status string
	Group            bool
}

type apiIncident struct {
	ID, Name, Status, LatestBody string
	Components                   []string
}

// readPageAPI reads the page's state from the Statuspage v2 API.
func readPageAPI(p *proc) pageAPI {
	var v pageAPI
	var status struct {
		Status struct{ Indicator, Description string } `json:"status"`
	}
	p.getJSON("/api/v2/status.json", &status)
	v.Indicator, v.Description = status.Status.Indicator, status.Status.Description
	var comps struct {
		Components []struct {
			ID, Name, Status string
			Group            bool
		} `json:"components"`
	}
	p.getJSON("/api/v2/components.json", &comps)
	for _, c := range comps.Components {
		v.Components = append(v.Components, apiComponent(c))
	}
	for _, in := range p.incidents("/api/v2/incidents/unresolved.json") {
		ai := apiIncident{ID: in.ID, Name: in.Name, Status: in.Status}
		if len(in.IncidentUpdates) > 0 {
			ai.LatestBody = in.IncidentUpdates[0].Body
		}
		for _, c := range in.Components {
			ai.Components = append(ai.Components, c.ID)
		}
		v.Incidents = append(v.Incidents, ai)
	}
	var sm struct {
		ScheduledMaintenances []struct{ Name string } `json:"scheduled_maintenances"`
	}
	p.getJSON("/api/v2/scheduled-maintenances/active.json", &sm)
	for _, m := range sm.ScheduledMaintenances {
		v.Maintenances = append(v.Maintenances, m.Name)
	}
	return v
}

// loadStablePage renders the page in Chromium, between two identical reads
// of the API, so the DOM and the API describe the same snapshot.
func loadStablePage(t *testing.T, p *proc) (pageAPI, string) {
	t.Helper()
	for range 5 {
		before := readPageAPI(p)
		doc := dumpDOM(t, p.base+"/")
		if after := readPageAPI(p); reflect.DeepEqual(before, after) {
			return before, doc
		}
	}
	t.Fatal("the API kept changing while the page loaded")
	return pageAPI{}, ""
}

// checkRenderedPage asserts what a person sees on the rendered page.
func checkRenderedPage(t *testing.T, doc *domNode, api pageAPI, st browserState) {
	t.Helper()
	if st.wantBanner != "" && api.Description != st.wantBanner {
		t.Errorf("status.json description %q, want %q", api.Description, st.wantBanner)
	}
	if b := doc.first(byID("banner")); b == nil {
		t.Error(`no element with id="banner"`)
	} else {
		class, text := wantBanner(api)
		if got := b.visibleText(); got != text {
			t.Errorf("banner text %q, want %q", got, text)
		}
		if !b.hasClass("banner") || !b.hasClass(class) || b.attrs["data-indicator"] != api.Indicator {
			t.Errorf("banner class %q data-indicator %q, want banner %s and %s (status.json)", b.attrs["class"],
				b.attrs["data-indicator"], class, api.Indicator)
		}
	}
	checkComponents(t, doc, api, st)
	checkIncidents(t, doc, api, st)
	checkMaintenance(t, doc, api, st)
}

// wantBanner is the banner's class and text for what the API says: the
// indicator and its phrase (status.json), but a calm "recovered" while
// every open incident is monitoring and every component operational.
func wantBanner(api pageAPI) (class, text string) {
	recovered := len(api.Incidents) > 0
	for _, in := range api.Incidents {
		recovered = recovered && in.Status == "monitoring"
	}
	for _, c := range api.Components {
		recovered = recovered && c.Status == "operational"
	}
	if recovered {
		return "monitoring", "Service Recovered — Monitoring"
	}
	return api.Indicator, api.Description
}

func checkComponents(t *testing.T, doc *domNode, api pageAPI, st browserState) {
	t.Helper()
	rows := doc.all(byTagClass("li", "component"))
	plain := 0
	for _, c := range api.Components {
		if c.Group {
			if doc.first(func(n *domNode) bool { return n.tag == "li" && n.hasClass("group") && n.attrs["data-group"] == c.ID }) == nil {
				t.Errorf(`group %s: no <li class="group" data-group=%q>`, c.Name, c.ID)
			}
			continue
		}
		plain++
		want := cmp.Or(st.want[c.ID], "operational")
		if c.Status != want {
			t.Errorf("component %s: API status %s, want %s", c.ID, c.Status, want)
		}
		var li *domNode
		for _, r := range rows {
			if r.attrs["data-component"] == c.ID {
				li = r
			}
		}
		if li == nil {
			t.Errorf(`component %s: no <li class="component" data-component=%q>`, c.Name, c.ID)
			continue
		}
		if got := li.attrs["data-status"]; got != c.Status {
			t.Errorf("component %s: data-status %q, want %q", c.ID, got, c.Status)
		}
		if n := li.first(byClass("name")); n == nil || n.visibleText() != c.Name {
			t.Errorf("component %s: .name %q, want %q", c.ID, textOf(n), c.Name)
		}
		if s := li.first(byClass("st")); s == nil || s.visibleText() != statusLabels[c.Status] {
			t.Errorf("component %s: .st %q, want %q", c.ID, textOf(s), statusLabels[c.Status])
		}
		checkBars(t, c.ID, li)
	}
	if len(rows) != plain {
		t.Errorf("%d component rows, want %d (one per non-group component)", len(rows), plain)
	}
}

// checkBars: one bar per day, and the uptime percentage beside them.
func checkBars(t *testing.T, id string, li *domNode) {
	t.Helper()
	ol := li.first(byTagClass("ol", "bars"))
	if ol == nil {
		t.Errorf(`component %s: no <ol class="bars">`, id)
		return
	}
	bars := 0
	for _, c := range ol.children {
		if c.tag == "li" && c.hasClass("bar") {
			bars++
		}
	}
	if bars != uptimeDays {
		t.Errorf("component %s: %d uptime bars, want %d", id, bars, uptimeDays)
	}
	if pct := li.first(byClass("uptime-pct")); pct == nil || pct.visibleText() == "" {
		t.Errorf("component %s: no uptime percentage (.uptime-pct)", id)
	}
}

func checkIncidents(t *testing.T, doc *domNode, api pageAPI, st browserState) {
	t.Helper()
	if st.incident && len(api.Incidents) == 0 {
		t.Error("no unresolved incident in the API")
	}
	section := doc.first(func(n *domNode) bool { return n.tag == "section" && n.attrs["id"] == "open-incidents" })
	if section == nil {
		if len(api.Incidents) > 0 {
			t.Error(`no <section id="open-incidents">`)
		}
		return
	}
	articles := section.all(byTagClass("article", "incident"))
	if len(articles) != len(api.Incidents) {
		t.Errorf("%d open incidents on the page, want %d", len(articles), len(api.Incidents))
	}
	for _, in := range api.Incidents {
		a := section.first(func(n *domNode) bool { return n.tag == "article" && n.attrs["data-incident"] == in.ID })
		if a == nil {
			t.Errorf(`incident %q: no <article class="incident" data-incident=%q>`, in.Name, in.ID)
			continue
		}
		if h := a.first(byTag("h3")); h == nil || h.visibleText() != in.Name {
			t.Errorf("incident %s: title %q, want %q", in.ID, textOf(h), in.Name)
		}
		want := strings.Join(strings.Fields(in.LatestBody), " ")
		u := a.first(byTagClass("div", "update"))
		var body *domNode
		if u != nil {
			body = u.first(byTagClass("p", "body"))
		}
		if body == nil || body.visibleText() != want {
			t.Errorf("incident %s: latest update body %q, want %q", in.ID, textOf(body), want)
		}
	}
}

func checkMaintenance(t *testing.T, doc *domNode, api pageAPI, st browserState) {
	t.Helper()
	var want []string
	if st.maintenance != "" {
		want = []string{st.maintenance}
	}
	if !reflect.DeepEqual(api.Maintenances, want) {
		t.Errorf("active maintenances in the API %q, want %q", api.Maintenances, want)
	}
	var got []string
	if section := doc.first(func(n *domNode) bool { return n.tag == "section" && n.attrs["id"] == "maintenance" }); section != nil {
		for _, a := range section.all(byTagClass("article", "maintenance")) {
			got = append(got, textOf(a.first(byTag("h3"))))
		}
	} else if len(want) > 0 {
		t.Error(`no <section id="maintenance">`)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("maintenance windows on the page %q, want %q", got, want)
	}
}

// textOf is n's visible text, or "<missing>".
func textOf(n *domNode) string {
	if n == nil {
		return "<missing>"
	}
	return n.visibleText()
}
