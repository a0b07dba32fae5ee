package uptime

import (
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

func TestRecorderComponent(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	type obs struct {
		at     string
		status detector.ComponentStatus
		known  bool
	}
	op, down := detector.Operational, detector.MajorOutage
	cases := []struct {
		name string
		obs  []obs
		want Batch
	}{
		{"first observation starts the clock", []obs{{"2026-03-01 10:00:00", op, true}}, nil},
		{"time goes to the earlier status", []obs{
			{"2026-03-01 10:00:00", op, true}, {"2026-03-01 10:00:30", down, true}, {"2026-03-01 10:00:40", down, true},
		}, Batch{
			{KindComponent, "web", "2026-03-01", "operational"}:  30000,
			{KindComponent, "web", "2026-03-01", "major_outage"}: 10000,
		}},
		{"split at local midnight", []obs{
			{"2026-03-01 23:59:40", down, true}, {"2026-03-02 00:00:10", op, true},
		}, Batch{
			{KindComponent, "web", "2026-03-01", "major_outage"}: 20000,
			{KindComponent, "web", "2026-03-02", "major_outage"}: 10000,
		}},
		{"a gap longer than MaxGap is not credited", []obs{
			{"2026-03-01 10:00:00", op, true}, {"2026-03-01 10:05:00", op, true}, {"2026-03-01 10:05:01", op, true},
		}, Batch{{KindComponent, "web", "2026-03-01", "operational"}: 1000}},
		{"unknown stops the clock", []obs{
			{"2026-03-01 10:00:00", op, true}, {"2026-03-01 10:00:10", op, false}, {"2026-03-01 10:00:20", op, true},
		}, Batch{{KindComponent, "web", "2026-03-01", "operational"}: 10000}},
		{"time going backwards is ignored", []obs{
			{"2026-03-01 10:00:10", op, true}, {"2026-03-01 10:00:00", op, true}, {"2026-03-01 10:00:05", op, true},
		}, Batch{{KindComponent, "web", "2026-03-01", "operational"}: 5000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecorder(berlin)
			for _, o := range tc.obs {
				r.Component("web", o.status, o.known, at(o.at))
			}
			got := r.TakeAll()
			if len(got) != len(tc.want) {
				t.Fatalf("batch %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%+v = %d, want %d (batch %v)", k, got[k], v, got)
				}
			}
			if again := r.TakeAll(); again != nil {
				t.Errorf("second Take = %v, want nothing", again)
			}
		})
	}
}

func TestRecorderChecks(t *testing.T) {
	r := NewRecorder(nil)
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	r.CheckResult("home", probe.StatusUp, now)
	r.CheckResult("home", probe.StatusUp, now)
	r.CheckResult("home", probe.StatusDown, now)
	b := r.Take()
	want := Batch{
		{KindCheck, "home", "2026-05-10", "up"}:   2,
		{KindCheck, "home", "2026-05-10", "down"}: 1,
	}
	if len(b) != len(want) || b[Bucket{KindCheck, "home", "2026-05-10", "up"}] != 2 {
		t.Fatalf("batch %v, want %v", b, want)
	}
}

func TestDayFigures(t *testing.T) {
	day := func(m map[detector.ComponentStatus]int64) ComponentDay { return ComponentDay{Millis: MillisOf(m)} }
	cases := []struct {
		name  string
		days  []ComponentDay
		ratio float64
		ok    bool
		worst detector.ComponentStatus
	}{
		{"nothing watched", []ComponentDay{day(nil)}, 0, false, ""},
		{"all up", []ComponentDay{day(map[detector.ComponentStatus]int64{"operational": 1000})}, 1, true, "operational"},
		{"degraded counts as up", []ComponentDay{day(map[detector.ComponentStatus]int64{
			"operational": 500, "degraded_performance": 500})}, 1, true, "degraded_performance"},
		{"major outage counts fully", []ComponentDay{day(map[detector.ComponentStatus]int64{
			"operational": 750, "major_outage": 250})}, 0.75, true, "major_outage"},
		{"partial outage at 30%", []ComponentDay{day(map[detector.ComponentStatus]int64{
			"operational": 500, "partial_outage": 500})}, 0.85, true, "partial_outage"},
		{"maintenance is left out", []ComponentDay{day(map[detector.ComponentStatus]int64{
			"under_maintenance": 9000, "operational": 500, "major_outage": 500})}, 0.5, true, "major_outage"},
		{"only maintenance", []ComponentDay{day(map[detector.ComponentStatus]int64{
			"under_maintenance": 9000})}, 0, false, "under_maintenance"},
		{"days weigh by watched time", []ComponentDay{
			day(map[detector.ComponentStatus]int64{"operational": 3000}),
			day(map[detector.ComponentStatus]int64{"major_outage": 1000}),
		}, 0.75, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ratio, ok := Ratio(tc.days)
			if ok != tc.ok || (ok && abs(ratio-tc.ratio) > 1e-9) {
				t.Errorf("Ratio = %v, %v; want %v, %v", ratio, ok, tc.ratio, tc.ok)
			}
			if len(tc.days) == 1 {
				if w := tc.days[0].Worst(); w != tc.worst {
					t.Errorf("Worst = %q, want %q", w, tc.worst)
				}
			}
		})
	}
}

func TestRangeAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, ny) // two days after the spring change
	days := Range(now, 5, ny)
	for i, d := range days {
		if d.Hour() != 0 || d.Minute() != 0 {
			t.Errorf("day %d starts at %v, want midnight", i, d)
		}
	}
	if got := days[4].Format(DateLayout); got != "2026-03-10" {
		t.Errorf("last day %s, want today", got)
	}
	if got := days[0].Format(DateLayout); got != "2026-03-06" {
		t.Errorf("first day %s", got)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestRecorderHandsOnLongRuns: Take hands on a component's time once it
// reaches flushRunAfter, or when its status changes; TakeAll everything.
func TestRecorderHandsOnLongRuns(t *testing.T) {
	r := NewRecorder(nil)
	t0 := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	for i := range 4 { // 3 s of operational, a second at a time
		r.Component("web", detector.Operational, true, t0.Add(time.Duration(i)*time.Second))
	}
	if b := r.Take(); b != nil {
		t.Errorf("Take after 3 s = %v, want nothing yet", b)
	}
	for i := 4; i <= 12; i++ {
		r.Component("web", detector.Operational, true, t0.Add(time.Duration(i)*time.Second))
	}
	if b := r.Take(); b[Bucket{KindComponent, "web", "2026-05-10", "operational"}] != 12_000 {
		t.Errorf("Take after 12 s = %v, want 12 s", b)
	}
	r.Component("web", detector.MajorOutage, true, t0.Add(13*time.Second))
	r.Component("web", detector.MajorOutage, true, t0.Add(15*time.Second))
	b := r.Take() // the status changed: the operational second is handed on
	if b[Bucket{KindComponent, "web", "2026-05-10", "operational"}] != 1000 || len(b) != 1 {
		t.Errorf("Take after a change = %v, want the 1 s operational", b)
	}
	if b := r.TakeAll(); b[Bucket{KindComponent, "web", "2026-05-10", "major_outage"}] != 2000 {
		t.Errorf("TakeAll = %v, want 2 s of major outage", b)
	}
}

func TestRecorderDrop(t *testing.T) {
	t.Parallel()
	r := NewRecorder(time.UTC)
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	r.Component("web", "operational", true, now)
	r.Component("web", "operational", true, now.Add(10*time.Second))
	r.Component("api", "operational", true, now)
	r.Component("api", "operational", true, now.Add(10*time.Second))
	r.CheckResult("home", probe.StatusUp, now)
	r.CheckResult("health", probe.StatusUp, now)
	r.Drop("web", []string{"home"})
	b := r.TakeAll()
	if len(b) != 2 || b[Bucket{KindComponent, "api", "2026-05-10", "operational"}] != 10_000 ||
		b[Bucket{KindCheck, "health", "2026-05-10", "up"}] != 1 {
		t.Errorf("after dropping web: %v", b)
	}
	// Its clock stopped: time until its next observation is not credited.
	r.Component("web", "operational", true, now.Add(20*time.Second))
	r.Component("web", "operational", true, now.Add(25*time.Second))
	if got := r.TakeAll()[Bucket{KindComponent, "web", "2026-05-10", "operational"}]; got != 5_000 {
		t.Errorf("web credited %d ms after the drop, want the 5 s since its clock restarted", got)
	}
}
