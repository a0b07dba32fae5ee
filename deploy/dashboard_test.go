package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// metricNames are the series the dashboard may use: docs/metrics.md's, the
// ownership gauges, docs/notifications.md's notification and
// watchdog metrics (notify/metrics.go, notify/watchdog.go), and the standard
// collectors. Recording rules come from the rules file.
var metricNames = map[string]bool{
	"tocsin_probe_success": true, "tocsin_probe_duration_seconds": true, "tocsin_probe_latency_seconds": true,
	"tocsin_probe_results_total": true, "tocsin_check_status": true, "tocsin_queue_depth": true,
	"tocsin_queue_oldest_age_seconds": true, "tocsin_queue_rate_per_second": true, "tocsin_component_status": true,
	"tocsin_incidents_open": true, "tocsin_incidents_opened_total": true, "tocsin_incidents_resolved_total": true,
	"tocsin_store_errors_total": true, "tocsin_scheduler_lag_seconds": true, "tocsin_last_evaluation_timestamp_seconds": true,
	"tocsin_config_reloads_total": true, "tocsin_config_last_reload_successful": true,
	"tocsin_config_last_reload_success_timestamp_seconds": true, "tocsin_build_info": true, "tocsin_notification_backlog": true,
	"tocsin_owned_checks": true, "tocsin_checks_configured": true, "tocsin_ownership_members": true,
	"tocsin_notifications_total": true, "tocsin_notification_delivery_seconds": true, "tocsin_watchdog_pings_total": true,
	"up": true, "process_resident_memory_bytes": true, "go_goroutines": true, "ALERTS": true,
}

type dashboardPanel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

// TestDashboard: the Grafana dashboard is valid JSON, every panel queries
// the dashboard's Prometheus variable, every query parses as PromQL
// (promtool check rules on the queries as recording rules, with Grafana's
// variables filled in), and every series it names exists.
func TestDashboard(t *testing.T) {
	t.Parallel()
	var d struct {
		UID         string `json:"uid"`
		Title       string `json:"title"`
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard: want a uid and a title")
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["job"] != "query" {
		t.Errorf("dashboard variables %v, want datasource and job", vars)
	}

	var exprs []string
	for _, a := range d.Annotations.List {
		exprs = append(exprs, a.Expr)
	}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource is not ${datasource}", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no queries", p.Title)
			}
			for _, tg := range p.Targets {
				if !strings.Contains(tg.Expr, `job=~"$job"`) {
					t.Errorf("panel %q: query %q does not select $job", p.Title, tg.Expr)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)

	recorded := map[string]bool{}
	for _, g := range ruleFile(t).Groups {
		for _, r := range g.Rules {
			recorded[r.Record] = r.Record != ""
		}
	}
	// Series names: identifiers followed by a selector, a range or an
	// operator, minus PromQL's functions and keywords.
	name := regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{`)
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$__interval", "1m", "$job", "tocsin")
	for i, e := range exprs {
		for _, m := range name.FindAllStringSubmatch(e, -1) {
			n := strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_count")
			if !metricNames[n] && !recorded[n] {
				t.Errorf("query %q: unknown series %s", e, m[1])
			}
		}
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: grafana.Replace(e)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool(t), "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("dashboard queries do not parse: %v\n%s\n%s", err, out, b)
	}
}
