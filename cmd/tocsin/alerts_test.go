package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/promtest"
	"github.com/tocsin/tocsin/internal/redistest"
)

// shippedRules is the rules file deploy/ ships, loaded as it is.
const shippedRules = "../../deploy/prometheus/tocsin-rules.yml"

// TestAlertIncidentOpen: a real Prometheus scrapes a running tocsin with the
// shipped rules loaded; TocsinIncidentOpen is quiet while all is well,
// fires (impact critical, severity critical) while tocsin has an incident
// open, and clears once the incident resolves. Read through Prometheus'
// HTTP API.
func TestAlertIncidentOpen(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web := startWeb(t)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "alerts:"}
defaults: {interval: 300ms, timeout: 250ms, failure_threshold: 2, success_threshold: 2}
incidents: {group_window: 1m, resolve_after: 2s, reopen_window: 20s}
components: [{id: web-app, name: Web App}]
checks: [{name: web-app-home, component: web-app, type: http, impact: major_outage, http: {url: %q}}]
`, rds.URL(), web.URL()))
	p := startTocsin(t, nil, "run", "--config", cfg)
	// Scrapes and rule evaluations every second (promtest); a rule file
	// that does not load fails here.
	prom := promtest.StartWithRules(t, []string{shippedRules}, strings.TrimPrefix(p.base, "http://"))

	const incidentAlert = `ALERTS{alertname="TocsinIncidentOpen"}`
	eventually(t, 10*time.Second, "check up", func() bool { return p.checkStatus("web-app-home") == "up" })
	prom.WaitForSeries(t, `tocsin_incidents_open{job="test",impact="critical"} == 0`, 20*time.Second)
	// The rules are being evaluated: TocsinAbsent, which selects
	// job="tocsin", is pending here, where the job is "test".
	prom.WaitForSeries(t, `ALERTS{alertname="TocsinAbsent",alertstate="pending"}`, 10*time.Second)
	time.Sleep(2 * time.Second) // two more evaluations with tocsin's healthy series
	if got := promQuery(t, prom, incidentAlert); len(got) != 0 {
		t.Fatalf("TocsinIncidentOpen while healthy: %+v", got)
	}

	web.SetStatus(http.StatusInternalServerError)
	inc := waitIncident(t, p, func(i spIncident) bool { return i.Impact == "critical" })
	opened := time.Now()
	alerts := prom.WaitForSeries(t, `ALERTS{alertname="TocsinIncidentOpen",alertstate="firing"}`, 15*time.Second)
	t.Logf("TocsinIncidentOpen firing %s after the incident opened", time.Since(opened).Round(100*time.Millisecond))
	if len(alerts) != 1 || alerts[0].Metric["impact"] != "critical" || alerts[0].Metric["severity"] != "critical" ||
		alerts[0].Metric["job"] != "test" || alerts[0].Metric["instance"] != "" {
		t.Errorf("ALERTS = %+v, want one firing alert per install: impact critical, severity critical, no instance", alerts)
	}

	web.Heal()
	eventually(t, 20*time.Second, "incident resolved", func() bool {
		all := p.incidents("/api/v2/incidents.json")
		return len(all) == 1 && all[0].ID == inc.ID && all[0].Status == "resolved"
	})
	resolved := time.Now()
	eventually(t, 15*time.Second, "TocsinIncidentOpen cleared", func() bool { return len(promQuery(t, prom, incidentAlert)) == 0 })
	t.Logf("TocsinIncidentOpen cleared %s after the incident resolved", time.Since(resolved).Round(100*time.Millisecond))
}

// promQuery runs an instant query and fails the test if Prometheus errs.
func promQuery(t *testing.T, prom *promtest.Server, q string) []promtest.Sample {
	t.Helper()
	got, err := prom.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("query %s: %v\nprometheus log:\n%s", q, err, prom.Output())
	}
	return got
}
