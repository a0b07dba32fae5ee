package maintenance

import (
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// span is an occurrence as [start, end) in UTC, or "-" for none.
func span(w *Window) string {
	if w == nil {
		return "-"
	}
	return w.Start.UTC().Format(time.RFC3339) + ".." + w.End.UTC().Format(time.RFC3339)
}

func TestOccurrences(t *testing.T) {
	t.Parallel()
	berlin := mustZone(t, "Europe/Berlin")
	newYork := mustZone(t, "America/New_York")
	fixed := config.Maintenance{
		Name: "db-upgrade", Components: []string{"web"},
		Start: time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
	}
	recurring := func(cron, zone string, d time.Duration) config.Maintenance {
		return config.Maintenance{Name: "nightly", Components: []string{"web"}, Cron: cron, Duration: d, TimeZone: zone}
	}
	tests := []struct {
		name            string
		m               config.Maintenance
		now             time.Time
		prev, cur, next string
	}{
		{"fixed before", fixed, time.Date(2026, 12, 1, 1, 59, 0, 0, time.UTC),
			"-", "-", "2026-12-01T02:00:00Z..2026-12-01T03:00:00Z"},
		{"fixed at start", fixed, time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC),
			"-", "2026-12-01T02:00:00Z..2026-12-01T03:00:00Z", "-"},
		{"fixed at end", fixed, time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC),
			"2026-12-01T02:00:00Z..2026-12-01T03:00:00Z", "-", "-"},

		// 23:30 to 01:30 Berlin summer time (UTC+2).
		{"berlin before", recurring("30 23 * * *", "Europe/Berlin", 2*time.Hour), time.Date(2026, 6, 10, 23, 29, 0, 0, berlin),
			"2026-06-09T21:30:00Z..2026-06-09T23:30:00Z", "-", "2026-06-10T21:30:00Z..2026-06-10T23:30:00Z"},
		{"berlin after midnight", recurring("30 23 * * *", "Europe/Berlin", 2*time.Hour), time.Date(2026, 6, 11, 0, 30, 0, 0, berlin),
			"2026-06-09T21:30:00Z..2026-06-09T23:30:00Z", "2026-06-10T21:30:00Z..2026-06-10T23:30:00Z", "2026-06-11T21:30:00Z..2026-06-11T23:30:00Z"},
		{"berlin last second", recurring("30 23 * * *", "Europe/Berlin", 2*time.Hour), time.Date(2026, 6, 11, 1, 29, 59, 0, berlin),
			"2026-06-09T21:30:00Z..2026-06-09T23:30:00Z", "2026-06-10T21:30:00Z..2026-06-10T23:30:00Z", "2026-06-11T21:30:00Z..2026-06-11T23:30:00Z"},
		{"berlin ended", recurring("30 23 * * *", "Europe/Berlin", 2*time.Hour), time.Date(2026, 6, 11, 1, 30, 0, 0, berlin),
			"2026-06-10T21:30:00Z..2026-06-10T23:30:00Z", "-", "2026-06-11T21:30:00Z..2026-06-11T23:30:00Z"},
		// 22:00 to 02:00 New York winter time (UTC-5), asked in UTC.
		{"new york after midnight", recurring("0 22 * * 5", "America/New_York", 4*time.Hour), time.Date(2026, 1, 10, 1, 0, 0, 0, newYork),
			"2026-01-03T03:00:00Z..2026-01-03T07:00:00Z", "2026-01-10T03:00:00Z..2026-01-10T07:00:00Z", "2026-01-17T03:00:00Z..2026-01-17T07:00:00Z"},
		{"new york ended", recurring("0 22 * * 5", "America/New_York", 4*time.Hour), time.Date(2026, 1, 10, 7, 0, 0, 0, time.UTC),
			"2026-01-10T03:00:00Z..2026-01-10T07:00:00Z", "-", "2026-01-17T03:00:00Z..2026-01-17T07:00:00Z"},

		// Berlin springs forward at 02:00 CET on 2026-03-29: a window from
		// 23:30 CET lasts 3h of elapsed time and ends at 03:30 CEST.
		{"dst spring during", recurring("30 23 * * *", "Europe/Berlin", 3*time.Hour), time.Date(2026, 3, 29, 3, 29, 0, 0, berlin),
			"2026-03-27T22:30:00Z..2026-03-28T01:30:00Z", "2026-03-28T22:30:00Z..2026-03-29T01:30:00Z", "2026-03-29T21:30:00Z..2026-03-30T00:30:00Z"},
		{"dst spring ended", recurring("30 23 * * *", "Europe/Berlin", 3*time.Hour), time.Date(2026, 3, 29, 3, 30, 0, 0, berlin),
			"2026-03-28T22:30:00Z..2026-03-29T01:30:00Z", "-", "2026-03-29T21:30:00Z..2026-03-30T00:30:00Z"},
		// 02:30 does not exist that day: no occurrence.
		{"dst spring skipped start", recurring("30 2 * * *", "Europe/Berlin", time.Hour), time.Date(2026, 3, 29, 4, 0, 0, 0, berlin),
			"2026-03-28T01:30:00Z..2026-03-28T02:30:00Z", "-", "2026-03-30T00:30:00Z..2026-03-30T01:30:00Z"},
		// Berlin falls back at 03:00 CEST on 2026-10-25: 02:30 happens twice.
		{"dst fall repeated start", recurring("30 2 * * *", "Europe/Berlin", 30*time.Minute), time.Date(2026, 10, 25, 1, 45, 0, 0, time.UTC),
			"2026-10-25T00:30:00Z..2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z..2026-10-25T02:00:00Z", "2026-10-26T01:30:00Z..2026-10-26T02:00:00Z"},

		{"empty zone is utc", recurring("0 3 * * *", "", time.Hour), time.Date(2026, 5, 1, 3, 30, 0, 0, time.UTC),
			"2026-04-30T03:00:00Z..2026-04-30T04:00:00Z", "2026-05-01T03:00:00Z..2026-05-01T04:00:00Z", "2026-05-02T03:00:00Z..2026-05-02T04:00:00Z"},
		{"yearly", recurring("0 0 1 1 *", "UTC", 24*time.Hour), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
			"2026-01-01T00:00:00Z..2026-01-02T00:00:00Z", "-", "2027-01-01T00:00:00Z..2027-01-02T00:00:00Z"},
		// Occurrences that overlap: the latest start is the current one.
		{"overlapping", recurring("0 * * * *", "UTC", 90*time.Minute), time.Date(2026, 5, 1, 3, 20, 0, 0, time.UTC),
			"2026-05-01T01:00:00Z..2026-05-01T02:30:00Z", "2026-05-01T03:00:00Z..2026-05-01T04:30:00Z", "2026-05-01T04:00:00Z..2026-05-01T05:30:00Z"},
		{"bad cron", recurring("61 * * * *", "UTC", time.Hour), time.Date(2026, 5, 1, 3, 20, 0, 0, time.UTC), "-", "-", "-"},
		{"bad zone", recurring("0 * * * *", "Mars/Olympus_Mons", time.Hour), time.Date(2026, 5, 1, 3, 20, 0, 0, time.UTC), "-", "-", "-"},
		{"never", recurring("0 0 30 2 *", "UTC", time.Hour), time.Date(2026, 5, 1, 3, 20, 0, 0, time.UTC), "-", "-", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prev, cur, next := Occurrences(tt.m, tt.now)
			if got := span(prev); got != tt.prev {
				t.Errorf("prev = %s, want %s", got, tt.prev)
			}
			if got := span(cur); got != tt.cur {
				t.Errorf("cur = %s, want %s", got, tt.cur)
			}
			if got := span(next); got != tt.next {
				t.Errorf("next = %s, want %s", got, tt.next)
			}
		})
	}
}

