package status

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
)

// maintUpdateIDs are m's updates as served, "id=status", newest first.
func maintUpdateIDs(m maintenanceJSON) []string {
	out := make([]string, 0, len(m.IncidentUpdates))
	for _, u := range m.IncidentUpdates {
		out = append(out, u.ID+"="+u.Status)
	}
	return out
}

// maintHistory is what maintUpdateIDs must be for maintenance id in phase:
// one update per phase it went through, newest first.
func maintHistory(id, phase string) []string {
	var out []string
	for _, p := range []string{phaseScheduled, phaseInProgress, phaseCompleted} {
		out = slices.Insert(out, 0, id+"-"+p+"="+p)
		if p == phase {
			return out
		}
	}
	return nil
}

// maintUpdate describes one update for a test: its status, time and
// affected components ("code:old>new"), as "status@time code:old>new ...".
func maintUpdate(phase string, at time.Time, comps ...string) string {
	var old, cur detector.ComponentStatus
	switch phase {
	case phaseScheduled:
		old, cur = detector.Operational, detector.Operational
	case phaseInProgress:
		old, cur = detector.Operational, detector.UnderMaintenance
	default:
		old, cur = detector.UnderMaintenance, detector.Operational
	}
	s := phase + "@" + at.UTC().Format(timeLayout)
	for _, c := range comps {
		s += fmt.Sprintf(" %s:%s>%s", c, old, cur)
	}
	return s
}

// describeUpdates is maintUpdate for what was served; it also checks what
// each update must agree on with its maintenance.
func describeUpdates(t *testing.T, m maintenanceJSON) []string {
	t.Helper()
	out := make([]string, 0, len(m.IncidentUpdates))
	for _, u := range m.IncidentUpdates {
		s := u.Status + "@" + u.CreatedAt
		for _, a := range u.AffectedComponents {
			s += fmt.Sprintf(" %s:%s>%s", a.Code, a.OldStatus, a.NewStatus)
		}
		out = append(out, s)
		if u.ID != m.ID+"-"+u.Status || u.IncidentID != m.ID || u.UpdatedAt != u.CreatedAt ||
			u.DisplayAt != u.CreatedAt {
			t.Errorf("%s: update %+v: want id %s-%s, its incident_id, one time", m.ID, u, m.ID, u.Status)
		}
	}
	if len(m.IncidentUpdates) == 0 {
		return out
	}
	newest, oldest := m.IncidentUpdates[0], m.IncidentUpdates[len(m.IncidentUpdates)-1]
	if m.Status != newest.Status || m.UpdatedAt != newest.CreatedAt || m.CreatedAt != oldest.CreatedAt {
		t.Errorf("%s: status %s, created %s, updated %s; want the newest update's status and time, the oldest's "+
			"creation", m.ID, m.Status, m.CreatedAt, m.UpdatedAt)
	}
	switch {
	case m.Status == phaseCompleted && (m.ResolvedAt == nil || *m.ResolvedAt != newest.CreatedAt):
		t.Errorf("%s: resolved_at %v, want %s", m.ID, m.ResolvedAt, newest.CreatedAt)
	case m.Status != phaseCompleted && m.ResolvedAt != nil:
		t.Errorf("%s: resolved_at %s while %s", m.ID, *m.ResolvedAt, m.Status)
	}
	return out
}

