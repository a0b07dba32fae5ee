package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/acme"
	"github.com/tocsin/tocsin/internal/redistest"
)

// relationConfig has six components, each with one HTTP check against its
// own service: search and jobs unrelated, web and api in one group, worker
// depending on db. group_by is "" for the default.
func relationConfig(t *testing.T, redisURL, groupBy string, svc map[string]*acme.Service, extra string) string {
	t.Helper()
	var checks strings.Builder
	for _, id := range []string{"search", "jobs", "web", "api", "db", "worker"} {
		fmt.Fprintf(&checks, "  - {name: %s-check, component: %s, type: http, http: {url: %q}}\n", id, id, svc[id].URL())
	}
	incidents := "group_window: 1m, resolve_after: 1s, reopen_window: 1m"
	if groupBy != "" {
		incidents += ", group_by: " + groupBy
	}
	return writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"%s}
redis: {url: %q, key_prefix: "rel:"}
page: {name: "Relations", url: "http://status.test"}
defaults: {interval: 200ms, timeout: 150ms, failure_threshold: 2, success_threshold: 2}
incidents: {%s}
components:
  - {id: search, name: Search}
  - {id: jobs, name: Background Jobs}
  - {id: web, name: Web App, group: Help Desk}
  - {id: api, name: API, group: Help Desk}
  - {id: db, name: Database}
  - {id: worker, name: Mail Worker, depends_on: [db]}
checks:
%s`, extra, redisURL, incidents, checks.String()))
}

func startServices(t *testing.T) map[string]*acme.Service {
	t.Helper()
	svc := map[string]*acme.Service{}
	for _, id := range []string{"search", "jobs", "web", "api", "db", "worker"} {
		s, err := acme.StartService(id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		svc[id] = s
	}
	return svc
}

// componentIDs are the ids of an incident's components, sorted.
func componentIDs(inc spIncident) string {
	var ids []string
	for _, c := range inc.Components {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// incidentSets are the component sets of the unresolved incidents, sorted.
func incidentSets(p *proc) []string {
	var sets []string
	for _, inc := range p.incidents("/api/v2/incidents/unresolved.json") {
		sets = append(sets, componentIDs(inc))
	}
	slices.Sort(sets)
	return sets
}

// TestGroupingByRelation (issue 13, acceptance 1): within group_window,
// unrelated failures are separate incidents; components of one group, or
// linked through depends_on, share one — read from the public API.
func TestGroupingByRelation(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	svc := startServices(t)
	p := startTocsin(t, nil, "run", "--config", relationConfig(t, rds.URL(), "", svc, ""))
	eventually(t, 10*time.Second, "every check up", func() bool {
		for id := range svc {
			if p.checkStatus(id+"-check") != "up" {
				return false
			}
		}
		return true
	})
	// Each failure is confirmed in the store before the next starts, so
	// the order below is the order tocsin saw.
	fail := func(id string) {
		t.Helper()
		svc[id].SetStatus(http.StatusServiceUnavailable)
		eventually(t, 10*time.Second, id+" not operational", func() bool { return p.componentStatus(id) != "operational" })
	}
	want := func(sets ...string) {
		t.Helper()
		slices.Sort(sets)
		var got []string
		eventually(t, 10*time.Second, fmt.Sprintf("incidents %v", sets), func() bool {
			got = incidentSets(p)
			return slices.Equal(got, sets)
		})
	}
	fail("search")
	fail("jobs")
	want("search", "jobs")
	fail("web")
	fail("api") // same group as web
	want("search", "jobs", "api,web")
	fail("worker")
	fail("db") // worker depends on it: linked the other way
	want("search", "jobs", "api,web", "db,worker")
}

// TestRelapseTakesPrecedence (issue 13, acceptance 2): a component that
// fails again within reopen_window reopens its own incident, even while an
// unrelated automatic incident is open — under either grouping policy.
func TestRelapseTakesPrecedence(t *testing.T) {
	t.Parallel()
	for _, groupBy := range []string{"relation", "window"} {
		t.Run(groupBy, func(t *testing.T) {
			t.Parallel()
			rds := redistest.Start(t)
			svc := startServices(t)
			p := startTocsin(t, nil, "run", "--config", relationConfig(t, rds.URL(), groupBy, svc, ""))
			eventually(t, 10*time.Second, "web and search up", func() bool {
				return p.checkStatus("web-check") == "up" && p.checkStatus("search-check") == "up"
			})
			svc["web"].SetStatus(http.StatusServiceUnavailable)
			first := waitIncident(t, p, func(spIncident) bool { return true })
			svc["web"].Heal()
			eventually(t, 15*time.Second, "web's incident resolved", func() bool {
				return len(p.incidents("/api/v2/incidents/unresolved.json")) == 0
			})
			svc["search"].SetStatus(http.StatusServiceUnavailable)
			eventually(t, 10*time.Second, "search's own incident", func() bool {
				return slices.Equal(incidentSets(p), []string{"search"})
			})
			svc["web"].SetStatus(http.StatusServiceUnavailable)
			eventually(t, 10*time.Second, "web's incident reopened", func() bool {
				for _, inc := range p.incidents("/api/v2/incidents/unresolved.json") {
					if inc.ID == first.ID {
						return true
					}
				}
				return false
			})
			if got := incidentSets(p); !slices.Equal(got, []string{"search", "web"}) {
				t.Errorf("unresolved incidents hold %v, want search and web apart", got)
			}
		})
	}
}

// TestManualIncidentIsPeoples (issue 13, acceptance 3): a manual incident's
// component status shows on components.json and the page, survives every
// automatic transition and unrelated recoveries, and ends only when a
// person resolves it.
func TestManualIncidentIsPeoples(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	svc := startServices(t)
	token := writeFile(t, t.TempDir(), "token", "people-token-5678\n")
	p := startTocsin(t, nil, "run", "--config",
		relationConfig(t, rds.URL(), "", svc, fmt.Sprintf(", api_token_file: %q", token)))
	post := func(path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, p.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer people-token-5678")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually(t, 10*time.Second, "web and search up", func() bool {
		return p.checkStatus("web-check") == "up" && p.checkStatus("search-check") == "up"
	})
	code, body := post("/api/v1/incidents",
		`{"name":"Login problems","status":"investigating","body":"Some people cannot log in.","components":{"web":"partial_outage"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	manual := waitIncident(t, p, func(i spIncident) bool { return i.Name == "Login problems" })
	shown := func() bool {
		_, page := p.get("/")
		return p.componentStatus("web") == "partial_outage" &&
			strings.Contains(string(page), `data-component="web" data-status="partial_outage"`)
	}
	eventually(t, 10*time.Second, "web partial_outage on components.json and the page", shown)

	// Automation: web fails and recovers (it is in the manual incident);
	// an unrelated component fails, recovers and its incident resolves
	// after resolve_after, which proves that much time has passed.
	svc["web"].SetStatus(http.StatusServiceUnavailable)
	eventually(t, 10*time.Second, "web's failure as evidence", func() bool {
		return strings.Contains(latestBody(p.byID(manual.ID)), "Web App: ")
	})
	svc["web"].Heal()
	eventually(t, 10*time.Second, "web's recovery as evidence", func() bool {
		return strings.Contains(latestBody(p.byID(manual.ID)), "operational again")
	})
	svc["search"].SetStatus(http.StatusServiceUnavailable)
	var other spIncident
	eventually(t, 10*time.Second, "search's own incident", func() bool {
		for _, inc := range p.incidents("/api/v2/incidents/unresolved.json") {
			if inc.ID != manual.ID {
				other = inc
				return true
			}
		}
		return false
	})
	svc["search"].Heal()
	eventually(t, 15*time.Second, "the unrelated incident resolved", func() bool {
		return p.byID(other.ID).Status == "resolved"
	})
	got := p.byID(manual.ID)
	if got.Status != "investigating" {
		t.Errorf("automation moved the manual incident to %s", got.Status)
	}
	for _, u := range got.IncidentUpdates {
		if u.Status != "investigating" {
			t.Errorf("an update set %s: %q", u.Status, u.Body)
		}
	}
	if !shown() {
		t.Errorf("web is %s after automation, want partial_outage", p.componentStatus("web"))
	}

	if code, body := post("/api/v1/incidents/"+manual.ID+"/resolve", `{"body":"Fixed."}`); code != http.StatusOK {
		t.Fatalf("resolve: %d %s", code, body)
	}
	eventually(t, 10*time.Second, "resolved by a person, web operational", func() bool {
		return p.byID(manual.ID).Status == "resolved" && p.componentStatus("web") == "operational"
	})
}

// byID is the incident id from incidents.json (zero if absent).
func (p *proc) byID(id string) spIncident {
	for _, inc := range p.incidents("/api/v2/incidents.json") {
		if inc.ID == id {
			return inc
		}
	}
	return spIncident{}
}

// latestBody is the newest update's body ("" if none); Statuspage lists
// updates newest first.
func latestBody(inc spIncident) string {
	if len(inc.IncidentUpdates) == 0 {
		return ""
	}
	return inc.IncidentUpdates[0].Body
}