func TestActive(t *testing.T) {
	t.Parallel()
	berlin := mustZone(t, "Europe/Berlin")
	ms := []config.Maintenance{
		{Name: "db-upgrade", Components: []string{"web", "api"},
			Start: time.Date(2026, 6, 10, 20, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 10, 22, 0, 0, 0, time.UTC)},
		{Name: "nightly", Components: []string{"api"}, Message: "Backup",
			Cron: "30 23 * * *", Duration: 2 * time.Hour, TimeZone: "Europe/Berlin"},
	}
	tests := []struct {
		name      string
		component string
		now       time.Time
		want      string // window name, "" for none
	}{
		{"fixed only", "web", time.Date(2026, 6, 10, 21, 0, 0, 0, time.UTC), "db-upgrade"},
		{"fixed ended", "web", time.Date(2026, 6, 10, 22, 0, 0, 0, time.UTC), ""},
		{"latest start wins", "api", time.Date(2026, 6, 10, 21, 45, 0, 0, time.UTC), "nightly"},
		{"recurring after midnight", "api", time.Date(2026, 6, 11, 0, 30, 0, 0, berlin), "nightly"},
		{"recurring ended", "api", time.Date(2026, 6, 11, 1, 30, 0, 0, berlin), ""},
		{"not covered", "email", time.Date(2026, 6, 11, 0, 30, 0, 0, berlin), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, ok := Active(ms, tt.component, tt.now)
			if got := map[bool]string{true: w.Name}[ok]; got != tt.want {
				t.Fatalf("Active(%s, %s) = %q, %v; want %q", tt.component, tt.now, w.Name, ok, tt.want)
			}
			if ok && !w.Covers(tt.component, tt.now) {
				t.Errorf("window %s does not cover %s at %s", span(&w), tt.component, tt.now)
			}
		})
	}
}
