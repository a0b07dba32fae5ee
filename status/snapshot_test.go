package status

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // hermetic time zones for TestPageOptions

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata (snapshots and /api/v2)")

func mustBuild(t testing.TB, in Inputs) *Snapshot {
	t.Helper()
	snap, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return snap
}

// mustPaths is snap.Paths, which renders every page.
func mustPaths(t testing.TB, snap *Snapshot) []string {
	t.Helper()
	paths, err := snap.Paths()
	if err != nil {
		t.Fatalf("Paths: %v", err)
	}
	return paths
}

func decode(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

func TestGolden(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		pathSummary: "summary.json", pathIncidents: "incidents.json",
		pathComponents: "components.json", pathStatus: "status.json",
	}
	for _, sc := range scenarios() {
		snap := mustBuild(t, sc.in)
		for path, file := range files {
			t.Run(sc.name+"/"+file, func(t *testing.T) {
				t.Parallel()
				data, _, _ := snap.Body(path)
				goldenCompare(t, filepath.Join("testdata", sc.name, file), data)
			})
		}
	}
}

func TestShapes(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			snap := mustBuild(t, sc.in)
			for path, sh := range docShapes {
				data, _, ok := snap.Body(path)
				if !ok {
					t.Errorf("no body for %s", path)
					continue
				}
				for _, p := range sh(path, decode(t, data)) {
					t.Error(p)
				}
			}
			for _, c := range sc.in.Config.Checks {
				data, _, ok := snap.Body(pathChecks + "/" + c.Name)
				if !ok {
					t.Errorf("no body for check %s", c.Name)
					continue
				}
				for _, p := range checkDocShape(c.Name, decode(t, data)) {
					t.Error(p)
				}
			}
		})
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		a, b := mustBuild(t, sc.in), mustBuild(t, sc.in)
		for _, p := range mustPaths(t, a) {
			_, ta, _ := a.Body(p)
			_, tb, _ := b.Body(p)
			if ta != tb {
				t.Errorf("%s/%s: ETag differs between identical builds", sc.name, p)
			}
		}
	}
}

func TestIndicator(t *testing.T) {
	t.Parallel()
	open := func(im incident.Impact) incident.Incident {
		return incident.Incident{ID: "i", Status: incident.Investigating, Impact: im, CreatedAt: t0}
	}
	tests := []struct {
		name      string
		comps     map[string]detector.ComponentStatus
		incidents []incident.Incident
		want      Indicator
		desc      string
	}{
		{"all operational", nil, nil, IndicatorNone, "All Systems Operational"},
		{"degraded", map[string]detector.ComponentStatus{"api": detector.DegradedPerformance}, nil,
			IndicatorMinor, "Minor Service Outage"},
		{"partial", map[string]detector.ComponentStatus{"api": detector.PartialOutage}, nil,
			IndicatorMajor, "Partial System Outage"},
		{"major", map[string]detector.ComponentStatus{"api": detector.MajorOutage,
			"db": detector.DegradedPerformance}, nil, IndicatorCritical, "Major Service Outage"},
		{"maintenance", map[string]detector.ComponentStatus{"db": detector.UnderMaintenance}, nil,
			IndicatorMaintenance, "Service Under Maintenance"},
		{"worse than maintenance", map[string]detector.ComponentStatus{"db": detector.UnderMaintenance,
			"api": detector.DegradedPerformance}, nil, IndicatorMinor, "Minor Service Outage"},
		{"open incident impact", nil, []incident.Incident{open(incident.ImpactMajor)}, IndicatorMajor,
			"Partial System Outage"},
		{"incident worse than components", map[string]detector.ComponentStatus{"api": detector.DegradedPerformance},
			[]incident.Incident{open(incident.ImpactCritical)}, IndicatorCritical, "Major Service Outage"},
		{"resolved incident ignored", nil, []incident.Incident{{ID: "r", Status: incident.Resolved,
			Impact: incident.ImpactCritical, CreatedAt: t0}}, IndicatorNone, "All Systems Operational"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Maintenance = nil
			st := incident.State{Components: map[string]incident.ComponentState{}, Incidents: tt.incidents}
			for id, s := range tt.comps {
				st.Components[id] = incident.ComponentState{Status: s, UpdatedAt: t0}
			}
			snap := mustBuild(t, Inputs{Config: cfg, State: st, Now: t0})
			if snap.Indicator != tt.want {
				t.Errorf("Indicator = %q, want %q", snap.Indicator, tt.want)
			}
			data, _, _ := snap.Body(pathStatus)
			var doc statusDoc
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Status.Indicator != tt.want || doc.Status.Description != tt.desc {
				t.Errorf("status = %+v, want %q %q", doc.Status, tt.want, tt.desc)
			}
		})
	}
}

