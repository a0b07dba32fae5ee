package status

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/uptime"
)

// uptimeInputs is the incident state with stored history: web-app was
// watched for an hour today (45 min up, 15 min down) and a whole day two
// days ago; api has nothing stored.
func uptimeInputs() Inputs {
	day := func(ago int) time.Time { return uptime.Midnight(t0, time.UTC).AddDate(0, 0, -ago) }
	return Inputs{Config: testConfig(), State: incidentState(), Now: t0,
		Uptime: map[string][]uptime.ComponentDay{
			"web-app": {
				{Date: day(2), Millis: uptime.MillisOf(map[detector.ComponentStatus]int64{detector.Operational: 86_400_000})},
				{Date: day(0), Millis: uptime.MillisOf(map[detector.ComponentStatus]int64{
					detector.Operational: 45 * 60_000, detector.MajorOutage: 15 * 60_000})},
			},
		}}
}

func TestUptimeBars(t *testing.T) {
	t.Parallel()
	snap := mustBuild(t, uptimeInputs())
	data, _, _ := snap.Body(pathPage)
	html := string(data)
	for _, id := range []string{"web-app", "email", "api", "db"} {
		i := strings.Index(html, `data-component="`+id+`"`)
		if i < 0 {
			t.Fatalf("no component %s on the page", id)
		}
		item := html[i:]
		item = item[:strings.Index(item, "</ol>")]
		if n := strings.Count(item, `<li class="bar `); n != uptime.Days {
			t.Errorf("%s has %d bars, want %d", id, n, uptime.Days)
		}
	}
	web := html[strings.Index(html, `data-component="web-app"`):]
	web = web[:strings.Index(web, `class="uptime-pct"`)+60]
	for _, want := range []string{
		`<li class="bar major_outage" tabindex="0"><span class="tip">Nov 21, 2026: major outage, 75.00% uptime; incident: Web App and API unavailable</span></li>`,
		// Only days with something to say are tab stops.
		`<li class="bar operational"><span class="tip">Nov 19, 2026: no downtime, 100.00% uptime</span></li>`,
		`<li class="bar nodata"><span class="tip">Nov 20, 2026: no data</span></li>`,
		// The first bar is 89 days before today.
		`<div class="span"><span>Aug 24, 2026</span>`,
		// (86400 + 3600) s watched, 900 s down.
		`<span class="uptime-pct">99.00% uptime</span>`,
	} {
		if !strings.Contains(web, want) {
			t.Errorf("web-app's bars lack %s", want)
		}
	}
	if !strings.Contains(html, `data-component="email"`) || !strings.Contains(html, `<span class="uptime-pct">no data yet</span>`) {
		t.Error("a component without history should say no data")
	}
}

func TestUptimeEndpoint(t *testing.T) {
	t.Parallel()
	in := uptimeInputs()
	h := newTestServer(t, ServerOptions{}, &in).Handler()
	rec := do(t, h, http.MethodGet, "/api/v1/components/web-app/uptime?days=3", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var doc struct {
		Days      int     `json:"days"`
		Uptime    float64 `json:"uptime"`
		TimeZone  string  `json:"time_zone"`
		Component struct{ ID, Name string }
		History   []struct {
			Date      string             `json:"date"`
			Status    *string            `json:"status"`
			Uptime    *float64           `json:"uptime"`
			Durations map[string]float64 `json:"durations"`
			Incidents []struct{ ID, Name, Impact string }
		} `json:"history"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Days != 3 || len(doc.History) != 3 || doc.Component.Name != "Web App" || doc.TimeZone != "UTC" {
		t.Fatalf("doc %+v", doc)
	}
	if got := doc.Uptime; got != 0.99 {
		t.Errorf("uptime over 3 days %v, want 0.99", got)
	}
	old, gap, today := doc.History[0], doc.History[1], doc.History[2]
	if old.Date != "2026-11-19" || *old.Status != "operational" || *old.Uptime != 1 || old.Durations["operational"] != 86400 {
		t.Errorf("first day %+v", old)
	}
	if gap.Status != nil || gap.Uptime != nil || len(gap.Incidents) != 0 {
		t.Errorf("a day without data %+v, want nulls", gap)
	}
	if *today.Status != "major_outage" || *today.Uptime != 0.75 || len(today.Incidents) != 1 ||
		today.Incidents[0].ID != "openincident" || today.Incidents[0].Impact != "critical" {
		t.Errorf("today %+v", today)
	}
	if rec := do(t, h, http.MethodGet, "/api/v1/components/email/uptime", nil); rec.Code != http.StatusOK ||
		strings.Count(rec.Body.String(), `"date"`) != uptime.Days || !strings.Contains(rec.Body.String(), `"uptime":null`) {
		t.Errorf("default days: %d %.200s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{"/api/v1/components/web-app/uptime?days=0", http.StatusBadRequest, "days: must be a whole number from 1 to 90"},
		{"/api/v1/components/web-app/uptime?days=91", http.StatusBadRequest, "days: must be a whole number from 1 to 90"},
		{"/api/v1/components/web-app/uptime?days=x", http.StatusBadRequest, "days: must be a whole number from 1 to 90"},
		{"/api/v1/components/nope/uptime", http.StatusNotFound, "not found"},
		{"/api/v1/components/grp-help-desk/uptime", http.StatusNotFound, "not found"},
	} {
		rec := do(t, h, http.MethodGet, tc.path, nil)
		if rec.Code != tc.code || errorOf(t, rec) != tc.msg {
			t.Errorf("GET %s = %d %s, want %d %q", tc.path, rec.Code, rec.Body, tc.code, tc.msg)
		}
	}
	if rec := do(t, h, http.MethodPost, "/api/v1/components/web-app/uptime", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", rec.Code)
	}
	// Served from the snapshot like every read endpoint: ETag and 304.
	first := do(t, h, http.MethodGet, "/api/v1/components/web-app/uptime", nil)
	etag := first.Header().Get("ETag")
	if rec := do(t, h, http.MethodGet, "/api/v1/components/web-app/uptime", map[string]string{"If-None-Match": etag}); etag == "" || rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %q = %d, want 304", etag, rec.Code)
	}
}

func TestHistoryPage(t *testing.T) {
	t.Parallel()
	in := uptimeInputs()
	in.Now = t0.Add(30 * 24 * time.Hour) // the resolved incident is off the front page
	snap := mustBuild(t, in)
	front, _, _ := snap.Body(pathPage)
	past := string(front[bytes.Index(front, []byte(`id="past-incidents"`)):])
	if strings.Contains(past, "Email delays") || !strings.Contains(past, "No incidents in the last 14 days") {
		t.Error("the front page lists an incident older than 14 days")
	}
	data, _, ok := snap.Body(pathHistory)
	if !ok {
		t.Fatal("no history page")
	}
	hist := string(data)
	for _, want := range []string{"Incident history", "November 2026", "Email delays", "Web App and API unavailable",
		`id="incident-oldincident01"`} {
		if !strings.Contains(hist, want) {
			t.Errorf("history page lacks %q", want)
		}
	}
}
