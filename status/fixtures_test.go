package status

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/probe"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// testConfig has grouped and ungrouped components, an HTTP check whose URL,
// headers and basic auth carry canary secrets, and three maintenance windows.
func testConfig() *config.Config {
	return &config.Config{
		Page: config.Page{ID: "acmepage", Name: "Acme Status", URL: "https://status.acme.example/", TimeZone: "UTC"},
		Components: []config.Component{
			{ID: "web-app", Name: "Web App", Group: "Help Desk", Description: "The agent workspace"},
			{ID: "email", Name: "Email Processing"},
			{ID: "api", Name: "API", Group: "Help Desk"},
			{ID: "db", Name: "Database", Group: "Data"},
		},
		Checks: []config.Check{
			{Name: "web-app-home", Component: "web-app", Type: "http", Interval: 15 * time.Second,
				Timeout: 5 * time.Second, Impact: "major_outage", HTTP: &config.HTTPCheck{
					URL:       "https://probe:canarysecret@app.acme.example/health?token=canarytoken#frag",
					Method:    "GET",
					Headers:   map[string]config.Secret{"Authorization": "Bearer canaryheader"},
					Body:      `{"password":"canarybody"}`,
					BasicAuth: &config.BasicAuth{Username: "u", Password: "canarypass"},
				}},
			{Name: "smtp-inbound", Component: "email", Type: "smtp", Interval: 30 * time.Second, Timeout: 10 * time.Second},
		},
		Maintenance: []config.Maintenance{
			{Name: "DB upgrade", Components: []string{"db"}, Start: t0.Add(7 * 24 * time.Hour),
				End: t0.Add(7*24*time.Hour + time.Hour), Message: "Database upgrade"},
			{Name: "Old window", Components: []string{"api"}, Start: t0.Add(-72 * time.Hour),
				End: t0.Add(-71 * time.Hour), Message: "Network work"},
		},
	}
}

// testChecks has a web-app-home check with history; smtp-inbound has none
// (never ran in this process).
func testChecks(status detector.CheckStatus) []detector.Check {
	ok := probe.Result{Status: probe.StatusUp, Start: t0.Add(-30 * time.Second), Duration: 123456 * time.Microsecond,
		StatusCode: 200, Phases: []probe.Phase{{Name: "dns", Duration: 2 * time.Millisecond},
			{Name: "connect", Duration: 5 * time.Millisecond}}}
	last := ok
	last.Start = t0.Add(-15 * time.Second)
	// A private warning, which only /api/v1/checks shows.
	last.CertNotAfter = t0.Add(5*24*time.Hour + time.Hour)
	last.Warnings = []probe.Warning{{Reason: probe.ReasonCertExpiry, Message: "certificate expires in 5 days (2026-11-26)"}}
	if status == detector.Degraded {
		last.Status, last.Reason, last.Message = probe.StatusDegraded, probe.ReasonLatency, "slow: 2.5s > 2s"
	}
	return []detector.Check{{
		Spec:   detector.Spec{Name: "web-app-home", Component: "web-app", Impact: detector.MajorOutage},
		Status: status, Since: t0.Add(-time.Hour), Last: last, Recent: detector.Samples([]probe.Result{ok, last}), Streak: 1,
	}}
}

// resolvedIncident is an incident from two days ago.
func resolvedIncident() incident.Incident {
	at := t0.Add(-48 * time.Hour)
	return incident.Incident{
		ID: "oldincident01", Name: "Email delays", Status: incident.Resolved, Impact: incident.ImpactMinor,
		Auto: true, CreatedAt: at, UpdatedAt: at.Add(30 * time.Minute), StartedAt: at.Add(-2 * time.Minute),
		MonitoringAt: at.Add(20 * time.Minute), ResolvedAt: at.Add(30 * time.Minute),
		Components: map[string]detector.ComponentStatus{"email": detector.Operational},
		Updates: []incident.Update{
			{ID: "upd1", Status: incident.Investigating, Body: "Email Processing is degraded", CreatedAt: at, Notified: true,
				AffectedComponents: []incident.AffectedComponent{{Code: "email", Name: "Email Processing",
					OldStatus: detector.Operational, NewStatus: detector.DegradedPerformance}}},
			{ID: "upd2", Status: incident.Monitoring, Body: "Recovered", CreatedAt: at.Add(20 * time.Minute)},
			{ID: "upd3", Status: incident.Resolved, Body: "Resolved", CreatedAt: at.Add(30 * time.Minute), Notified: true},
		},
	}
}

// operationalState: every component stored operational, one past incident.
func operationalState() incident.State {
	comps := map[string]incident.ComponentState{}
	for _, id := range []string{"web-app", "email", "api", "db"} {
		comps[id] = incident.ComponentState{Status: detector.Operational, UpdatedAt: t0.Add(-47 * time.Hour)}
	}
	return incident.State{Version: 7, Components: comps, Incidents: []incident.Incident{resolvedIncident()}}
}

