package redisstore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/incident"
)

func (e *env) create(off time.Duration, m incident.ManualIncident) incident.Incident {
	e.t.Helper()
	m.At = at(off)
	inc, err := e.store.CreateIncident(e.ctx, m)
	if err != nil {
		e.t.Fatalf("CreateIncident(%+v): %v", m, err)
	}
	return inc
}

func (e *env) human(off time.Duration, id string, status incident.Status, body string) incident.Incident {
	e.t.Helper()
	inc, err := e.store.AddUpdate(e.ctx, id, incident.HumanUpdate{Status: status, Body: body, At: at(off)})
	if err != nil {
		e.t.Fatalf("AddUpdate(%s, %s): %v", id, status, err)
	}
	return inc
}

// humanFlags lists, per stored update of id, whether a person wrote it.
func (e *env) humanFlags(id string) string {
	e.t.Helper()
	raw, err := e.client.Get(e.ctx, e.prefix+"{st}:incident:"+id).Result()
	if err != nil {
		e.t.Fatalf("GET incident %s: %v", id, err)
	}
	var m struct {
		NameLocked bool `json:"name_locked"`
		Updates    []struct {
			Human bool `json:"human"`
		} `json:"updates"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		e.t.Fatalf("decode incident %s: %v", id, err)
	}
	var b strings.Builder
	for _, u := range m.Updates {
		if u.Human {
			b.WriteByte('h')
		} else {
			b.WriteByte('a')
		}
	}
	return b.String()
}

// checkSets fails unless every incident's set membership matches its status
// (docs/architecture.md, "Invariants other writers must keep").
func (e *env) checkSets() {
	e.t.Helper()
	for _, inc := range e.load(1000).Incidents {
		for set, want := range map[string]bool{
			"open":     inc.Status != incident.Resolved,
			"resolved": inc.Status == incident.Resolved,
			// Only automation resolves from monitoring, and never what a
			// person handles.
			"monitoring": inc.Status == incident.Monitoring && !inc.ByHand,
			"incidents":  true,
		} {
			err := e.client.ZScore(e.ctx, e.prefix+"{st}:"+set, inc.ID).Err()
			if got := err == nil; got != want {
				if err != nil && !errors.Is(err, redis.Nil) {
					e.t.Fatalf("ZSCORE %s: %v", set, err)
				}
				e.t.Errorf("incident %s (%s): in %s = %v, want %v", inc.ID, inc.Status, set, got, want)
			}
		}
	}
}

func bodies(inc incident.Incident) []string {
	var s []string
	for _, u := range inc.Updates {
		s = append(s, string(u.Status)+": "+u.Body)
	}
	return s
}

var human = []storeCase{
	{"manual incident", func(t *testing.T, e *env) {
		inc := e.create(0, incident.ManualIncident{ID: "m", Name: "Login problems", Body: "We are looking into it.",
			Components: map[string]incident.ComponentStatus{"web": partial, "api": degraded}})
		if inc.ID != "m" || inc.Name != "Login problems" || inc.Auto || inc.Status != incident.Investigating ||
			inc.Impact != incident.ImpactMajor || len(inc.Components) != 2 || inc.Components["api"] != degraded ||
			len(inc.Updates) != 1 || inc.Updates[0].ID != "mu1" || inc.Updates[0].Body != "We are looking into it." {
			t.Fatalf("incident = %+v", inc)
		}
		if got := e.incident("m"); got.Name != inc.Name || !got.CreatedAt.Equal(at(0)) {
			t.Errorf("Load = %+v", got)
		}
		if f := e.humanFlags("m"); f != "h" {
			t.Errorf("human flags = %q", f)
		}
		if v := e.version(); v != 1 {
			t.Errorf("version = %d, want 1", v)
		}
		// The checks' own statuses are untouched.
		if c, ok := e.load(0).Components["web"]; ok {
			t.Errorf("component web = %+v, want unset", c)
		}
		// Automation joins the manual incident's component but keeps the name.
		expect(t, e.observe(time.Minute, "web", major, "x"), updated, "m", incident.ImpactCritical)
		if got := e.incident("m"); got.Name != "Login problems" || len(got.Updates) != 2 {
			t.Errorf("after observe: %+v", got)
		}
		e.checkSets()
	}},
	{"manual incident without components, monitoring", func(t *testing.T, e *env) {
		inc := e.create(0, incident.ManualIncident{ID: "m", Name: "Slow", Status: incident.Monitoring,
			Body: "A fix is out.", Impact: incident.ImpactMinor})
		if inc.Status != incident.Monitoring || inc.Impact != incident.ImpactMinor || !inc.MonitoringAt.Equal(at(0)) ||
			len(inc.Components) != 0 {
			t.Fatalf("incident = %+v", inc)
		}
		e.checkSets()
		// Only a person resolves what a person opened.
		expectTicks(t, e.tick(6*time.Minute))
		if got := e.incident("m"); got.Status != incident.Monitoring || !got.ByHand {
			t.Errorf("after the monitoring period: %s (by hand %v), want monitoring by hand", got.Status, got.ByHand)
		}
		e.human(7*time.Minute, "m", incident.Resolved, "Done.")
		e.checkSets()
	}},
	{"manual incident id taken", func(t *testing.T, e *env) {
		e.create(0, incident.ManualIncident{ID: "m", Name: "A", Body: "b"})
		_, err := e.store.CreateIncident(e.ctx, incident.ManualIncident{ID: "m", Name: "B", Body: "b", At: at(1)})
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("err = %v", err)
		}
	}},
	{"invalid input", func(t *testing.T, e *env) {
		for _, err := range []error{
			func() error {
				_, err := e.store.CreateIncident(e.ctx, incident.ManualIncident{Name: "A", Body: "b", At: at(0),
					Status: incident.Resolved})
				return err
			}(),
			func() error {
				_, err := e.store.AddUpdate(e.ctx, "x", incident.HumanUpdate{Status: "fixed", Body: "b", At: at(0)})
				return err
			}(),
			func() error { _, err := e.store.Rename(e.ctx, "x", " ", at(0)); return err }(),
		} {
			if err == nil {
				t.Error("invalid input accepted")
			}
		}
		if v := e.version(); v != 0 {
			t.Errorf("version = %d, want 0", v)
		}
	}},
	{"unknown id", func(t *testing.T, e *env) {
		_, err := e.store.AddUpdate(e.ctx, "nope", incident.HumanUpdate{Status: incident.Identified, Body: "b", At: at(0)})
		if !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("AddUpdate err = %v", err)
		}
		_, err = e.store.Rename(e.ctx, "nope", "n", at(0))
		if !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("Rename err = %v", err)
		}
	}},
	{"identified stays while automation adds updates", func(t *testing.T, e *env) {
		e.observe(0, "web", partial, "a")
		inc := e.human(time.Minute, "a", incident.Identified, "A bad deploy; rolling back.")
		if inc.Status != incident.Identified || lastUpdate(inc).ID != "au2" {
			t.Fatalf("incident = %+v", inc)
		}
		expect(t, e.observe(2*time.Minute, "web", major, "b"), updated, "a", incident.ImpactCritical)
		// Moved by hand: recovery is evidence, not a status change, and
		// the monitoring period does not resolve it (docs/architecture.md).
		expect(t, e.observe(3*time.Minute, "web", operational, "b"), updated, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(10*time.Minute))
		got := e.incident("a")
		want := []string{"investigating: Web App is partial outage.", "identified: A bad deploy; rolling back.",
			"identified: Web App is major outage.", "identified: Web App is operational."}
		if strings.Join(bodies(got), "|") != strings.Join(want, "|") || got.Status != incident.Identified || !got.ByHand {
			t.Errorf("%s (by hand %v), updates = %q", got.Status, got.ByHand, bodies(got))
		}
		if f := e.humanFlags("a"); f != "ahaa" {
			t.Errorf("human flags = %q", f)
		}
		e.checkSets()
		// A person's resolve hands it back: a relapse reopens it and
		// automation runs its lifecycle again.
		e.human(11*time.Minute, "a", incident.Resolved, "Rolled back.")
		expect(t, e.observe(12*time.Minute, "web", major, "c"), reopened, "a", incident.ImpactCritical)
		expect(t, e.observe(13*time.Minute, "web", operational, "c"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(18*time.Minute), resolved("a", incident.ImpactCritical))
		e.checkSets()
	}},
	{"rename survives automation", func(t *testing.T, e *env) {
		e.observe(0, "web", degraded, "a")
		inc, err := e.store.Rename(e.ctx, "a", "Checkout is slow", at(time.Minute))
		if err != nil || inc.Name != "Checkout is slow" || !inc.UpdatedAt.Equal(at(time.Minute)) {
			t.Fatalf("Rename = %+v, %v", inc, err)
		}
		expect(t, e.observe(2*time.Minute, "api", major, "b"), joined, "a", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "web", major, "b"), updated, "a", incident.ImpactCritical)
		if got := e.incident("a"); got.Name != "Checkout is slow" || len(got.Updates) != 3 {
			t.Errorf("incident = %+v", got)
		}
	}},
	{"human resolve while healthy", func(t *testing.T, e *env) {
		e.observe(0, "web", major, "a")
		e.observe(time.Minute, "web", operational, "a")
		inc := e.human(2*time.Minute, "a", incident.Resolved, "Fixed.")
		if inc.Status != incident.Resolved || !inc.ResolvedAt.Equal(at(2*time.Minute)) ||
			!inc.MonitoringAt.Equal(at(time.Minute)) {
			t.Fatalf("incident = %+v", inc)
		}
		e.checkSets()
		expectTicks(t, e.tick(10*time.Minute))
		// A relapse within the reopen window reopens it.
		expect(t, e.observe(11*time.Minute, "web", major, "b"), reopened, "a", incident.ImpactCritical)
		e.checkSets()
	}},
	{"human resolve while failing holds until confirmed", func(t *testing.T, e *env) {
		e.policy.ReopenWindow = 0 // the held incident reopens whatever the window
		e.observe(0, "web", major, "a")
		e.observe(0, "api", operational, "a")
		inc := e.human(time.Minute, "a", incident.Resolved, "We think it is fixed.")
		if inc.Status != incident.Resolved {
			t.Fatalf("incident = %+v", inc)
		}
		e.checkSets()
		if c := e.load(0).Components["web"]; c.Status != operational || !c.UpdatedAt.Equal(at(time.Minute)) {
			t.Errorf("component web after resolve = %+v", c)
		}
		// The engine's resync reports the failure again.
		expect(t, e.observe(90*time.Second, "web", major, "b"), reopened, "a", incident.ImpactCritical)
		got := e.incident("a")
		if got.Status != incident.Investigating || !got.ResolvedAt.IsZero() ||
			!strings.Contains(lastUpdate(got).Body, "confirmed again after a manual resolve") {
			t.Errorf("after confirmation: %+v", got)
		}
		if f := e.humanFlags("a"); f != "aha" {
			t.Errorf("human flags = %q", f)
		}
		e.checkSets()
	}},
	{"human reopens a resolved incident", func(t *testing.T, e *env) {
		e.create(0, incident.ManualIncident{ID: "m", Name: "Outage", Body: "Down."})
		e.human(time.Minute, "m", incident.Monitoring, "Fix deployed.")
		e.checkSets()
		e.human(2*time.Minute, "m", incident.Resolved, "Done.")
		e.checkSets()
		inc := e.human(3*time.Minute, "m", incident.Identified, "Not done after all.")
		if inc.Status != incident.Identified || !inc.ResolvedAt.IsZero() || !inc.MonitoringAt.IsZero() ||
			len(inc.Updates) != 4 {
			t.Fatalf("incident = %+v", inc)
		}
		e.checkSets()
		if f := e.humanFlags("m"); f != "hhhh" {
			t.Errorf("human flags = %q", f)
		}
	}},
}

func TestHuman(t *testing.T) {
	t.Parallel()
	runOnBackends(t, human)
}
