package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// v2Paths are the Statuspage v2 endpoints, each golden-tested in every state.
var v2Paths = []string{pathStatus, pathSummary, pathComponents, pathIncidents, pathUnresolved,
	pathMaintenances, pathMaintUpcoming, pathMaintActive}

// goldenWant is what a state must show. Lists are in the order served;
// components and maintenances are "id=status".
type goldenWant struct {
	indicator    Indicator
	description  string
	components   []string
	incidents    []string            // incidents.json ids
	unresolved   []string            // incidents/unresolved.json ids
	impacts      map[string]string   // incident id: impact
	updates      map[string][]string // incident id: update ids, newest first
	affected     map[string][]string // update id: "code:old>new"
	maintenances []string            // scheduled-maintenances.json, newest first
	active       []string
	upcoming     []string
}

type goldenState struct {
	name string
	in   Inputs
	want goldenWant
}

// goldenIncidentState is incidentState with a third, newer update that
// changes no component, so the incident has several updates to order.
func goldenIncidentState() incident.State {
	st := incidentState()
	open := &st.Incidents[0]
	at := t0.Add(-5 * time.Minute)
	open.Status, open.UpdatedAt = incident.Identified, at
	open.Updates = append(open.Updates, incident.Update{ID: "openupd3", Status: incident.Identified,
		Body: "A bad deploy of the API gateway; rolling back", CreatedAt: at})
	return st
}

// goldenMaintenanceConfig adds a window in progress over api to
// testConfig's upcoming and completed ones.
func goldenMaintenanceConfig() *config.Config {
	cfg := testConfig()
	cfg.Maintenance = append(cfg.Maintenance, config.Maintenance{Name: "API failover",
		Components: []string{"api"}, Start: t0.Add(-30 * time.Minute), End: t0.Add(90 * time.Minute),
		Message: "Failing the API over to the standby region"})
	return cfg
}

func goldenStates() []goldenState {
	epoch := t0.Add(-100 * time.Hour)
	pastMaint := []string{"mnt-db-upgrade=scheduled", "mnt-old-window=completed"}
	past := map[string][]string{"upd1": {"email:operational>degraded_performance"}}
	return []goldenState{{
		name: "operational",
		in: Inputs{Config: testConfig(), State: operationalState(), Checks: ptrs(testChecks(detector.Up)),
			Now: t0, Epoch: epoch},
		want: goldenWant{
			indicator: IndicatorNone, description: "All Systems Operational",
			components: []string{"grp-help-desk=operational", "web-app=operational", "api=operational",
				"email=operational", "grp-data=operational", "db=operational"},
			incidents: []string{"oldincident01"}, unresolved: []string{},
			impacts:  map[string]string{"oldincident01": "minor"},
			updates:  map[string][]string{"oldincident01": {"upd3", "upd2", "upd1"}},
			affected: past, maintenances: pastMaint,
			active: []string{}, upcoming: []string{"mnt-db-upgrade"},
		},
	}, {
		name: "incident",
		in: Inputs{Config: testConfig(), State: goldenIncidentState(), Checks: ptrs(testChecks(detector.Degraded)),
			Now: t0, Epoch: epoch},
		want: goldenWant{
			// A major_outage component and a critical impact both mean critical.
			indicator: IndicatorCritical, description: "Major Service Outage",
			components: []string{"grp-help-desk=major_outage", "web-app=degraded_performance",
				"api=major_outage", "email=operational", "grp-data=operational", "db=operational"},
			incidents: []string{"openincident", "oldincident01"}, unresolved: []string{"openincident"},
			impacts: map[string]string{"openincident": "critical", "oldincident01": "minor"},
			updates: map[string][]string{"openincident": {"openupd3", "openupd2", "openupd1"},
				"oldincident01": {"upd3", "upd2", "upd1"}},
			affected: map[string][]string{"upd1": past["upd1"],
				"openupd1": {"web-app:operational>degraded_performance"},
				"openupd2": {"api:operational>major_outage"}},
			maintenances: pastMaint, active: []string{}, upcoming: []string{"mnt-db-upgrade"},
		},
	}, {
		name: "maintenance",
		in: Inputs{Config: goldenMaintenanceConfig(), State: operationalState(), Checks: ptrs(testChecks(detector.Up)),
			Now: t0, Epoch: epoch},
		want: goldenWant{
			indicator: IndicatorMaintenance, description: "Service Under Maintenance",
			components: []string{"grp-help-desk=under_maintenance", "web-app=operational",
				"api=under_maintenance", "email=operational", "grp-data=operational", "db=operational"},
			incidents: []string{"oldincident01"}, unresolved: []string{},
			impacts:  map[string]string{"oldincident01": "minor"},
			updates:  map[string][]string{"oldincident01": {"upd3", "upd2", "upd1"}},
			affected: past,
			maintenances: []string{"mnt-db-upgrade=scheduled", "mnt-api-failover=in_progress",
				"mnt-old-window=completed"},
			active: []string{"mnt-api-failover"}, upcoming: []string{"mnt-db-upgrade"},
		},
	}}
}

