package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/acme"
	"github.com/tocsin/tocsin/internal/redistest"
)

const (
	e2eInterval = 500 * time.Millisecond
	e2eTimeout  = 400 * time.Millisecond
	e2eFailures = 2
)

// e2eConfig is a compressed-time config: one HTTP check of the web app.
func e2eConfig(t *testing.T, redisURL, target string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "e2e:"}
page: {name: "E2E", url: "http://status.test"}
defaults: {interval: %s, timeout: %s, failure_threshold: %d, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 20s, retention: 1h}
components:
  - {id: web-app, name: Web App, group: Help Desk}
checks:
  - name: web-app-home
    component: web-app
    type: http
    impact: major_outage
    http: {url: %q}
`, redisURL, e2eInterval, e2eTimeout, e2eFailures, target))
}

func startWeb(t *testing.T) *acme.Service {
	t.Helper()
	web, err := acme.StartService("web-app")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = web.Close() })
	return web
}

// TestIncidentLifecycle: fail -> investigating with the right impact within
// failure_threshold x interval + timeout + 1s; recover -> monitoring ->
// resolved after resolve_after; fail again within reopen_window -> the same
// incident reopens. All through the public API.
func TestIncidentLifecycle(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web := startWeb(t)
	p := startTocsin(t, nil, "run", "--config", e2eConfig(t, storeURL(t, rds), web.URL()), "--log-format", "json")

	eventually(t, 10*time.Second, "check up", func() bool { return p.checkStatus("web-app-home") == "up" })
	if got := p.incidents("/api/v2/incidents/unresolved.json"); len(got) != 0 {
		t.Fatalf("unresolved incidents while healthy: %+v", got)
	}

	web.SetStatus(http.StatusInternalServerError)
	bound := e2eFailures*e2eInterval + e2eTimeout + time.Second
	var inc spIncident
	took := eventually(t, bound, "incident visible in unresolved.json", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		if len(got) == 1 {
			inc = got[0]
		}
		return len(got) == 1
	})
	t.Logf("incident visible %s after the failure (bound %s)", took, bound)
	if inc.Status != "investigating" || inc.Impact != "critical" {
		t.Errorf("incident %s/%s, want investigating/critical", inc.Status, inc.Impact)
	}
	if len(inc.Components) != 1 || inc.Components[0].ID != "web-app" || inc.Components[0].Status != "major_outage" {
		t.Errorf("incident components = %+v, want web-app major_outage", inc.Components)
	}
	if s := p.componentStatus("web-app"); s != "major_outage" {
		t.Errorf("component status %q, want major_outage", s)
	}

	web.Heal()
	eventually(t, 5*time.Second, "monitoring", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		return len(got) == 1 && got[0].Status == "monitoring" && got[0].ID == inc.ID
	})
	eventually(t, 6*time.Second, "resolved", func() bool {
		return len(p.incidents("/api/v2/incidents/unresolved.json")) == 0
	})
	all := p.incidents("/api/v2/incidents.json")
	if len(all) != 1 || all[0].Status != "resolved" || all[0].ResolvedAt == nil {
		t.Fatalf("incidents after recovery = %+v, want one resolved", all)
	}

	web.SetStatus(http.StatusBadGateway)
	eventually(t, 5*time.Second, "same incident reopened", func() bool {
		got := p.incidents("/api/v2/incidents/unresolved.json")
		return len(got) == 1 && got[0].ID == inc.ID && got[0].Status == "investigating"
	})
	if all := p.incidents("/api/v2/incidents.json"); len(all) != 1 {
		t.Errorf("%d incidents after relapse, want the one reopened", len(all))
	}
	statuses := updateStatuses(p.incidents("/api/v2/incidents.json")[0])
	t.Logf("update statuses, newest first: %v", statuses)
	if took, err := p.stop(); err != nil || took > 10*time.Second {
		t.Errorf("SIGTERM: exit %v after %s, want exit 0 within 10s", err, took)
	}
}

// TestRestartContinuesIncident (SCENARIOS.md 7): SIGKILL during an open
// incident, of the one process or of all three replicas; the next
// processes continue the same incident and resolve it; never a duplicate.
func TestRestartContinuesIncident(t *testing.T) {
	t.Parallel()
	e2eReplicas(t, false, func(t *testing.T, n int, rds *redistest.Server, web *acme.Service, cfg string, ps []*proc) {
		web.SetStatus(http.StatusServiceUnavailable)
		id := waitIncident(t, ps[0], func(spIncident) bool { return true }).ID
		for _, p := range ps {
			p.kill()
		}

		restarted := time.Now()
		ps = startReplicas(t, n, "run", "--config", cfg)
		p2 := ps[n-1]
		if got := p2.incidents("/api/v2/incidents/unresolved.json"); len(got) != 1 || got[0].ID != id {
			t.Fatalf("after restart: %+v, want incident %s still open", got, id)
		}
		// Still failing after the restart, for more than the failure
		// threshold: it must not open a second incident.
		eventually(t, 30*time.Second, "probed again after the restart", func() bool {
			return p2.resultsSince("web-app-home", restarted) > e2eFailures
		})
		if all := p2.incidents("/api/v2/incidents.json"); len(all) != 1 || all[0].ID != id {
			t.Fatalf("after restart while failing: %+v, want only %s", all, id)
		}
		web.Heal()
		eventually(t, 15*time.Second, "resolved", func() bool {
			all := p2.incidents("/api/v2/incidents.json")
			return len(all) == 1 && all[0].ID == id && all[0].Status == "resolved"
		})
		checkTimeline(t, p2.incidents("/api/v2/incidents.json")[0], 10)
	})
}

// e2eReplicas runs fn in parallel subtests: against one process and
// against three replicas of the e2e config, each on a fresh redis-server
// (durable: with the AOF on) and web app.
func e2eReplicas(t *testing.T, durable bool, fn func(t *testing.T, n int, rds *redistest.Server, web *acme.Service, cfg string, ps []*proc)) {
	t.Helper()
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			t.Parallel()
			start := redistest.Start
			if durable {
				start = redistest.StartDurable
			}
			rds := start(t)
			web := startWeb(t)
			cfg := e2eConfig(t, storeURL(t, rds), web.URL())
			fn(t, n, rds, web, cfg, startReplicas(t, n, "run", "--config", cfg))
		})
	}
}

func updateStatuses(inc spIncident) []string {
	out := make([]string, 0, len(inc.IncidentUpdates))
	for _, u := range inc.IncidentUpdates {
		out = append(out, u.Status)
	}
	return out
}