// incidentState: web-app degraded and api down in one open critical incident.
func incidentState() incident.State {
	st := operationalState()
	st.Version = 9
	at := t0.Add(-10 * time.Minute)
	st.Components["web-app"] = incident.ComponentState{Status: detector.DegradedPerformance, UpdatedAt: at}
	st.Components["api"] = incident.ComponentState{Status: detector.MajorOutage, UpdatedAt: at.Add(time.Minute)}
	open := incident.Incident{
		ID: "openincident", Name: "Web App and API unavailable", Status: incident.Investigating,
		Impact: incident.ImpactCritical, Auto: true, CreatedAt: at, UpdatedAt: at.Add(time.Minute),
		StartedAt: at.Add(-time.Minute),
		Components: map[string]detector.ComponentStatus{"web-app": detector.DegradedPerformance,
			"api": detector.MajorOutage},
		Updates: []incident.Update{
			{ID: "openupd1", Status: incident.Investigating, Body: "Web App is slow (web-app-home: 2.5s)", CreatedAt: at, Notified: true,
				AffectedComponents: []incident.AffectedComponent{{Code: "web-app", Name: "Web App",
					OldStatus: detector.Operational, NewStatus: detector.DegradedPerformance}}},
			{ID: "openupd2", Status: incident.Investigating, Body: "API is down (api-health: connect refused)",
				CreatedAt: at.Add(time.Minute), Notified: true, AffectedComponents: []incident.AffectedComponent{{Code: "api",
					Name: "API", OldStatus: detector.Operational, NewStatus: detector.MajorOutage}}},
		},
	}
	st.Incidents = append([]incident.Incident{open}, st.Incidents...)
	return st
}

// scenario is one named input for golden and shape tests.
type scenario struct {
	name string
	in   Inputs
}

func scenarios() []scenario {
	return []scenario{
		{"operational", Inputs{Config: testConfig(), State: operationalState(), Checks: ptrs(testChecks(detector.Up)),
			Now: t0, Epoch: t0.Add(-100 * time.Hour)}},
		{"incident", Inputs{Config: testConfig(), State: incidentState(), Checks: ptrs(testChecks(detector.Degraded)),
			Now: t0, Epoch: t0.Add(-100 * time.Hour)}},
	}
}

// shape checks one decoded JSON value and returns its problems.
type shape func(path string, v any) []string

var msTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`)

func str() shape {
	return func(p string, v any) []string {
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: want string, got %T", p, v)}
		}
		return nil
	}
}

func boolean() shape {
	return func(p string, v any) []string {
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: want bool, got %T", p, v)}
		}
		return nil
	}
}

func number() shape {
	return func(p string, v any) []string {
		if _, ok := v.(float64); !ok {
			return []string{fmt.Sprintf("%s: want number, got %T", p, v)}
		}
		return nil
	}
}

func integer() shape {
	return func(p string, v any) []string {
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return []string{fmt.Sprintf("%s: want integer, got %v", p, v)}
		}
		return nil
	}
}

func enum(vals ...string) shape {
	return func(p string, v any) []string {
		if s, ok := v.(string); !ok || !slices.Contains(vals, s) {
			return []string{fmt.Sprintf("%s: %v not in %v", p, v, vals)}
		}
		return nil
	}
}

func timestamp() shape {
	return func(p string, v any) []string {
		s, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: want timestamp string, got %T", p, v)}
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil || !msTime.MatchString(s) {
			return []string{fmt.Sprintf("%s: %q is not RFC 3339 with milliseconds", p, s)}
		}
		return nil
	}
}

func nullable(s shape) shape {
	return func(p string, v any) []string {
		if v == nil {
			return nil
		}
		return s(p, v)
	}
}

func arr(elem shape) shape {
	return func(p string, v any) []string {
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want array, got %T", p, v)}
		}
		var out []string
		for i, e := range a {
			out = append(out, elem(fmt.Sprintf("%s[%d]", p, i), e)...)
		}
		return out
	}
}

// obj wants exactly the given keys; a key ending in "?" may be absent.
func obj(fields map[string]shape) shape {
	return func(p string, v any) []string {
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want object, got %T", p, v)}
		}
		var out []string
		known := map[string]bool{}
		for k, s := range fields {
			name, optional := k, false
			if k[len(k)-1] == '?' {
				name, optional = k[:len(k)-1], true
			}
			known[name] = true
			val, ok := m[name]
			if !ok {
				if !optional {
					out = append(out, fmt.Sprintf("%s.%s: missing", p, name))
				}
				continue
			}
			out = append(out, s(p+"."+name, val)...)
		}
		for k := range m {
			if !known[k] {
				out = append(out, fmt.Sprintf("%s.%s: unexpected key", p, k))
			}
		}
		return out
	}
}

// ptrs is checks as Inputs.Checks takes them.
func ptrs(checks []detector.Check) []*detector.Check {
	out := make([]*detector.Check, len(checks))
	for i := range checks {
		out[i] = &checks[i]
	}
	return out
}

// derefs is the states of checks.
func derefs(checks []*detector.Check) []detector.Check {
	out := make([]detector.Check, len(checks))
	for i, c := range checks {
		out[i] = *c
	}
	return out
}