// TestStatuspageV2Golden serves each state through the real handler and
// checks every /api/v2 body against its golden file, the Statuspage v2
// shapes and the state's meaning.
func TestStatuspageV2Golden(t *testing.T) {
	t.Parallel()
	for _, st := range goldenStates() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			bodies := v2Fetch(t, st.in)
			for _, path := range v2Paths {
				t.Run(goldenName(path), func(t *testing.T) {
					t.Parallel()
					data := bodies[path]
					goldenCompare(t, filepath.Join("testdata", "golden", st.name, goldenName(path)), data)
					v := decode(t, data)
					for _, p := range docShapes[path](path, v) {
						t.Error(p)
					}
					v2CheckTimes(t, path, v)
					v2Semantics[path](t, data, st)
				})
			}
			t.Run("consistency", func(t *testing.T) {
				t.Parallel()
				v2CheckConsistency(t, bodies)
			})
		})
	}
}

// TestStatuspageV2Stable: ids and bodies do not change when the state is
// rebuilt later or the store lists its incidents in another order.
func TestStatuspageV2Stable(t *testing.T) {
	t.Parallel()
	for _, st := range goldenStates() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			want := mustBuild(t, st.in)
			later := st.in
			later.Now = later.Now.Add(time.Minute)
			later.State.Incidents = slices.Clone(later.State.Incidents)
			slices.Reverse(later.State.Incidents)
			got := mustBuild(t, later)
			for _, path := range v2Paths {
				a, _, _ := want.Body(path)
				b, _, _ := got.Body(path)
				if !bytes.Equal(a, b) {
					t.Errorf("%s changed on rebuild:\n%s\nwant\n%s", path, b, a)
				}
			}
		})
	}
}

// goldenName is the golden file of path: "incidents/unresolved.json" is
// "incidents_unresolved.json".
func goldenName(path string) string {
	return strings.ReplaceAll(strings.TrimPrefix(path, "/api/v2/"), "/", "_")
}

// v2Fetch GETs every v2 path from a real HTTP server holding the snapshot.
func v2Fetch(t *testing.T, in Inputs) map[string][]byte {
	t.Helper()
	srv := NewServer(ServerOptions{})
	srv.Set(mustBuild(t, in))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	out := make(map[string][]byte, len(v2Paths))
	for _, path := range v2Paths {
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != contentTypeJSON {
			t.Fatalf("GET %s = %d %q: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), data)
		}
		out[path] = data
	}
	return out
}

// goldenCompare compares data, indented, with the golden file, or rewrites
// the file with -update.
func goldenCompare(t *testing.T, golden string, data []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if bytes.Equal(pretty.Bytes(), want) {
		return
	}
	got, exp := strings.SplitAfter(pretty.String(), "\n"), strings.SplitAfter(string(want), "\n")
	i := 0
	for i < len(got) && i < len(exp) && got[i] == exp[i] {
		i++
	}
	t.Errorf("%s differs from line %d on (run with -update after checking); got:\n%swant:\n%s", golden,
		i+1, strings.Join(got[i:min(i+3, len(got))], ""), strings.Join(exp[i:min(i+3, len(exp))], ""))
}

// v2CheckTimes wants every time field to be RFC 3339 with a zone, not the
// zero time, and every incident_updates list newest first.
func v2CheckTimes(t *testing.T, p string, v any) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			v2CheckTimes(t, fmt.Sprintf("%s[%d]", p, i), e)
		}
	case map[string]any:
		for k, e := range v {
			s, ok := e.(string)
			isTime := strings.HasSuffix(k, "_at") || k == "scheduled_for" || k == "scheduled_until" || k == "start_date"
			if !ok || !isTime {
				v2CheckTimes(t, p+"."+k, e)
				continue
			}
			if tm, err := time.Parse(time.RFC3339, s); err != nil || tm.Year() < 2000 {
				t.Errorf("%s.%s = %q: want an RFC 3339 time with a zone (%v)", p, k, s, err)
			}
		}
		updates, _ := v["incident_updates"].([]any)
		var prev time.Time
		for i, u := range updates {
			s, _ := u.(map[string]any)["created_at"].(string)
			tm, _ := time.Parse(time.RFC3339, s)
			if i > 0 && tm.After(prev) {
				t.Errorf("%s.incident_updates[%d] at %s is newer than the one before: want newest first", p, i, s)
			}
			prev = tm
		}
	}
}

