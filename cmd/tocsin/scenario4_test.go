package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/acme"
	"github.com/tocsin/tocsin/internal/redistest"
)

// TestScenario4WorkersDieSilently replays seed 003 (SupportBee, Jul 2016): a
// bad deploy breaks the background workers. The web app answers 200
// throughout; the worker's heartbeats stop and its queue grows without
// draining. tocsin must open an incident on Background Jobs within
// stall_after + thresholds, with the queue's figures in the update, and
// resolve it once the worker is back and has drained the backlog.
func TestScenario4WorkersDieSilently(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web := startWeb(t)
	const (
		interval   = 500 * time.Millisecond
		stallAfter = 2 * time.Second
	)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "s4:"}
defaults: {interval: %s, timeout: 400ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 20s}
components:
  - {id: web-app, name: Web App}
  - {id: background-jobs, name: Background Jobs}
checks:
  - name: web-app-home
    component: web-app
    type: http
    http: {url: %q}
  - name: mailers-queue
    component: background-jobs
    type: queue
    queue: {source: redis_list, redis_url: %q, key: mailers, stall_after: %s, window: 5s, degraded_depth: 5000, down_depth: 100000}
  - name: mail-worker
    component: background-jobs
    type: heartbeat
    heartbeat: {period: 1s, grace: 1s}
`, storeURL(t, rds), interval, web.URL(), rds.URL(), stallAfter))
	p := startTocsin(t, nil, "run", "--config", cfg)

	jobs, err := acme.StartJobs(rds.URL(), "mailers")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobs.Close)
	jobs.SetHeartbeat(p.base+"/api/v1/heartbeats/mail-worker", "", 300*time.Millisecond)
	jobs.SetRates(20, 60) // healthy: drains faster than jobs arrive
	eventually(t, 15*time.Second, "all checks up", func() bool {
		return p.checkStatus("web-app-home") == "up" && p.checkStatus("mailers-queue") == "up" &&
			p.checkStatus("mail-worker") == "up"
	})

	// The bad deploy: workers stop draining and beating; jobs keep coming.
	broke := time.Now()
	jobs.SetRates(20, 0)
	bound := stallAfter + 3*interval + 400*time.Millisecond + time.Second
	var inc spIncident
	eventually(t, bound+5*time.Second, "incident on background jobs", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		if len(got) == 1 {
			inc = got[0]
		}
		return len(got) == 1
	})
	if took := time.Since(broke); took > bound {
		t.Errorf("incident after %s, want within stall_after + thresholds (%s)", took, bound)
	}
	if len(inc.Components) != 1 || inc.Components[0].ID != "background-jobs" {
		t.Errorf("incident components %+v, want background-jobs only", inc.Components)
	}
	if s := p.componentStatus("web-app"); s != "operational" {
		t.Errorf("web app %s while only the workers are broken", s)
	}
	eventually(t, 10*time.Second, "queue figures in an update", func() bool {
		for _, u := range p.incidents("/api/v2/incidents/unresolved.json")[0].IncidentUpdates {
			if strings.Contains(u.Body, "mailers:") && strings.Contains(u.Body, "items") {
				return true
			}
		}
		return false
	})

	// The fix is deployed: the worker drains the backlog and beats again.
	jobs.SetRates(20, 400)
	eventually(t, 15*time.Second, "monitoring", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		return len(got) == 1 && got[0].ID == inc.ID && got[0].Status == "monitoring"
	})
	// Monitoring starts once the queue moves again; the backlog drains
	// soon after, not necessarily by the time it is read.
	eventually(t, 5*time.Second, "queue drained (depth <= 100) after monitoring", func() bool {
		d, err := jobs.Depth(context.Background())
		if err != nil {
			t.Logf("queue depth: %v", err)
		}
		return err == nil && d <= 100
	})
	eventually(t, 10*time.Second, "resolved", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		return len(all) == 1 && all[0].ID == inc.ID && all[0].Status == "resolved"
	})
	checkTimeline(t, p.incidents("/api/v2/incidents.json")[0], 10)
	for _, u := range p.incidents("/api/v2/incidents.json")[0].IncidentUpdates {
		t.Logf("%s: %s", u.Status, u.Body)
	}
}