// TestMaintenanceHistory: each occurrence of a fixed or recurring window
// keeps one update per phase it went through (scheduled when it became
// known, in progress at its start, completed at its end), newest first,
// with stable ids and Statuspage's affected_components for each phase.
func TestMaintenanceHistory(t *testing.T) {
	t.Parallel()
	epoch := t0.Add(-100 * time.Hour)
	fixed := config.Maintenance{Name: "DB upgrade", Components: []string{"db", "api"},
		Start: t0, End: t0.Add(time.Hour), Message: "Database upgrade"}
	hourly := config.Maintenance{Name: "Hourly", Components: []string{"db"}, Cron: "0 * * * *",
		Duration: 10 * time.Minute, TimeZone: "UTC"}
	// api comes before db on the page (Help Desk is the first group).
	both := []string{"api", "db"}
	type want struct {
		id, status string
		updates    []string
	}
	fixedWant := func(phase string, known time.Time) want {
		all := []string{maintUpdate(phaseCompleted, t0.Add(time.Hour), both...),
			maintUpdate(phaseInProgress, t0, both...), maintUpdate(phaseScheduled, known, both...)}
		n := map[string]int{phaseScheduled: 1, phaseInProgress: 2, phaseCompleted: 3}[phase]
		return want{"mnt-db-upgrade", phase, all[3-n:]}
	}
	hour := func(h int) time.Time { return time.Date(2026, 11, 21, h, 0, 0, 0, time.UTC) }
	hourlyID := func(h int) string { return fmt.Sprintf("mnt-hourly-20261121%02d00", h) }
	tests := []struct {
		name  string
		m     config.Maintenance
		now   time.Time
		epoch time.Time
		want  []want // scheduled-maintenances.json, newest first
	}{
		{"fixed before", fixed, t0.Add(-time.Minute), epoch, []want{fixedWant(phaseScheduled, epoch)}},
		{"fixed at start", fixed, t0, epoch, []want{fixedWant(phaseInProgress, epoch)}},
		{"fixed during", fixed, t0.Add(59 * time.Minute), epoch, []want{fixedWant(phaseInProgress, epoch)}},
		{"fixed at end", fixed, t0.Add(time.Hour), epoch, []want{fixedWant(phaseCompleted, epoch)}},
		{"fixed long after", fixed, t0.Add(30 * 24 * time.Hour), epoch, []want{fixedWant(phaseCompleted, epoch)}},
		// The store was created during the window: it was scheduled, as
		// far as anyone can tell, when it began.
		{"fixed known once begun", fixed, t0.Add(30 * time.Minute), t0.Add(10 * time.Minute),
			[]want{fixedWant(phaseInProgress, t0)}},
		{"hourly during", hourly, t0.Add(5 * time.Minute), epoch, []want{
			{hourlyID(10), phaseInProgress, []string{maintUpdate(phaseInProgress, hour(10), "db"),
				maintUpdate(phaseScheduled, epoch, "db")}},
			{hourlyID(9), phaseCompleted, []string{maintUpdate(phaseCompleted, hour(9).Add(10*time.Minute), "db"),
				maintUpdate(phaseInProgress, hour(9), "db"), maintUpdate(phaseScheduled, epoch, "db")}},
		}},
		{"hourly between", hourly, t0.Add(20 * time.Minute), epoch, []want{
			{hourlyID(11), phaseScheduled, []string{maintUpdate(phaseScheduled, epoch, "db")}},
			{hourlyID(10), phaseCompleted, []string{maintUpdate(phaseCompleted, hour(10).Add(10*time.Minute), "db"),
				maintUpdate(phaseInProgress, hour(10), "db"), maintUpdate(phaseScheduled, epoch, "db")}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Maintenance = []config.Maintenance{tt.m}
			snap := mustBuild(t, Inputs{Config: cfg, State: operationalState(), Now: tt.now, Epoch: tt.epoch})
			got := maintenancesIn(t, snap, pathMaintenances)
			if len(got) != len(tt.want) {
				t.Fatalf("%d maintenances %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				m := got[i]
				if m.ID != w.id || m.Status != w.status {
					t.Errorf("maintenance %d = %s %s, want %s %s", i, m.ID, m.Status, w.id, w.status)
				}
				if d := describeUpdates(t, m); !slices.Equal(d, w.updates) {
					t.Errorf("%s updates:\n%s\nwant\n%s", m.ID, strings.Join(d, "\n"), strings.Join(w.updates, "\n"))
				}
				if !slices.Equal(maintUpdateIDs(m), maintHistory(m.ID, m.Status)) {
					t.Errorf("%s update ids %q, want %q", m.ID, maintUpdateIDs(m), maintHistory(m.ID, m.Status))
				}
				if body := m.IncidentUpdates[len(m.IncidentUpdates)-1].Body; body != cmp.Or(tt.m.Message, tt.m.Name) {
					t.Errorf("%s: scheduled update says %q, want the window's message", m.ID, body)
				}
			}
		})
	}
}

// TestMaintenanceNotified: deliver_notifications is true only on the
// updates notify sends, a window's start and end, and only when a
// receiver asked for maintenance about one of its components.
func TestMaintenanceNotified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		receivers []config.Receiver
		want      []bool // completed, in progress, scheduled
	}{
		{"no receivers", nil, []bool{false, false, false}},
		{"incidents only", []config.Receiver{{Name: "a", Type: config.ReceiverWebhook}}, []bool{false, false, false}},
		{"maintenance", []config.Receiver{{Name: "a", Type: config.ReceiverWebhook, Maintenance: true}},
			[]bool{true, true, false}},
		{"maintenance of db", []config.Receiver{{Name: "a", Type: config.ReceiverWebhook, Maintenance: true,
			Components: []string{"email", "db"}}}, []bool{true, true, false}},
		{"maintenance of others", []config.Receiver{{Name: "a", Type: config.ReceiverWebhook, Maintenance: true,
			Components: []string{"web-app"}}}, []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Notify = tt.receivers
			cfg.Maintenance = []config.Maintenance{{Name: "DB upgrade", Components: []string{"db"},
				Start: t0.Add(-2 * time.Hour), End: t0.Add(-time.Hour)}}
			ms := maintenancesIn(t, mustBuild(t, Inputs{Config: cfg, Now: t0}), pathMaintenances)
			var got []bool
			for _, u := range ms[0].IncidentUpdates {
				got = append(got, u.DeliverNotifications)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("deliver_notifications %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRecurringMaintenance follows one occurrence of a nightly window that
// crosses midnight in Berlin: scheduled before, in progress after midnight,
// completed once it ends, next to the following night's.
func TestRecurringMaintenance(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	const (
		earlier = "mnt-nightly-backup-202606092130" // 2026-06-09 23:30 CEST
		tonight = "mnt-nightly-backup-202606102130"
		later   = "mnt-nightly-backup-202606112130"
	)
	tests := []struct {
		name     string
		now      time.Time
		want     map[string]string // id -> status
		upcoming int
		active   int
		dbStatus detector.ComponentStatus
	}{
		{"before", time.Date(2026, 6, 10, 23, 0, 0, 0, berlin),
			map[string]string{earlier: "completed", tonight: "scheduled"}, 1, 0, detector.Operational},
		{"after midnight", time.Date(2026, 6, 11, 0, 30, 0, 0, berlin),
			map[string]string{earlier: "completed", tonight: "in_progress"}, 0, 1, detector.UnderMaintenance},
		{"ended", time.Date(2026, 6, 11, 1, 30, 0, 0, berlin),
			map[string]string{tonight: "completed", later: "scheduled"}, 1, 0, detector.Operational},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Maintenance = []config.Maintenance{{Name: "Nightly backup", Components: []string{"db"},
				Cron: "30 23 * * *", Duration: 2 * time.Hour, TimeZone: "Europe/Berlin", Message: "Backup"}}
			snap := mustBuild(t, Inputs{Config: cfg, Now: tt.now})
			got := map[string]string{}
			for _, m := range maintenancesIn(t, snap, pathMaintenances) {
				got[m.ID] = m.Status
				if (m.ResolvedAt != nil) != (m.Status == "completed") {
					t.Errorf("%s: resolved_at = %v for %s", m.ID, m.ResolvedAt, m.Status)
				}
				if !slices.Equal(maintUpdateIDs(m), maintHistory(m.ID, m.Status)) ||
					m.IncidentUpdates[len(m.IncidentUpdates)-1].Body != "Backup" || len(m.Components) != 1 {
					t.Errorf("%s: updates/components = %+v", m.ID, m)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("maintenances = %v, want %v", got, tt.want)
			}
			for id, st := range tt.want {
				if got[id] != st {
					t.Errorf("%s = %q, want %q (all %v)", id, got[id], st, got)
				}
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
		})
	}
}

// TestMaintenanceKeyFollowsOccurrences checks that the refresher rebuilds
// when a recurring window moves to its next occurrence.
func TestMaintenanceKeyFollowsOccurrences(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Maintenance = []config.Maintenance{{Name: "hourly", Components: []string{"db"},
		Cron: "0 * * * *", Duration: 10 * time.Minute}}
	base := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	k := func(d time.Duration) string { return maintenanceKey(cfg, base.Add(d)) }
	if k(time.Minute) != k(9*time.Minute) {
		t.Error("key changed within one occurrence")
	}
	if k(9*time.Minute) == k(10*time.Minute) {
		t.Error("key did not change when the occurrence ended")
	}
	if k(30*time.Minute) == k(61*time.Minute) {
		t.Error("key did not change when the next occurrence started")
	}
}