// v2Semantics checks what each endpoint must say in a state.
var v2Semantics = map[string]func(*testing.T, []byte, goldenState){
	pathStatus: func(t *testing.T, data []byte, st goldenState) {
		v2CheckStatus(t, v2Decode[statusDoc](t, data).Status, st.want)
	},
	pathComponents: func(t *testing.T, data []byte, st goldenState) {
		v2CheckComponents(t, v2Decode[componentsDoc](t, data).Components, st.want)
	},
	pathIncidents: func(t *testing.T, data []byte, st goldenState) {
		v2CheckIncidents(t, v2Decode[incidentsDoc](t, data).Incidents, st.want.incidents, st.want)
	},
	pathUnresolved: func(t *testing.T, data []byte, st goldenState) {
		v2CheckIncidents(t, v2Decode[incidentsDoc](t, data).Incidents, st.want.unresolved, st.want)
	},
	pathMaintenances: func(t *testing.T, data []byte, st goldenState) {
		v2CheckMaintenances(t, v2Decode[maintenancesDoc](t, data).ScheduledMaintenances, st.want.maintenances, st.in.Now)
	},
	pathMaintUpcoming: func(t *testing.T, data []byte, st goldenState) {
		v2CheckMaintenances(t, v2Decode[maintenancesDoc](t, data).ScheduledMaintenances,
			v2WithStatus(st.want.upcoming, phaseScheduled), st.in.Now)
	},
	pathMaintActive: func(t *testing.T, data []byte, st goldenState) {
		v2CheckMaintenances(t, v2Decode[maintenancesDoc](t, data).ScheduledMaintenances,
			v2WithStatus(st.want.active, phaseInProgress), st.in.Now)
	},
	pathSummary: func(t *testing.T, data []byte, st goldenState) {
		doc := v2Decode[summaryDoc](t, data)
		v2CheckStatus(t, doc.Status, st.want)
		v2CheckComponents(t, doc.Components, st.want)
		v2CheckIncidents(t, doc.Incidents, st.want.unresolved, st.want)
		v2CheckMaintenances(t, doc.ScheduledMaintenances, slices.Concat(v2WithStatus(st.want.active, phaseInProgress),
			v2WithStatus(st.want.upcoming, phaseScheduled)), st.in.Now)
	},
}

func v2Decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

func v2WithStatus(ids []string, status string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id+"="+status)
	}
	return out
}

func v2CheckStatus(t *testing.T, got statusJSON, w goldenWant) {
	t.Helper()
	if got.Indicator != w.indicator || got.Description != w.description {
		t.Errorf("status = %+v, want %q %q", got, w.indicator, w.description)
	}
}

func v2CheckComponents(t *testing.T, cs []componentJSON, w goldenWant) {
	t.Helper()
	got := make([]string, 0, len(cs))
	for i, c := range cs {
		got = append(got, c.ID+"="+string(c.Status))
		if c.Position != i+1 || c.PageID != "acmepage" || c.Group != (len(c.Components) > 0) {
			t.Errorf("component %d = %+v: want position %d, page acmepage, group iff members", i, c, i+1)
		}
	}
	if !slices.Equal(got, w.components) {
		t.Errorf("components = %q, want %q", got, w.components)
	}
}

