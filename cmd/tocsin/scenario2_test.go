package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/acme"
	"github.com/tocsin/tocsin/internal/redistest"
)

// TestScenario2EmailSurge replays seed 001 (Help Scout, Nov 2018): email
// traffic surges, the mail queue climbs, the web app slows down, then some
// requests fail; capacity is added and the queue drains. tocsin must start
// at degraded_performance (impact minor), escalate when failures start,
// carry the queue depth and time to drain in an update while it drains, and
// resolve once recovery holds.
func TestScenario2EmailSurge(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web := startWeb(t)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "s2:"}
defaults: {interval: 200ms, timeout: 150ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 20s}
components:
  - {id: web-app, name: Web App, group: Help Desk}
  - {id: email-processing, name: Email Processing, group: Help Desk}
checks:
  - {name: web-app-home, component: web-app, type: http, http: {url: %q, degraded_latency: 80ms}}
  - name: mail-queue
    component: email-processing
    type: queue
    queue: {source: redis_list, redis_url: %q, key: mail, degraded_depth: 200, down_depth: 1000, window: 3s}
`, storeURL(t, rds), web.URL(), rds.URL()))
	p := startTocsin(t, nil, "run", "--config", cfg)
	jobs, err := acme.StartJobs(rds.URL(), "mail")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobs.Close)
	jobs.SetRates(20, 40)
	eventually(t, 10*time.Second, "checks up", func() bool {
		return p.checkStatus("web-app-home") == "up" && p.checkStatus("mail-queue") == "up"
	})

	// The surge: mail arrives far faster than it is processed; pages slow.
	jobs.SetRates(600, 40)
	web.SetLatency(120 * time.Millisecond)
	inc := waitIncident(t, p, func(i spIncident) bool { return true })
	// By the time the incident is read it may have escalated already (the
	// queue keeps climbing): judge how it opened by its oldest update, the
	// last of the timeline (newest first), which is always kept.
	if len(inc.IncidentUpdates) == 0 {
		t.Fatalf("incident %s has no updates", inc.ID)
	}
	opened := inc.IncidentUpdates[len(inc.IncidentUpdates)-1]
	if len(opened.AffectedComponents) == 0 {
		t.Errorf("the opening update names no component: %+v", opened)
	}
	for _, a := range opened.AffectedComponents {
		if a.NewStatus != "degraded_performance" {
			t.Errorf("opened with %s at %s, want degraded_performance (impact minor first)", a.Code, a.NewStatus)
		}
	}
	// Then some requests fail: escalation.
	web.SetStatus(http.StatusInternalServerError)
	waitIncident(t, p, func(i spIncident) bool { return i.ID == inc.ID && i.Impact == "critical" })
	eventually(t, 10*time.Second, "queue past down_depth", func() bool { return p.checkStatus("mail-queue") == "down" })

	// Capacity is added: the queue drains and the web app recovers.
	jobs.SetRates(20, 300)
	web.Heal()
	defer func() {
		if t.Failed() {
			for _, u := range p.incidents("/api/v2/incidents.json")[0].IncidentUpdates {
				t.Logf("%s: %s", u.Status, u.Body)
			}
		}
	}()
	eventually(t, 15*time.Second, "an update with the drain estimate", func() bool {
		for _, u := range p.incidents("/api/v2/incidents.json")[0].IncidentUpdates {
			if strings.Contains(u.Body, "mail:") && strings.Contains(u.Body, "draining at") && strings.Contains(u.Body, "to drain") {
				t.Logf("drain update: %s", u.Body)
				return true
			}
		}
		return false
	})
	eventually(t, 15*time.Second, "resolved", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		return len(all) == 1 && all[0].ID == inc.ID && all[0].Status == "resolved"
	})
	checkTimeline(t, p.incidents("/api/v2/incidents.json")[0], 12)
	if n := len(p.incidents("/api/v2/incidents.json")[0].IncidentUpdates); n > 12 {
		t.Errorf("%d updates, want a bounded few", n)
	}
}
