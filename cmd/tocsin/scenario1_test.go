package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/acme"
	"github.com/tocsin/tocsin/internal/redistest"
)

// TestScenario1QueueFloodFlappingWeb replays seed 000 (Help Scout, Feb 2016):
// a search-indexing queue floods, then the web app's connections fail on and
// off for a while, then the API goes down, then everything recovers. tocsin
// must keep one incident for the whole outage — opened for the queue backlog,
// gaining Web App and API as they fail — report the web app as flapping
// instead of looping open/resolve, post a bounded number of updates, and
// only then go to monitoring and resolved.
func TestScenario1QueueFloodFlappingWeb(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web, api := startWeb(t), startWeb(t)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "s1:"}
defaults: {interval: 200ms, timeout: 150ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 30s}
components:
  # The web app and the API share the database the indexer floods: a user
  # says so with depends_on, and their failures join its incident.
  - {id: search-indexing, name: Search Indexing}
  - {id: web-app, name: Web App, depends_on: [search-indexing]}
  - {id: api, name: Public API, depends_on: [search-indexing]}
checks:
  - name: search-queue
    component: search-indexing
    type: queue
    queue: {source: redis_list, redis_url: %q, key: search-index, stall_after: 2s, window: 4s, degraded_depth: 1000, down_depth: 1000000}
  - {name: web-app-home, component: web-app, type: http, http: {url: %q}}
  - {name: api-health, component: api, type: http, http: {url: %q}}
`, storeURL(t, rds), rds.URL(), web.URL(), api.URL()))
	p := startTocsin(t, nil, "run", "--config", cfg)

	jobs, err := acme.StartJobs(rds.URL(), "search-index")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobs.Close)
	jobs.SetRates(20, 40) // healthy: drained faster than produced
	eventually(t, 15*time.Second, "all checks up", func() bool {
		return p.checkStatus("search-queue") == "up" && p.checkStatus("web-app-home") == "up" &&
			p.checkStatus("api-health") == "up"
	})

	// The flood: the depth goes up a hundredfold in seconds.
	jobs.SetRates(2000, 40)
	inc := waitIncident(t, p, func(i spIncident) bool {
		return len(i.Components) == 1 && i.Components[0].ID == "search-indexing"
	})
	if s := p.componentStatus("web-app"); s != "operational" {
		t.Errorf("web app %s while only the queue is flooded", s)
	}
	// The flood stops; a backlog far above degraded_depth remains and drains slowly.
	jobs.SetRates(20, 40)

	// The web app's connections fail on and off.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer web.Heal()
		failing := false
		for {
			if failing = !failing; failing {
				web.SetStatus(http.StatusServiceUnavailable)
			} else {
				web.Heal()
			}
			select {
			case <-stop:
				return
			case <-time.After(400 * time.Millisecond):
			}
		}
	}()
	stopToggling := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopToggling)

	// noLoop asserts the incident is still the one and still open.
	noLoop := func(what string) spIncident {
		t.Helper()
		all := p.incidents("/api/v2/incidents.json")
		if len(all) != 1 || all[0].ID != inc.ID {
			t.Fatalf("%s: %d incidents %+v, want the one opened for the queue", what, len(all), all)
		}
		if s := all[0].Status; s != "investigating" && s != "identified" {
			t.Fatalf("%s: incident %s, want it to stay open (investigating/identified)", what, s)
		}
		return all[0]
	}
	hasComponent := func(i spIncident, id string) bool {
		for _, c := range i.Components {
			if c.ID == id {
				return true
			}
		}
		return false
	}
	flapping := func(i spIncident) bool {
		for _, u := range i.IncidentUpdates {
			if strings.Contains(u.Body, "intermittent failures") {
				return true
			}
		}
		return false
	}

	// Keep flapping for several seconds; the incident must gain the web app,
	// report it as intermittent, and never go to monitoring or resolved.
	flapEnd := time.Now().Add(6 * time.Second)
	var sawWeb, sawFlap bool
	for time.Now().Before(flapEnd) || !sawFlap {
		if time.Now().After(flapEnd.Add(8 * time.Second)) {
			t.Fatalf("web app never reported flapping: %+v", noLoop("flapping"))
		}
		cur := noLoop("while the web app flaps")
		sawWeb = sawWeb || hasComponent(cur, "web-app")
		sawFlap = sawFlap || flapping(cur)
		time.Sleep(100 * time.Millisecond)
	}
	if !sawWeb {
		t.Errorf("the web app never joined the incident while it flapped")
	}

	// The API goes down, while the web app still fails on and off.
	api.SetStatus(http.StatusServiceUnavailable)
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur := noLoop("after the API went down")
		if hasComponent(cur, "api") && p.componentStatus("api") == "major_outage" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API never joined the incident: %+v", cur)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Everything recovers.
	stopToggling()
	web.Heal()
	api.Heal()
	jobs.SetRates(20, 5000)
	eventually(t, 20*time.Second, "monitoring", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		if len(all) != 1 || all[0].ID != inc.ID {
			t.Fatalf("%d incidents during recovery, want the one", len(all))
		}
		if all[0].Status == "resolved" {
			t.Fatalf("resolved without passing through monitoring: %+v", all[0])
		}
		return all[0].Status == "monitoring"
	})
	eventually(t, 10*time.Second, "resolved", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		return len(all) == 1 && all[0].ID == inc.ID && all[0].Status == "resolved"
	})
	checkTimeline(t, p.incidents("/api/v2/incidents.json")[0], 15)

	inc = p.incidents("/api/v2/incidents.json")[0]
	for i := len(inc.IncidentUpdates) - 1; i >= 0; i-- {
		u := inc.IncidentUpdates[i]
		t.Logf("%s: %s", u.Status, u.Body)
	}
	if !flapping(inc) {
		t.Errorf("no update reports the web app's intermittent failures")
	}
	for _, id := range []string{"search-indexing", "web-app", "api"} {
		if !hasComponent(inc, id) {
			t.Errorf("incident components %+v, want %s among them", inc.Components, id)
		}
	}
	// The order in which components first appear in the updates (oldest first).
	var order []string
	seen := map[string]bool{}
	for i := len(inc.IncidentUpdates) - 1; i >= 0; i-- {
		for _, ac := range inc.IncidentUpdates[i].AffectedComponents {
			if !seen[ac.Code] && ac.NewStatus != "operational" {
				seen[ac.Code] = true
				order = append(order, ac.Code)
			}
		}
	}
	want := []string{"search-indexing", "web-app", "api"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("components first affected in order %v, want %v", order, want)
	}
	if n := len(inc.IncidentUpdates); n > 15 {
		t.Errorf("%d updates for one outage, want a bounded few (≤ 15)", n)
	}
	var statuses []string
	for i := len(inc.IncidentUpdates) - 1; i >= 0; i-- {
		statuses = append(statuses, inc.IncidentUpdates[i].Status)
	}
	if n := len(statuses); n < 2 || statuses[n-2] != "monitoring" || statuses[n-1] != "resolved" {
		t.Errorf("update statuses %v, want them to end monitoring, resolved", statuses)
	}
	for i, s := range statuses[:max(len(statuses)-2, 0)] {
		if s != "investigating" && s != "identified" {
			t.Errorf("update %d is %s before the recovery: statuses %v", i, s, statuses)
		}
	}
}
