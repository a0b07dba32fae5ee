package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

// incidentPageConfig: two unrelated components, each watched by its own
// target, incidents resolved a second after the recovery
// (TOCSIN_INCIDENTS__RESOLVE_AFTER changes it). The timeout leaves a
// loaded machine room: only the targets' faults fail a probe. The last
// verb takes extra YAML.
const incidentPageConfig = `
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "incpage:"}
page: {name: "Acme Status"}
defaults: {interval: 1s, timeout: 950ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 1s, reopen_window: 1s}
components:
  - {id: web-app, name: Web App}
  - {id: api, name: "API & <gateway>"}
checks:
  - {name: web-app-check, component: web-app, type: http, http: {url: %q}}
  - {name: api-check, component: api, type: http, impact: major_outage, http: {url: %q}}
%s`

// pageIncident is what the incident pages are checked against: an
// incident as incidents.json has it.
type pageIncident struct {
	ID, Name, Status, Impact string
	Shortlink                *string
	StartedAt                string  `json:"started_at"`
	ResolvedAt               *string `json:"resolved_at"`
	IncidentUpdates          []struct {
		Status, Body string
		CreatedAt    string `json:"created_at"`
	} `json:"incident_updates"`
	Components []struct{ ID string }
}

func (p *proc) pageIncidents() []pageIncident {
	var v struct{ Incidents []pageIncident }
	p.getJSON("/api/v2/incidents.json", &v)
	return v.Incidents
}

