package engine

import (
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

// A recurring window crossing midnight in a non-UTC zone: a component down
// during it is under maintenance with no incident; still down after the
// window ends, its incident opens then.
func TestRecurringMaintenanceAcrossMidnight(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 Berlin for 2h: on 2026-11-21 that is 22:30 to 00:30 UTC.
	cfg := *f.cfg
	cfg.Maintenance = []config.Maintenance{{Name: "nightly", Components: []string{"web"},
		Cron: "30 23 * * *", Duration: 2 * time.Hour, TimeZone: "Europe/Berlin"}}
	f.eng.Configure(&cfg)
	f.cfg = &cfg
	f.clk.mu.Lock()
	f.clk.t = time.Date(2026, 11, 22, 0, 45, 0, 0, berlin) // after local midnight
	f.clk.mu.Unlock()

	f.feed("web-home", "DDD")
	st := f.state(t)
	if len(st.Incidents) != 0 || st.Components["web"].Status != "under_maintenance" {
		t.Fatalf("during the window: %+v", st)
	}
	f.clk.add(45 * time.Minute) // 01:30 Berlin plus the feed's 30 s: the window has ended
	f.feed("web-home", "D")
	st = f.state(t)
	if len(st.Incidents) != 1 || st.Components["web"].Status != "major_outage" {
		t.Fatalf("after the window, still down: %+v", st)
	}
}