func TestGroupStatusIsWorstMember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		webApp, api detector.ComponentStatus
		want        detector.ComponentStatus
	}{
		{detector.Operational, detector.Operational, detector.Operational},
		{detector.DegradedPerformance, detector.Operational, detector.DegradedPerformance},
		{detector.DegradedPerformance, detector.MajorOutage, detector.MajorOutage},
		{detector.PartialOutage, detector.UnderMaintenance, detector.PartialOutage},
		{detector.UnderMaintenance, detector.Operational, detector.UnderMaintenance},
	}
	for _, tt := range tests {
		t.Run(string(tt.webApp)+"+"+string(tt.api), func(t *testing.T) {
			t.Parallel()
			st := incident.State{Components: map[string]incident.ComponentState{
				"web-app": {Status: tt.webApp}, "api": {Status: tt.api}}}
			snap := mustBuild(t, Inputs{Config: testConfig(), State: st, Now: t0})
			doc := componentsOf(t, snap)
			ids := []string{}
			for _, c := range doc.Components {
				ids = append(ids, c.ID)
				if c.ID == "grp-help-desk" {
					if !c.Group || c.Status != tt.want || strings.Join(c.Components, ",") != "web-app,api" {
						t.Errorf("group = %+v, want status %s with members web-app,api", c, tt.want)
					}
				}
				if c.ID == "api" && (c.GroupID == nil || *c.GroupID != "grp-help-desk") {
					t.Errorf("api group_id = %v", c.GroupID)
				}
				if c.ID == "email" && c.GroupID != nil {
					t.Errorf("ungrouped email has group_id %q", *c.GroupID)
				}
			}
			want := "grp-help-desk,web-app,api,email,grp-data,db"
			if got := strings.Join(ids, ","); got != want {
				t.Errorf("order = %s, want %s", got, want)
			}
			for i, c := range doc.Components {
				if c.Position != i+1 {
					t.Errorf("%s position = %d, want %d", c.ID, c.Position, i+1)
				}
			}
		})
	}
}

func componentsOf(t *testing.T, snap *Snapshot) componentsDoc {
	t.Helper()
	data, _, _ := snap.Body(pathComponents)
	var doc componentsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestMaintenancePhases(t *testing.T) {
	t.Parallel()
	start, end := t0, t0.Add(time.Hour)
	tests := []struct {
		name      string
		now       time.Time
		want      string
		upcoming  int
		active    int
		dbStatus  detector.ComponentStatus
		indicator Indicator
	}{
		{"before", start.Add(-time.Minute), "scheduled", 1, 0, detector.Operational, IndicatorNone},
		{"at start", start, "in_progress", 0, 1, detector.UnderMaintenance, IndicatorMaintenance},
		{"during", start.Add(30 * time.Minute), "in_progress", 0, 1, detector.UnderMaintenance, IndicatorMaintenance},
		{"at end", end, "completed", 0, 0, detector.Operational, IndicatorNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Maintenance = []config.Maintenance{{Name: "DB upgrade", Components: []string{"db"},
				Start: start, End: end, Message: "Database upgrade"}}
			snap := mustBuild(t, Inputs{Config: cfg, Now: tt.now})
			all := maintenancesIn(t, snap, pathMaintenances)
			if len(all) != 1 || all[0].Status != tt.want || all[0].ID != "mnt-db-upgrade" {
				t.Fatalf("maintenances = %+v, want one mnt-db-upgrade %s", all, tt.want)
			}
			if !slices.Equal(maintUpdateIDs(all[0]), maintHistory(all[0].ID, tt.want)) || len(all[0].Components) != 1 {
				t.Errorf("maintenance update/components = %+v", all[0])
			}
			if (all[0].ResolvedAt != nil) != (tt.want == "completed") {
				t.Errorf("resolved_at = %v for %s", all[0].ResolvedAt, tt.want)
			}
			if n := len(maintenancesIn(t, snap, pathMaintUpcoming)); n != tt.upcoming {
				t.Errorf("upcoming = %d, want %d", n, tt.upcoming)
			}
			if n := len(maintenancesIn(t, snap, pathMaintActive)); n != tt.active {
				t.Errorf("active = %d, want %d", n, tt.active)
			}
			if got := snap.ComponentStatuses["db"]; got != tt.dbStatus {
				t.Errorf("db status = %s, want %s", got, tt.dbStatus)
			}
			if snap.Indicator != tt.indicator {
				t.Errorf("indicator = %s, want %s", snap.Indicator, tt.indicator)
			}
		})
	}
}

