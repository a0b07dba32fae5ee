package status

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// monitoringState: every component operational again, the open incident
// being monitored.
func monitoringState() incident.State {
	st := incidentState()
	for id, c := range st.Components {
		c.Status = detector.Operational
		st.Components[id] = c
	}
	open := &st.Incidents[0]
	open.Status, open.MonitoringAt = incident.Monitoring, t0.Add(-2*time.Minute)
	open.Updates = append(open.Updates, incident.Update{ID: "openupd3", Status: incident.Monitoring,
		Body: "Recovered", CreatedAt: open.MonitoringAt})
	return st
}

// TestUpdateTimesToTheSecond: five updates within one minute read apart on
// every page that shows them, in the page's time zone.
func TestUpdateTimesToTheSecond(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ zone, suffix, hour string }{
		{"UTC", "UTC", "08"}, {"Europe/Berlin", "CET", "09"}, {"America/New_York", "EST", "03"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			t.Parallel()
			in := scenarios()[0].in
			in.Config = testConfig()
			in.Config.Page.TimeZone = tc.zone
			in.State = operationalState()
			burst := burstIncident()
			burst.Status, burst.ResolvedAt = incident.Monitoring, time.Time{} // open: on the front page's open list
			burst.Updates = burst.Updates[:5]
			in.State.Incidents = append(in.State.Incidents, burst)
			snap := mustBuild(t, in)
			for _, path := range []string{pathPage, pathHistory, pathIncidentPrefix + burst.ID} {
				data, _, _ := snap.Body(path)
				var wants []string
				for _, s := range []string{"58", "44", "31", "15", "03"} {
					wants = append(wants, "Nov 21, 2026 "+tc.hour+":17:"+s+" "+tc.suffix+"</time>")
				}
				t.Run(path, func(t *testing.T) { wantInOrder(t, string(data), wants) })
			}
		})
	}
}

// TestBanner: the banner follows the indicator, but says the service
// recovered, calmly, while every open incident is monitoring and every
// component operational; status.json keeps Statuspage's indicator.
func TestBanner(t *testing.T) {
	t.Parallel()
	identified := monitoringState()
	identified.Incidents[0].Status = incident.Identified
	degraded := monitoringState()
	degraded.Components["web-app"] = incident.ComponentState{Status: detector.DegradedPerformance, UpdatedAt: t0}
	second := monitoringState()
	other := resolvedIncident()
	other.ID, other.Status, other.ResolvedAt = "secondopen", incident.Investigating, time.Time{}
	second.Incidents = append(second.Incidents, other)
	twoMonitoring := monitoringState()
	other2 := other
	other2.Status = incident.Monitoring
	twoMonitoring.Incidents = append(twoMonitoring.Incidents, other2)
	for _, tc := range []struct {
		name                   string
		cfg                    func() *Inputs
		class, text, indicator string
	}{
		{"operational", func() *Inputs { return &Inputs{State: operationalState()} },
			"none", "All Systems Operational", "none"},
		{"outage", func() *Inputs { return &Inputs{State: incidentState()} },
			"critical", "Major Service Outage", "critical"},
		{"recovered, monitoring", func() *Inputs { return &Inputs{State: monitoringState()} },
			"monitoring", "Service Recovered — Monitoring", "critical"},
		{"two incidents monitoring", func() *Inputs { return &Inputs{State: twoMonitoring} },
			"monitoring", "Service Recovered — Monitoring", "critical"},
		{"identified, components operational", func() *Inputs { return &Inputs{State: identified} },
			"critical", "Major Service Outage", "critical"},
		{"monitoring, a component still degraded", func() *Inputs { return &Inputs{State: degraded} },
			"critical", "Major Service Outage", "critical"},
		{"monitoring and another investigating", func() *Inputs { return &Inputs{State: second} },
			"critical", "Major Service Outage", "critical"},
		{"monitoring during maintenance", func() *Inputs {
			return &Inputs{State: monitoringState(), Config: goldenMaintenanceConfig()}
		}, "critical", "Major Service Outage", "critical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.cfg()
			in.Now, in.Epoch = t0, t0.Add(-100*time.Hour)
			if in.Config == nil {
				in.Config = testConfig()
			}
			snap := mustBuild(t, *in)
			var st statusDoc
			data, _, _ := snap.Body(pathStatus)
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			if string(st.Status.Indicator) != tc.indicator {
				t.Errorf("status.json indicator %q, want %q", st.Status.Indicator, tc.indicator)
			}
			for _, path := range []string{pathPage, pathPageStatic, pathHistory} {
				data, _, _ := snap.Body(path)
				m := bannerRE.FindStringSubmatch(string(data))
				if m == nil {
					t.Fatalf("%s: no banner", path)
				}
				if m[1] != tc.class || m[2] != tc.indicator || m[3] != tc.text {
					t.Errorf("%s: banner class %q data-indicator %q text %q; want %q %q %q", path, m[1], m[2], m[3],
						tc.class, tc.indicator, tc.text)
				}
			}
		})
	}
}