// TestShortlinksServed (issue 13, acceptance 5): every shortlink that
// incidents.json publishes, a resolved incident's and an open one's,
// answers 200 with the incident's page: its timeline (every update's
// status, body and time to the second), components and duration. page.url
// is external: only its scheme and host are replaced by the daemon's. The
// front page and the Atom feed link each incident to the same URL; a
// scheduled maintenance's shortlink is served too; an unknown id gets an
// HTML 404.
func TestShortlinksServed(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web, api := startWeb(t), startWeb(t)
	// A maintenance window tomorrow, and an external page.url as a real
	// deployment has.
	tomorrow := time.Now().Add(24 * time.Hour).UTC()
	maint := fmt.Sprintf("maintenance: [{name: Database upgrade, components: [api], start: %q, end: %q}]\n",
		tomorrow.Format(time.RFC3339), tomorrow.Add(time.Hour).Format(time.RFC3339))
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(incidentPageConfig, rds.URL(), web.URL(), api.URL(), maint))
	p := startTocsin(t, []string{"TOCSIN_PAGE__URL=https://status.acme.example"}, "run", "--config", cfg)
	eventually(t, 30*time.Second, "checks up", func() bool {
		return p.checkStatus("web-app-check") == "up" && p.checkStatus("api-check") == "up"
	})
	api.SetStatus(http.StatusServiceUnavailable)
	eventually(t, 30*time.Second, "the API's incident", func() bool { return len(p.pageIncidents()) == 1 })
	api.Heal()
	eventually(t, 30*time.Second, "the API's incident resolved", func() bool {
		all := p.pageIncidents()
		return len(all) == 1 && all[0].Status == "resolved"
	})
	web.SetStatus(http.StatusInternalServerError)
	eventually(t, 30*time.Second, "the Web App's incident", func() bool { return len(p.pageIncidents()) == 2 })

	for attempt := 0; ; attempt++ {
		before := p.pageIncidents()
		pages := map[string]*domNode{}
		for _, inc := range before {
			pages[inc.ID] = getShortlink(t, p, inc)
		}
		if after := p.pageIncidents(); !reflect.DeepEqual(before, after) {
			if attempt == 5 {
				t.Fatal("incidents.json kept changing while the pages were read")
			}
			continue
		}
		front := parseDOM(string(mustGet(t, p, "/")))
		atom := string(mustGet(t, p, "/history.atom"))
		for _, inc := range before {
			checkIncidentPage(t, pages[inc.ID], inc)
			a := front.first(func(n *domNode) bool { return n.tag == "article" && n.attrs["data-incident"] == inc.ID })
			var link *domNode
			if a != nil {
				link = a.first(byTag("a"))
			}
			if link == nil || link.attrs["href"] != *inc.Shortlink {
				t.Errorf("incident %s: the front page does not link to its shortlink %s", inc.ID, *inc.Shortlink)
			}
			if !strings.Contains(atom, `href="`+*inc.Shortlink+`"`) {
				t.Errorf("incident %s: the Atom feed does not link to its shortlink %s", inc.ID, *inc.Shortlink)
			}
		}
		break
	}
	var sm struct {
		ScheduledMaintenances []pageIncident `json:"scheduled_maintenances"`
	}
	p.getJSON("/api/v2/scheduled-maintenances.json", &sm)
	if len(sm.ScheduledMaintenances) != 1 {
		t.Fatalf("%d maintenances, want 1", len(sm.ScheduledMaintenances))
	}
	m := sm.ScheduledMaintenances[0]
	if h := getShortlink(t, p, m).first(byTag("h2")); textOf(h) != m.Name {
		t.Errorf("maintenance %s: title %q on its page, want %q", m.ID, textOf(h), m.Name)
	}
	for _, path := range []string{"/incidents/zzzzzzzzzzzz", "/incidents/..%2Fhistory", "/incidents/"} {
		resp, err := http.Get(p.base + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s = %d %s, want an HTML 404", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// getShortlink GETs an incident's shortlink on the daemon, with the
// scheme and host of page.url replaced by the daemon's, and returns the
// parsed page.
func getShortlink(t *testing.T, p *proc, inc pageIncident) *domNode {
	t.Helper()
	if inc.Shortlink == nil {
		t.Fatalf("incident %s has no shortlink", inc.ID)
	}
	u, err := url.Parse(*inc.Shortlink)
	if err != nil || u.Scheme != "https" || u.Host != "status.acme.example" {
		t.Fatalf("incident %s: shortlink %q is not under page.url", inc.ID, *inc.Shortlink)
	}
	resp, err := http.Get(p.base + u.EscapedPath())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s (shortlink %s) = %d %s", u.Path, *inc.Shortlink, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return parseDOM(string(body))
}

func mustGet(t *testing.T, p *proc, path string) []byte {
	t.Helper()
	code, b := p.get(path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, code)
	}
	return b
}

// checkIncidentPage asserts what a person reads on an incident's page
// against incidents.json: the name, the status, every update newest first
// with its status, body and time to the second (the page's zone is UTC
// here), the components, and how long it lasted or that it is ongoing.
func checkIncidentPage(t *testing.T, doc *domNode, inc pageIncident) {
	t.Helper()
	a := doc.first(func(n *domNode) bool { return n.tag == "article" && n.attrs["data-incident"] == inc.ID })
	if a == nil {
		t.Errorf("incident %s: no article on its page", inc.ID)
		return
	}
	if h := a.first(byTag("h2")); textOf(h) != inc.Name {
		t.Errorf("incident %s: title %q, want %q", inc.ID, textOf(h), inc.Name)
	}
	if s := a.first(byTagClass("dd", "status")); textOf(s) != inc.Status {
		t.Errorf("incident %s: status %q, want %q", inc.ID, textOf(s), inc.Status)
	}
	updates := a.all(byTagClass("li", "update"))
	if len(updates) != len(inc.IncidentUpdates) {
		t.Errorf("incident %s: %d updates on the page, %d in incidents.json", inc.ID, len(updates), len(inc.IncidentUpdates))
	}
	for i, u := range inc.IncidentUpdates[:min(len(updates), len(inc.IncidentUpdates))] {
		li := updates[i]
		at, err := time.Parse(time.RFC3339Nano, u.CreatedAt)
		if err != nil {
			t.Fatal(err)
		}
		tm := li.first(byTag("time"))
		if tm == nil || tm.attrs["datetime"] != u.CreatedAt || tm.visibleText() != at.UTC().Format("Jan 2, 2006 15:04:05 MST") {
			t.Errorf("incident %s update %d: time %q %q, want %s to the second", inc.ID, i, textOf(tm), tm.attrs["datetime"], u.CreatedAt)
		}
		if b := li.first(byTag("b")); textOf(b) != u.Status {
			t.Errorf("incident %s update %d: status %q, want %q", inc.ID, i, textOf(b), u.Status)
		}
		if body := li.first(byTagClass("p", "body")); textOf(body) != strings.Join(strings.Fields(u.Body), " ") {
			t.Errorf("incident %s update %d: body %q, want %q", inc.ID, i, textOf(body), u.Body)
		}
	}
	var got, want []string
	for _, li := range a.all(func(n *domNode) bool { return n.tag == "li" && n.attrs["data-component"] != "" }) {
		got = append(got, li.attrs["data-component"])
	}
	for _, c := range inc.Components {
		want = append(want, c.ID)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("incident %s: components %q on the page, %q in incidents.json", inc.ID, got, want)
	}
	d := textOf(a.first(byTagClass("dd", "duration")))
	if inc.ResolvedAt != nil {
		if w := "lasted " + wantLasted(t, inc.StartedAt, *inc.ResolvedAt); d != w {
			t.Errorf("incident %s: duration %q, want %q", inc.ID, d, w)
		}
	} else if !strings.HasPrefix(d, "ongoing for ") {
		t.Errorf("incident %s: duration %q, want ongoing for …", inc.ID, d)
	}
}

// wantLasted is how long an incident lasted by the times its page shows,
// each to the second: "42 s", "4 min 12 s" (the tests' incidents last less
// than an hour).
func wantLasted(t *testing.T, started, resolved string) string {
	t.Helper()
	s, err1 := time.Parse(time.RFC3339Nano, started)
	r, err2 := time.Parse(time.RFC3339Nano, resolved)
	if err1 != nil || err2 != nil {
		t.Fatalf("started_at %q, resolved_at %q", started, resolved)
	}
	d := r.Truncate(time.Second).Sub(s.Truncate(time.Second))
	switch m, sec := int(d/time.Minute), int(d%time.Minute/time.Second); {
	case d >= time.Hour:
		t.Fatalf("an incident of %s: longer than this test expects", d)
	case m == 0:
		return fmt.Sprintf("%d s", sec)
	case sec == 0:
		return fmt.Sprintf("%d min", m)
	default:
		return fmt.Sprintf("%d min %d s", m, sec)
	}
	return ""
}

// TestBrowserIncidentPages (issue 13, acceptance 5) renders the page in
// headless Chromium after an outage of the API: while its incident is
// monitoring, with every component operational again, the banner says the
// service recovered, in its calm colour, while status.json keeps
// Statuspage's indicator; once resolved, the past incident and its own page
// (followed from the front page's link) say how long it lasted and show
// its timeline. The DOM and screenshots are kept as test artifacts.
func TestBrowserIncidentPages(t *testing.T) {
	t.Parallel()
	chromiumBinary(t)
	artifacts := artifactDir(t)
	t.Logf("artifacts (DOM and screenshots): %s", artifacts)
	keep := func(t *testing.T, name, doc, pageURL string) {
		if err := os.WriteFile(filepath.Join(artifacts, name+".html"), []byte(doc), 0o644); err != nil {
			t.Error(err)
		}
		screenshot(t, pageURL, filepath.Join(artifacts, name+"-desktop.png"), 1280, 1400)
		screenshot(t, pageURL, filepath.Join(artifacts, name+"-mobile.png"), 390, 1400)
	}
	t.Run("monitoring", func(t *testing.T) {
		t.Parallel()
		// Monitoring lasts far longer than a page load, even on a loaded
		// machine; loadStablePage checks that the state held meanwhile.
		p := startRecovered(t, "10m", func(all []pageIncident) bool { return len(all) == 1 && all[0].Status == "monitoring" })
		api, doc := loadStablePage(t, p)
		keep(t, "monitoring", doc, p.base+"/")
		if len(api.Incidents) != 1 || api.Incidents[0].Status != "monitoring" || api.Indicator != "critical" {
			t.Fatalf("API: %+v, want one incident monitoring and the critical indicator", api)
		}
		page := parseDOM(doc)
		checkRenderedPage(t, page, api, browserState{name: "monitoring", incident: true})
		b := page.first(byID("banner"))
		if textOf(b) != "Service Recovered — Monitoring" || !b.hasClass("monitoring") || b.attrs["data-indicator"] != "critical" {
			t.Errorf("banner %q class %q data-indicator %q, want the calm recovered banner over the critical indicator",
				textOf(b), b.attrs["class"], b.attrs["data-indicator"])
		}
		card := page.first(byID("incident-" + api.Incidents[0].ID))
		if d := textOf(card.first(byClass("duration"))); !strings.HasPrefix(d, "ongoing for ") {
			t.Errorf("open incident's duration %q, want ongoing for …", d)
		}
	})
	t.Run("resolved", func(t *testing.T) {
		t.Parallel()
		p := startRecovered(t, "1s", func(all []pageIncident) bool { return len(all) == 1 && all[0].Status == "resolved" })
		inc := p.pageIncidents()[0]
		doc := dumpDOM(t, p.base+"/")
		keep(t, "resolved", doc, p.base+"/")
		page := parseDOM(doc)
		if b := page.first(byID("banner")); textOf(b) != "All Systems Operational" {
			t.Errorf("banner %q after the resolution", textOf(b))
		}
		past := page.first(byID("past-incidents"))
		var card *domNode
		if past != nil {
			card = past.first(func(n *domNode) bool { return n.tag == "article" && n.attrs["data-incident"] == inc.ID })
		}
		if card == nil {
			t.Fatalf("incident %s is not among the past incidents", inc.ID)
		}
		want := "lasted " + wantLasted(t, inc.StartedAt, *inc.ResolvedAt)
		if d := textOf(card.first(byClass("duration"))); d != want {
			t.Errorf("past incident's duration %q, want %q", d, want)
		}
		link := card.first(byTag("a"))
		if link == nil || link.attrs["href"] != "/incidents/"+inc.ID {
			t.Fatalf("past incident's link %v, want /incidents/%s", link, inc.ID)
		}
		incDoc := dumpDOM(t, p.base+link.attrs["href"])
		keep(t, "incident-page", incDoc, p.base+link.attrs["href"])
		checkIncidentPage(t, parseDOM(incDoc), inc)
	})
}

// startRecovered runs the daemon with the API failing and resolve_after as
// given, waits for its incident, heals the API and waits until every
// component is operational, every check up and the incidents are as done
// says.
func startRecovered(t *testing.T, resolveAfter string, done func([]pageIncident) bool) *proc {
	t.Helper()
	rds := redistest.Start(t)
	web, api := startWeb(t), startWeb(t)
	api.SetStatus(http.StatusServiceUnavailable)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(incidentPageConfig, rds.URL(), web.URL(), api.URL(), ""))
	p := startTocsin(t, []string{"TOCSIN_INCIDENTS__RESOLVE_AFTER=" + resolveAfter}, "run", "--config", cfg)
	eventually(t, 30*time.Second, "the API's incident", func() bool { return len(p.pageIncidents()) == 1 })
	api.Heal()
	eventually(t, 30*time.Second, "recovered", func() bool {
		for _, id := range []string{"web-app", "api"} {
			if p.componentStatus(id) != "operational" || p.checkStatus(id+"-check") != "up" {
				return false
			}
		}
		return done(p.pageIncidents())
	})
	return p
}
