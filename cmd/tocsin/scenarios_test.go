package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

// TestScenario5And6SlowDatabase replays seed 004 (Intercom, Jan 2017): a
// slow database makes the web app slow, then it times out, then the API
// fails too; everything recovers. One incident whose impact rises minor ->
// critical with an update at each step, naming each component; started_at
// is the first slow response; resolved after recovery holds. Then scenario
// 6: the outage comes back soon after — the same incident reopens.
func TestScenario5And6SlowDatabase(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web, api := startWeb(t), startWeb(t)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "s5:"}
defaults: {interval: 300ms, timeout: 250ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 30s}
components:
  - {id: web-app, name: Web App, group: Intercom}
  - {id: api, name: Public API, group: Intercom}
checks:
  - {name: web-app-home, component: web-app, type: http, http: {url: %q, degraded_latency: 100ms}}
  - {name: api-health, component: api, type: http, http: {url: %q}}
`, storeURL(t, rds), web.URL(), api.URL()))
	p := startTocsin(t, nil, "run", "--config", cfg)
	eventually(t, 10*time.Second, "checks up", func() bool {
		return p.checkStatus("web-app-home") == "up" && p.checkStatus("api-health") == "up"
	})

	slowFrom := time.Now()
	web.SetLatency(150 * time.Millisecond) // slower than degraded_latency
	inc := waitIncident(t, p, func(i spIncident) bool { return i.Impact == "minor" })
	started, err := time.Parse(time.RFC3339Nano, inc.StartedAt)
	if err != nil || started.Before(slowFrom.Add(-time.Second)) || started.After(slowFrom.Add(time.Second)) {
		t.Errorf("started_at %s, want the first slow result (~%s)", inc.StartedAt, slowFrom.Format(time.RFC3339Nano))
	}

	web.SetLatency(time.Second) // now it times out
	waitIncident(t, p, func(i spIncident) bool { return i.Impact == "critical" && i.ID == inc.ID })
	api.SetStatus(http.StatusServiceUnavailable)
	inc = waitIncident(t, p, func(i spIncident) bool { return len(i.Components) == 2 && i.ID == inc.ID })

	web.Heal()
	api.Heal()
	eventually(t, 15*time.Second, "resolved", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		return len(all) == 1 && all[0].Status == "resolved"
	})
	checkTimeline(t, p.incidents("/api/v2/incidents.json")[0], 10)
	inc = p.incidents("/api/v2/incidents.json")[0]
	var path []string
	for i := len(inc.IncidentUpdates) - 1; i >= 0; i-- {
		for _, ac := range inc.IncidentUpdates[i].AffectedComponents {
			path = append(path, ac.Code+":"+ac.NewStatus)
		}
	}
	want := []string{"web-app:degraded_performance", "web-app:major_outage", "api:major_outage"}
	for i, w := range want {
		if i >= len(path) || path[i] != w {
			t.Errorf("component changes %v, want them to begin %v", path, want)
			break
		}
	}
	if n := len(inc.IncidentUpdates); n > 10 {
		t.Errorf("%d updates for one outage, want a bounded few", n)
	}

	// Scenario 6: the same outage comes back shortly after it resolved.
	web.SetLatency(time.Second)
	eventually(t, 10*time.Second, "the same incident reopened", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		return len(got) == 1 && got[0].ID == inc.ID && got[0].Status == "investigating"
	})
	if all := p.incidents("/api/v2/incidents.json"); len(all) != 1 {
		t.Errorf("%d incidents after the relapse, want the one reopened", len(all))
	}
}

// TestScenario10Maintenance: a planned maintenance window covers the web
// app while it is down — under_maintenance, no incident; still down when
// the window ends — the incident opens then.
func TestScenario10Maintenance(t *testing.T) {
	t.Parallel()
	tocsinBinary(t) // build first: the window's time starts counting after
	rds := redistest.Start(t)
	web := startWeb(t)
	web.SetStatus(http.StatusServiceUnavailable)
	// The config holds whole seconds; the window must end where the test
	// thinks it does.
	end := time.Now().Add(10 * time.Second).UTC().Truncate(time.Second)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "s10:"}
defaults: {interval: 300ms, timeout: 250ms, failure_threshold: 2, success_threshold: 2}
components: [{id: web-app, name: Web App}]
checks: [{name: web-app-home, component: web-app, type: http, http: {url: %q}}]
maintenance:
  - {name: db-upgrade, components: [web-app], start: %q, end: %q, message: "Database upgrade"}
`, storeURL(t, rds), web.URL(), time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), end.Format(time.RFC3339)))
	p := startTocsin(t, nil, "run", "--config", cfg)
	eventually(t, 5*time.Second, "under maintenance", func() bool { return p.componentStatus("web-app") == "under_maintenance" })
	if p.checkStatus("web-app-home") != "down" {
		eventually(t, 5*time.Second, "check down", func() bool { return p.checkStatus("web-app-home") == "down" })
	}
	var sm struct {
		ScheduledMaintenances []struct {
			Status string `json:"status"`
		} `json:"scheduled_maintenances"`
	}
	p.getJSON("/api/v2/scheduled-maintenances/active.json", &sm)
	if len(sm.ScheduledMaintenances) != 1 || sm.ScheduledMaintenances[0].Status != "in_progress" {
		t.Errorf("active maintenances %+v", sm)
	}
	for time.Now().Before(end.Add(-500 * time.Millisecond)) {
		if got := p.incidents("/api/v2/incidents.json"); len(got) != 0 {
			t.Fatalf("incident during maintenance: %+v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	eventually(t, 10*time.Second, "incident once the window ends", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		return len(got) == 1 && p.componentStatus("web-app") == "major_outage"
	})
}

// waitIncident waits for exactly one open incident matching ok.
func waitIncident(t *testing.T, p *proc, ok func(spIncident) bool) spIncident {
	t.Helper()
	var inc spIncident
	eventually(t, 10*time.Second, "incident state", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		if len(got) == 1 && ok(got[0]) {
			inc = got[0]
			return true
		}
		return false
	})
	return inc
}