var bannerRE = regexp.MustCompile(`<p id="banner" class="banner ([a-z]+)" data-indicator="([a-z]+)" role="status">([^<]+)</p>`)

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-3 * time.Second:                      "0 s",
		0:                                     "0 s",
		900 * time.Millisecond:                "0 s",
		42 * time.Second:                      "42 s",
		time.Minute:                           "1 min",
		4*time.Minute + 12*time.Second:        "4 min 12 s",
		59*time.Minute + 59*time.Second:       "59 min 59 s",
		time.Hour:                             "1 h",
		2*time.Hour + 5*time.Minute + 30e9:    "2 h 5 min",
		26 * time.Hour:                        "1 d 2 h",
		48*time.Hour + 59*time.Minute:         "2 d",
		400*24*time.Hour + 23*time.Hour + 1e9: "400 d 23 h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestIncidentDuration: a resolved incident lasted from its start to its
// resolution as the page shows them, to the second; an open one is ongoing
// for the minutes up to the snapshot's minute.
func TestIncidentDuration(t *testing.T) {
	t.Parallel()
	b := preparedBuilder(t, Inputs{Config: testConfig(), Now: t0.Add(42 * time.Second)}) // 10:00:42
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name string
		in   incident.Incident
		want string
	}{
		{"resolved, by the seconds shown", burstIncident(), "lasted 4 min 12 s"},
		{"resolved within a second", incident.Incident{Status: incident.Resolved, StartedAt: at(100 * time.Millisecond),
			ResolvedAt: at(900 * time.Millisecond)}, "lasted 0 s"},
		{"resolved, no start: created", incident.Incident{Status: incident.Resolved, CreatedAt: at(-time.Hour),
			ResolvedAt: at(-time.Hour + 90*time.Second)}, "lasted 1 min 30 s"},
		{"resolved without a time", incident.Incident{Status: incident.Resolved, StartedAt: at(-time.Hour)}, ""},
		{"open: to the snapshot's minute", incident.Incident{Status: incident.Investigating,
			StartedAt: at(-11*time.Minute - 30*time.Second)}, "ongoing for 11 min"},
		{"monitoring is open", incident.Incident{Status: incident.Monitoring, StartedAt: at(-3 * time.Hour)},
			"ongoing for 3 h"},
		{"open for seconds", incident.Incident{Status: incident.Identified, StartedAt: at(-20 * time.Second)},
			"ongoing for under a minute"},
		{"open, started after the minute began", incident.Incident{Status: incident.Investigating,
			StartedAt: at(10 * time.Second)}, "ongoing for under a minute"},
		{"open, no times", incident.Incident{Status: incident.Investigating}, ""},
	} {
		if got := b.duration(tc.in); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDurationsShown: resolved incidents show how long they lasted on the
// front page's past incidents, the history page and their own page.
func TestDurationsShown(t *testing.T) {
	t.Parallel()
	in := scenarios()[0].in
	in.State = operationalState()
	in.State.Incidents = append(in.State.Incidents, burstIncident())
	snap := mustBuild(t, in)
	for _, path := range []string{pathPage, pathHistory} {
		data, _, _ := snap.Body(path)
		wantInOrder(t, string(data), []string{`data-incident="burst0000001"`, `<span class="duration">lasted 4 min 12 s</span>`,
			`data-incident="oldincident01"`, `<span class="duration">lasted 32 min</span>`})
	}
	data, _, _ := snap.Body(pathIncidentPrefix + "oldincident01")
	wantInOrder(t, string(data), []string{`<dd class="duration">lasted 32 min</dd>`})
}