func maintenancesIn(t *testing.T, snap *Snapshot, path string) []maintenanceJSON {
	t.Helper()
	data, _, _ := snap.Body(path)
	var doc maintenancesDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.ScheduledMaintenances
}

// TestNoSecretsInBodies is the canary: no body may carry any credential
// from the check's URL, headers, body or basic auth.
func TestNoSecretsInBodies(t *testing.T) {
	t.Parallel()
	canaries := []string{"canarysecret", "canarytoken", "canaryheader", "canarybody", "canarypass", "frag"}
	for _, sc := range scenarios() {
		for _, stale := range []bool{false, true} {
			in := sc.in
			in.Stale = stale
			snap := mustBuild(t, in)
			for _, p := range mustPaths(t, snap) {
				data, _, _ := snap.Body(p)
				for _, c := range canaries {
					if bytes.Contains(data, []byte(c)) {
						t.Errorf("%s %s contains %q", sc.name, p, c)
					}
				}
			}
		}
	}
	snap := mustBuild(t, scenarios()[0].in)
	data, _, _ := snap.Body(pathChecks + "/web-app-home")
	if !bytes.Contains(data, []byte(`"target":"https://app.acme.example/health"`)) {
		t.Errorf("target not reduced to scheme, host and path: %s", data)
	}
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	scrub := newScrubber([]string{"abc", "hunter2", "hunter22"})
	if got := scrub("pw hunter22 and hunter2, abc"); got != "pw <redacted> and <redacted>, abc" {
		t.Errorf("scrub = %q", got)
	}
}

func TestPageOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tz, url, wantSuffix, wantShortlink string
	}{
		{"utc", "UTC", "https://s.example", "Z", `"shortlink":"https://s.example/incidents/oldincident01"`},
		{"offset", "America/New_York", "https://s.example", "-05:00", `"shortlink":"https://s.example/incidents/`},
		{"no url", "", "", "Z", `"shortlink":null`},
		{"unknown zone", "Mars/Olympus", "", "Z", `"time_zone":"Mars/Olympus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Page.TimeZone, cfg.Page.URL = tt.tz, tt.url
			snap := mustBuild(t, Inputs{Config: cfg, State: operationalState(), Now: t0})
			data, _, _ := snap.Body(pathIncidents)
			var doc incidentsDoc
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(doc.Page.UpdatedAt, tt.wantSuffix) || !bytes.Contains(data, []byte(tt.wantShortlink)) {
				t.Errorf("page %+v; body lacks %s", doc.Page, tt.wantShortlink)
			}
			for _, p := range docShapes[pathIncidents](pathIncidents, decode(t, data)) {
				t.Error(p)
			}
		})
	}
}

func TestBuildWithoutConfig(t *testing.T) {
	t.Parallel()
	if _, err := Build(Inputs{Now: t0}); err == nil {
		t.Error("Build without config: want error")
	}
}

func TestHTMLPage(t *testing.T) {
	t.Parallel()
	snap := mustBuild(t, scenarios()[1].in)
	data, _, _ := snap.Body(pathPage)
	html := string(data)
	for _, want := range []string{`<meta http-equiv="refresh" content="60">`, "Acme Status", "Major Service Outage",
		"Help Desk", "Web App", "degraded performance", "major outage", "Web App and API unavailable",
		"API is down (api-health: connect refused)", "Email delays", "DB upgrade", "prefers-color-scheme"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Updates newest first.
	if strings.Index(html, "API is down") > strings.Index(html, "Web App is slow") {
		t.Error("incident updates are not newest first")
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") {
		t.Error("page references scripts or external assets")
	}
}