func v2CheckIncidents(t *testing.T, is []incidentJSON, ids []string, w goldenWant) {
	t.Helper()
	got := make([]string, 0, len(is))
	for _, in := range is {
		got = append(got, in.ID)
		if in.Impact != w.impacts[in.ID] || in.PageID != "acmepage" ||
			(in.ResolvedAt != nil) != (in.Status == string(incident.Resolved)) ||
			in.Shortlink == nil || *in.Shortlink != "https://status.acme.example/incidents/"+in.ID {
			t.Errorf("incident %s: impact %s (want %s), status %s, resolved_at %v, shortlink %v", in.ID,
				in.Impact, w.impacts[in.ID], in.Status, in.ResolvedAt, in.Shortlink)
		}
		var upd []string
		for _, u := range in.IncidentUpdates {
			upd = append(upd, u.ID)
			var aff []string
			for _, a := range u.AffectedComponents {
				aff = append(aff, fmt.Sprintf("%s:%s>%s", a.Code, a.OldStatus, a.NewStatus))
			}
			if u.IncidentID != in.ID || !slices.Equal(aff, w.affected[u.ID]) {
				t.Errorf("update %s: incident_id %s, affected %q; want %s, %q", u.ID, u.IncidentID, aff, in.ID,
					w.affected[u.ID])
			}
		}
		if !slices.Equal(upd, w.updates[in.ID]) || len(upd) == 0 || in.IncidentUpdates[0].Status != in.Status {
			t.Errorf("incident %s (%s) updates = %q, want %q with the newest one's status first", in.ID,
				in.Status, upd, w.updates[in.ID])
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("incidents = %q, want %q", got, ids)
	}
}

func v2CheckMaintenances(t *testing.T, ms []maintenanceJSON, want []string, now time.Time) {
	t.Helper()
	got := make([]string, 0, len(ms))
	for _, m := range ms {
		got = append(got, m.ID+"="+m.Status)
		from, _ := time.Parse(time.RFC3339, m.ScheduledFor)
		until, _ := time.Parse(time.RFC3339, m.ScheduledUntil)
		inPhase := map[string]bool{
			phaseScheduled:  now.Before(from),
			phaseInProgress: !now.Before(from) && now.Before(until),
			phaseCompleted:  !now.Before(until) && m.ResolvedAt != nil,
		}[m.Status]
		if !inPhase || m.Impact != "maintenance" || !slices.Equal(maintUpdateIDs(m), maintHistory(m.ID, m.Status)) {
			t.Errorf("maintenance %s %s [%s, %s) at %s: impact %s, updates %q, want %q", m.ID, m.Status,
				m.ScheduledFor, m.ScheduledUntil, now, m.Impact, maintUpdateIDs(m), maintHistory(m.ID, m.Status))
		}
		for _, c := range m.Components {
			if m.Status == phaseInProgress && c.Status != detector.UnderMaintenance {
				t.Errorf("maintenance %s in progress, but %s is %s", m.ID, c.ID, c.Status)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("maintenances = %q, want %q", got, want)
	}
}

// v2RawDoc keeps a body's objects as they were encoded, to compare them
// across endpoints byte for byte.
type v2RawDoc struct {
	Page                  json.RawMessage   `json:"page"`
	Status                json.RawMessage   `json:"status"`
	Components            []json.RawMessage `json:"components"`
	Incidents             []json.RawMessage `json:"incidents"`
	ScheduledMaintenances []json.RawMessage `json:"scheduled_maintenances"`
}

// v2CheckConsistency: the summary is made of the other endpoints' objects,
// every endpoint has the same page, and an object is the same wherever it
// appears.
func v2CheckConsistency(t *testing.T, bodies map[string][]byte) {
	t.Helper()
	docs := map[string]v2RawDoc{}
	for _, path := range v2Paths {
		docs[path] = v2Decode[v2RawDoc](t, bodies[path])
		if !bytes.Equal(docs[path].Page, docs[pathStatus].Page) {
			t.Errorf("%s page = %s, want %s", path, docs[path].Page, docs[pathStatus].Page)
		}
	}
	sum := docs[pathSummary]
	var open []json.RawMessage
	for _, in := range docs[pathIncidents].Incidents {
		if v2Decode[incidentJSON](t, in).Status != string(incident.Resolved) {
			open = append(open, in)
		}
	}
	same := []struct {
		what      string
		got, want []json.RawMessage
	}{
		{"summary status", []json.RawMessage{sum.Status}, []json.RawMessage{docs[pathStatus].Status}},
		{"summary components", sum.Components, docs[pathComponents].Components},
		{"summary incidents", sum.Incidents, docs[pathUnresolved].Incidents},
		{"unresolved incidents", docs[pathUnresolved].Incidents, open},
		{"summary scheduled_maintenances", sum.ScheduledMaintenances, slices.Concat(
			docs[pathMaintActive].ScheduledMaintenances, docs[pathMaintUpcoming].ScheduledMaintenances)},
	}
	for _, s := range same {
		if !slices.EqualFunc(s.got, s.want, v2RawEqual) {
			t.Errorf("%s:\n%s\nwant\n%s", s.what, s.got, s.want)
		}
	}
	comps := map[string]json.RawMessage{}
	for _, c := range docs[pathComponents].Components {
		comps[v2Decode[componentJSON](t, c).ID] = c
	}
	all := slices.Concat(docs[pathIncidents].Incidents, docs[pathMaintenances].ScheduledMaintenances)
	for _, in := range all {
		doc := v2Decode[struct {
			ID         string            `json:"id"`
			Components []json.RawMessage `json:"components"`
		}](t, in)
		for _, c := range doc.Components {
			if id := v2Decode[componentJSON](t, c).ID; !bytes.Equal(c, comps[id]) {
				t.Errorf("%s component %s = %s, want components.json's %s", doc.ID, id, c, comps[id])
			}
		}
	}
}

func v2RawEqual(a, b json.RawMessage) bool { return bytes.Equal(a, b) }
