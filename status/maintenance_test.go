package status

import (
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
)

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
				if m.IncidentUpdates[0].Body != "Backup" || len(m.Components) != 1 {
					t.Errorf("%s: update/components = %+v", m.ID, m)
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
