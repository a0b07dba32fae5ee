package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// spMaintenance is a Statuspage scheduled maintenance, as much as the
// tests read.
type spMaintenance struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Updates   []struct {
		ID                 string `json:"id"`
		Status             string `json:"status"`
		CreatedAt          string `json:"created_at"`
		AffectedComponents []struct {
			Code      string `json:"code"`
			OldStatus string `json:"old_status"`
			NewStatus string `json:"new_status"`
		} `json:"affected_components"`
	} `json:"incident_updates"`
}

// maintChange is what each phase's update does to the window's
// components, as Statuspage records it: old and new status.
var maintChange = map[string][2]string{"scheduled": {"operational", "operational"},
	"in_progress": {"operational", "under_maintenance"}, "completed": {"under_maintenance", "operational"}}

// maintPhases are a maintenance's phases in the order they come.
var maintPhases = []string{"scheduled", "in_progress", "completed"}

// maintDocs GETs the public documents that list maintenances, with the
// ETag of scheduled-maintenances.json.
func maintDocs(p *proc) (map[string][]spMaintenance, string) {
	p.t.Helper()
	out := map[string][]spMaintenance{}
	var etag string
	for _, path := range []string{"/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/active.json",
		"/api/v2/scheduled-maintenances/upcoming.json", "/api/v2/summary.json"} {
		resp, err := http.Get(p.base + path)
		if err != nil {
			p.t.Fatalf("GET %s: %v", path, err)
		}
		var doc struct {
			ScheduledMaintenances []spMaintenance `json:"scheduled_maintenances"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			p.t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
		}
		if etag == "" {
			etag = resp.Header.Get("ETag")
		}
		out[path] = doc.ScheduledMaintenances
	}
	return out, etag
}

// maintProblem says what is wrong with docs for a window in phase
// [start, end), or "" when they show its history as they must.
func maintProblem(docs map[string][]spMaintenance, phase string, start, end time.Time) string {
	listed := map[string]bool{"/api/v2/scheduled-maintenances.json": true,
		"/api/v2/scheduled-maintenances/active.json":   phase == "in_progress",
		"/api/v2/scheduled-maintenances/upcoming.json": phase == "scheduled",
		"/api/v2/summary.json":                         phase != "completed"}
	n := slices.Index(maintPhases, phase) + 1
	var want []string
	for _, ph := range slices.Backward(maintPhases[:n]) {
		want = append(want, "mnt-db-upgrade-"+ph+"="+ph)
	}
	for path, ms := range docs {
		if !listed[path] {
			if len(ms) != 0 {
				return fmt.Sprintf("%s lists %d maintenances while %s", path, len(ms), phase)
			}
			continue
		}
		if len(ms) != 1 || ms[0].ID != "mnt-db-upgrade" || ms[0].Status != phase {
			return fmt.Sprintf("%s lists %+v, want mnt-db-upgrade %s", path, ms, phase)
		}
		m := ms[0]
		var got []string
		at := map[string]string{}
		for _, u := range m.Updates {
			got = append(got, u.ID+"="+u.Status)
			at[u.Status] = u.CreatedAt
		}
		if !slices.Equal(got, want) {
			return fmt.Sprintf("%s: updates %q, want %q", path, got, want)
		}
		if m.UpdatedAt != m.Updates[0].CreatedAt || m.CreatedAt != at["scheduled"] {
			return fmt.Sprintf("%s: created %s, updated %s; want the oldest and the newest update's times", path,
				m.CreatedAt, m.UpdatedAt)
		}
		if s, err := time.Parse(time.RFC3339, at["scheduled"]); err != nil || s.After(start) {
			return fmt.Sprintf("%s: scheduled at %s, after the start %s", path, at["scheduled"], start)
		}
		for ph, t := range map[string]time.Time{"in_progress": start, "completed": end} {
			if got, ok := at[ph]; ok && !timeIs(got, t) {
				return fmt.Sprintf("%s: %s at %s, want %s", path, ph, got, t)
			}
		}
		for _, u := range m.Updates {
			c := maintChange[u.Status]
			if a := u.AffectedComponents; len(a) != 1 || a[0].Code != "web" || a[0].OldStatus != c[0] ||
				a[0].NewStatus != c[1] {
				return fmt.Sprintf("%s: update %s affects %+v, want web %s>%s", path, u.ID, a, c[0], c[1])
			}
		}
	}
	return ""
}

func timeIs(s string, want time.Time) bool {
	t, err := time.Parse(time.RFC3339, s)
	return err == nil && t.Equal(want)
}

// TestMaintenanceHistoryLive: a fixed window a few seconds ahead, on two
// replicas of the real binary. Each phase adds an update to the public
// JSON (scheduled-maintenances.json, active, upcoming, summary) and keeps
// the earlier ones; both replicas serve the same bytes (ETag) in every
// phase. The windows are real time: the test waits for each phase to show
// (the scheduled one only if the replicas were up before the window began).
func TestMaintenanceHistoryLive(t *testing.T) {
	t.Parallel()
	tocsinBinary(t) // build first: the window's time starts counting after
	start := time.Now().Add(10 * time.Second).UTC().Truncate(time.Second)
	end := start.Add(6 * time.Second)
	f := startFleet(t, []string{"web"}, []string{"r1", "r2"}, fleetOptions{interval: time.Second,
		extra: fmt.Sprintf("maintenance:\n  - {name: DB upgrade, components: [web], start: %q, end: %q, "+
			"message: \"Database upgrade\"}\n", start.Format(time.RFC3339), end.Format(time.RFC3339))})
	r1, r2 := f.procs["r1"], f.procs["r2"]
	ready := time.Now()
	until := map[string]time.Time{"scheduled": start, "in_progress": end, "completed": end.Add(30 * time.Second)}
	scheduledAt := "" // the scheduled update's time, which later phases keep
	for _, phase := range maintPhases {
		problem := "not looked yet"
		for problem != "" && time.Now().Before(until[phase]) {
			docs, etag := maintDocs(r1)
			problem = maintProblem(docs, phase, start, end)
			if problem == "" {
				ups := docs["/api/v2/scheduled-maintenances.json"][0].Updates
				if at := ups[len(ups)-1].CreatedAt; scheduledAt == "" {
					scheduledAt = at
				} else if at != scheduledAt {
					t.Fatalf("%s: the scheduled update moved from %s to %s", phase, scheduledAt, at)
				}
			}
			if problem == "" {
				if _, other := maintDocs(r2); other != etag {
					problem = fmt.Sprintf("r1 serves scheduled-maintenances.json as %s, r2 as %s", etag, other)
				}
			}
			if problem != "" {
				time.Sleep(50 * time.Millisecond)
			}
		}
		switch {
		case problem == "":
			t.Logf("%s: shown with its history on both replicas", phase)
		case phase == "scheduled" && ready.After(start.Add(-2*time.Second)):
			t.Logf("the replicas started too close to the window to see it scheduled: %s", problem)
		default:
			t.Fatalf("%s: %s", phase, problem)
		}
	}
}
