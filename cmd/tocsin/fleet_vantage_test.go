package main

import (
	"encoding/json"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vantageVerdict reads what vantage v last reported of component comp, straight
// from the store (the verdicts quorum.lua combines): "" before any.
func (f *fleet) vantageVerdict(comp, v string) string {
	f.t.Helper()
	raw, err := f.rds.Client(f.t).HGet(f.t.Context(), "fleet:{st}:verdicts", comp).Result()
	if err != nil {
		return ""
	}
	var verdicts map[string]struct {
		S string `json:"s"`
	}
	if err := json.Unmarshal([]byte(raw), &verdicts); err != nil {
		f.t.Fatalf("verdicts of %s: %v", comp, err)
	}
	return verdicts[v].S
}

// TestFleetVantagesQuorum (issue 17, acceptance 1): three vantages, one
// replica each, quorum by majority. The target fails for one vantage's
// probes only: that vantage reports the component down, and no incident
// opens; /api/v1/checks and the page show the disagreement. It fails for two: one incident, whose update names both. All
// recover: monitoring, then resolved, with no other incident.
func TestFleetVantagesQuorum(t *testing.T) {
	t.Parallel()
	f := startFleet(t, []string{"api"}, []string{"r-eu", "r-us", "r-ap"}, fleetOptions{
		vantages: map[string]string{"r-eu": "eu", "r-us": "us", "r-ap": "ap"},
	})
	tg := f.targets["api"]

	tg.failFrom("r-eu")
	eventually(t, 30*time.Second, "eu reports api down", func() bool {
		return f.vantageVerdict("api", "eu") == "major_outage"
	})
	// eu's verdict and the combination are one script run: once eu's
	// verdict is stored, the combined status is decided.
	if in := incidentsOf(f.any(), "api"); len(in) != 0 {
		t.Fatalf("one vantage of three opened an incident: %+v", in)
	}
	if st := f.any().componentStatus("api"); st != "operational" {
		t.Fatalf("api is %s on one vantage's verdict, want operational", st)
	}
	eventually(t, 30*time.Second, "/api/v1/checks shows what each vantage sees", func() bool {
		var v struct {
			Check struct {
				Status   string `json:"status"`
				Vantages []struct {
					Vantage string `json:"vantage"`
					Status  string `json:"status"`
				} `json:"vantages"`
			} `json:"check"`
		}
		f.any().getJSON("/api/v1/checks/api-http", &v)
		seen := map[string]string{}
		for _, vs := range v.Check.Vantages {
			seen[vs.Vantage] = vs.Status
		}
		return v.Check.Status == "down" && seen["eu"] == "down" && seen["us"] == "up" && seen["ap"] == "up"
	})
	eventually(t, 30*time.Second, "the page's row names the one vantage", func() bool {
		_, page := f.any().get("/")
		return strings.Contains(string(page), "Failing from eu only")
	})

	tg.failFrom("r-eu", "r-us")
	var in spIncident
	eventually(t, 30*time.Second, "one incident once two vantages fail", func() bool {
		ins := incidentsOf(f.any(), "api")
		if len(ins) > 0 {
			in = ins[0]
		}
		return len(ins) > 0
	})
	first := in.IncidentUpdates[len(in.IncidentUpdates)-1].Body
	for _, want := range []string{"Failing from eu and us.", "ap sees it operational."} {
		if !strings.Contains(first, want) {
			t.Errorf("the opening update %q does not say %q", first, want)
		}
	}

	tg.failFrom()
	eventually(t, 60*time.Second, "the incident resolved", func() bool {
		ins := incidentsOf(f.any(), "api")
		return len(ins) == 1 && ins[0].Status == "resolved"
	})
	if ins := incidentsOf(f.any(), "api"); len(ins) != 1 || ins[0].ID != in.ID ||
		!slices.Contains(changes(ins[0]), "monitoring:major_outage>operational") {
		t.Errorf("incidents %+v (changes %v), want only %s, through monitoring", ins, changes(ins[0]), in.ID)
	}
	f.checkJSONLogs()
}

// TestFleetVantageLost (issue 17, acceptance 2): during an incident seen
// from two vantages of three, the third is killed. The verdict goes on
// from the two left: the same incident, no flip of the component, and the
// page says the verdict rests on two vantages; recovery resolves it.
func TestFleetVantageLost(t *testing.T) {
	t.Parallel()
	f := startFleet(t, []string{"api"}, []string{"r-eu", "r-us", "r-ap"}, fleetOptions{
		vantages: map[string]string{"r-eu": "eu", "r-us": "us", "r-ap": "ap"},
	})
	tg := f.targets["api"]
	tg.failFrom("r-eu", "r-us")
	var id string
	eventually(t, 30*time.Second, "an incident seen from two vantages", func() bool {
		ins := incidentsOf(f.any(), "api")
		if len(ins) > 0 {
			id = ins[0].ID
		}
		return len(ins) > 0
	})
	// Killed, not stopped: its lease has to run out.
	f.signal("r-ap", syscall.SIGKILL)
	err := <-f.procs["r-ap"].done
	f.procs["r-ap"].done <- err // for the cleanup
	delete(f.procs, "r-ap")
	eventually(t, 30*time.Second, "the page says the verdict rests on two vantages", func() bool {
		_, page := f.any().get("/")
		return strings.Contains(string(page), "Seen from 2 of 3 vantages")
	})
	ins := incidentsOf(f.any(), "api")
	if len(ins) != 1 || ins[0].ID != id || ins[0].Status == "resolved" || f.any().componentStatus("api") != "major_outage" {
		t.Fatalf("after the vantage left: component %s, incidents %+v", f.any().componentStatus("api"), ins)
	}
	tg.failFrom()
	eventually(t, 60*time.Second, "the incident resolved", func() bool {
		ins := incidentsOf(f.any(), "api")
		return len(ins) == 1 && ins[0].Status == "resolved"
	})
	in := incidentsOf(f.any(), "api")[0]
	flips := 0
	for _, c := range changes(in) {
		if strings.HasSuffix(c, ">operational") {
			flips++
		}
	}
	if in.ID != id || flips != 1 {
		t.Errorf("incident %s with changes %v: want %s, recovering once", in.ID, changes(in), id)
	}
	f.checkJSONLogs()
}

// TestFleetVantagesRegional (issue 17, acceptance 3 and 4): with
// regional: degraded, one vantage of three failing makes the component
// degraded_performance, with an update naming that vantage; then two
// failing open the full outage, within failure_threshold × interval +
// timeout + 1 s of the failure (and the slack a busy machine adds).
func TestFleetVantagesRegional(t *testing.T) {
	t.Parallel()
	f := startFleet(t, []string{"api"}, []string{"r-eu", "r-us", "r-ap"}, fleetOptions{
		vantages: map[string]string{"r-eu": "eu", "r-us": "us", "r-ap": "ap"},
		compKeys: "regional: degraded",
	})
	tg := f.targets["api"]

	tg.failFrom("r-eu")
	var in spIncident
	eventually(t, 30*time.Second, "a minor incident on one vantage's verdict", func() bool {
		ins := incidentsOf(f.any(), "api")
		if len(ins) > 0 {
			in = ins[0]
		}
		return len(ins) > 0 && f.any().componentStatus("api") == "degraded_performance"
	})
	first := in.IncidentUpdates[len(in.IncidentUpdates)-1].Body
	if in.Impact != "minor" || !strings.Contains(first, "Failing from eu only.") {
		t.Errorf("incident %s %q, want minor, naming eu only", in.Impact, first)
	}

	failed := time.Now()
	tg.failFrom("r-eu", "r-us")
	eventually(t, 30*time.Second, "the outage once two vantages see it", func() bool {
		return f.any().componentStatus("api") == "major_outage"
	})
	ins := incidentsOf(f.any(), "api")
	if len(ins) != 1 || ins[0].ID != in.ID {
		t.Fatalf("incidents %+v, want only %s, grown", ins, in.ID)
	}
	// When the store took the outage: the update that changed the
	// component to major_outage, by Redis' clock (this machine's).
	var confirmed time.Time
	for _, u := range ins[0].IncidentUpdates {
		for _, a := range u.AffectedComponents {
			if a.NewStatus == "major_outage" {
				confirmed, _ = time.Parse(time.RFC3339Nano, u.CreatedAt)
			}
		}
	}
	bound := 2*fleetInterval + fleetTimeout + time.Second
	t.Logf("outage confirmed %s after the failure (bound %s)", confirmed.Sub(failed), bound)
	if took := confirmed.Sub(failed); confirmed.IsZero() || took > bound+fleetSlack {
		t.Errorf("the outage was confirmed %s after the failure, want within %s (+ %s slack)", took, bound, fleetSlack)
	}
	f.checkJSONLogs()
}

// TestFleetVantagesSubset: a component whose checks are not all probed
// from every vantage. api-eu is probed from eu only; us judges api by
// api-http alone, so its failure and its recovery both count (quorum 1),
// and api-eu shows eu's state only.
func TestFleetVantagesSubset(t *testing.T) {
	t.Parallel()
	eu := startTarget(t)
	f := startFleet(t, []string{"api"}, []string{"r-eu", "r-us"}, fleetOptions{
		vantages: map[string]string{"r-eu": "eu", "r-us": "us"},
		compKeys: "quorum: 1",
		moreChecks: `  - name: api-eu
    component: api
    type: http
    vantages: [eu]
    http: {url: "` + eu.srv.URL + `", headers: {X-Replica: "${REPLICA}"}}
`,
	})
	tg := f.targets["api"]
	tg.failFrom("r-us")
	var id string
	eventually(t, 30*time.Second, "an incident on us's verdict (quorum 1)", func() bool {
		ins := incidentsOf(f.any(), "api")
		if len(ins) > 0 {
			id = ins[0].ID
		}
		return len(ins) > 0
	})
	tg.failFrom()
	eventually(t, 60*time.Second, "resolved once us sees api recover", func() bool {
		ins := incidentsOf(f.any(), "api")
		return len(ins) == 1 && ins[0].ID == id && ins[0].Status == "resolved"
	})
	var v struct {
		Check struct {
			Vantages []struct {
				Vantage string `json:"vantage"`
			} `json:"vantages"`
		} `json:"check"`
	}
	f.any().getJSON("/api/v1/checks/api-eu", &v)
	if len(v.Check.Vantages) != 1 || v.Check.Vantages[0].Vantage != "eu" {
		t.Errorf("api-eu's states %+v, want eu's only", v.Check.Vantages)
	}
	for _, h := range eu.since(f.started) {
		if h.replica != "r-eu" {
			t.Fatalf("api-eu probed by %s, want r-eu only", h.replica)
		}
	}
}
