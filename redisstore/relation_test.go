package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/incident"
)

// related returns an observe edit that gives the observation a group and
// depends_on links.
func related(group string, links ...string) func(*incident.Observation) {
	return func(o *incident.Observation) { o.Group, o.Links = group, links }
}

// relation is the table of docs/architecture.md's grouping by relation (the default),
// relapse precedence, incidents people handle and removed components.
var relation = []storeCase{
	{"unrelated failures within the group window are separate incidents", func(t *testing.T, e *env) {
		e.policy.GroupBy = incident.GroupByRelation
		expect(t, e.observeWith(0, "web", major, "a", related("frontend")), opened, "a", incident.ImpactCritical)
		expect(t, e.observeWith(time.Minute, "mail", degraded, "b", related("backend")), opened, "b", incident.ImpactMinor)
		expect(t, e.observeWith(2*time.Minute, "db", major, "c", related("")), opened, "c", incident.ImpactCritical)
		if got := ids(e.load(0)); got != "c,b,a" {
			t.Errorf("open incidents %q, want c,b,a", got)
		}
	}},
	{"a component of the same group joins", func(t *testing.T, e *env) {
		e.policy.GroupBy = incident.GroupByRelation
		expect(t, e.observeWith(0, "web", major, "a", related("frontend")), opened, "a", incident.ImpactCritical)
		expect(t, e.observeWith(time.Minute, "mail", degraded, "b", related("backend")), opened, "b", incident.ImpactMinor)
		expect(t, e.observeWith(2*time.Minute, "api", major, "c", related("frontend")), joined, "a", incident.ImpactCritical)
	}},
	{"components linked through depends_on join, either way", func(t *testing.T, e *env) {
		e.policy.GroupBy = incident.GroupByRelation
		// The dependent fails first; its parent then joins its incident
		// (the link goes both ways) even with another incident newer.
		expect(t, e.observeWith(0, "api", major, "a", related("", "db")), opened, "a", incident.ImpactCritical)
		expect(t, e.observeWith(time.Minute, "mail", degraded, "b", related("")), opened, "b", incident.ImpactMinor)
		expect(t, e.observeWith(2*time.Minute, "db", major, "c", related("", "api")), joined, "a", incident.ImpactCritical)
	}},
	{"relation joins only within the group window", func(t *testing.T, e *env) {
		e.policy.GroupBy = incident.GroupByRelation
		expect(t, e.observeWith(0, "web", major, "a", related("frontend")), opened, "a", incident.ImpactCritical)
		expect(t, e.observeWith(16*time.Minute, "api", major, "b", related("frontend")), opened, "b", incident.ImpactCritical)
	}},
	{"window joins unrelated failures", func(t *testing.T, e *env) {
		expect(t, e.observeWith(0, "web", major, "a", related("frontend")), opened, "a", incident.ImpactCritical)
		expect(t, e.observeWith(time.Minute, "mail", degraded, "b", related("backend")), joined, "a", incident.ImpactCritical)
	}},
}

// relapse shows that a relapse takes precedence over grouping, under both
// policies.
var relapse = []storeCase{
	{"relapse while an unrelated incident is open reopens its own (relation)", relapsePrecedence(incident.GroupByRelation)},
	{"relapse while an unrelated incident is open reopens its own (window)", relapsePrecedence(incident.GroupByWindow)},
}

func relapsePrecedence(groupBy string) func(*testing.T, *env) {
	return func(t *testing.T, e *env) {
		e.policy.GroupBy = groupBy
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(time.Minute, "web", operational, "x"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(6*time.Minute), resolved("a", incident.ImpactCritical))
		expect(t, e.observe(6*time.Minute+time.Second, "mail", major, "b"), opened, "b", incident.ImpactCritical)
		// Web relapses 7 s after its incident resolved, with b open and
		// new: it goes back to its own incident.
		expect(t, e.observe(6*time.Minute+7*time.Second, "web", major, "c"), reopened, "a", incident.ImpactCritical)
		if b := e.incident("b"); len(b.Components) != 1 {
			t.Errorf("b holds %v, want mail alone", b.Components)
		}
	}
}

// byHand shows the incidents a person opened or moved: automation adds
// evidence, never changes their status and never resolves them.
var byHand = []storeCase{
	{"a manual incident survives automation and is resolved only by a person", func(t *testing.T, e *env) {
		e.policy.GroupBy = incident.GroupByRelation
		inc := e.create(0, incident.ManualIncident{ID: "m", Name: "Login problems", Body: "Looking into it.",
			Components: map[string]incident.ComponentStatus{"web": partial}})
		if !inc.ByHand || inc.HumanComponents["web"] != partial {
			t.Fatalf("created %+v", inc)
		}
		// The web check fails, then passes; an unrelated component fails
		// and recovers; time passes beyond resolve_after.
		expect(t, e.observe(2*time.Minute, "web", degraded, "x2"), updated, "m", incident.ImpactMajor)
		expect(t, e.observe(3*time.Minute, "web", operational, "x3"), updated, "m", incident.ImpactMajor)
		expect(t, e.observe(3*time.Minute, "mail", major, "y"), opened, "y", incident.ImpactCritical)
		expect(t, e.observe(4*time.Minute, "mail", operational, "x4"), monitoring, "y", incident.ImpactCritical)
		expectTicks(t, e.tick(30*time.Minute), resolved("y", incident.ImpactCritical))
		got := e.incident("m")
		if got.Status != incident.Investigating || got.HumanComponents["web"] != partial || !got.ByHand {
			t.Fatalf("after automation: %s %v (by hand %v), want investigating with web partial_outage",
				got.Status, got.HumanComponents, got.ByHand)
		}
		for _, u := range got.Updates {
			if u.Status != incident.Investigating {
				t.Errorf("automation moved it: %s %q", u.Status, u.Body)
			}
		}
		e.checkSets()
		if got := e.human(31*time.Minute, "m", incident.Resolved, "Fixed."); got.Status != incident.Resolved {
			t.Errorf("a person's resolve: %s", got.Status)
		}
		e.checkSets()
	}},
	{"an automatic incident a person moved stays theirs until they resolve it", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		e.human(time.Minute, "a", incident.Monitoring, "A fix is deployed.")
		expect(t, e.observe(2*time.Minute, "web", partial, "x"), updated, "a", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "web", operational, "x"), updated, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(20*time.Minute))
		if got := e.incident("a"); got.Status != incident.Monitoring || !got.ByHand {
			t.Errorf("%s (by hand %v), want monitoring by hand", got.Status, got.ByHand)
		}
		e.checkSets()
	}},
	{"an update that keeps the status does not take the incident over", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		e.human(time.Minute, "a", incident.Investigating, "We are looking into it.")
		expect(t, e.observe(2*time.Minute, "web", operational, "x"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(8*time.Minute), resolved("a", incident.ImpactCritical))
	}},
}

// retired shows a component removed from the config: its incident says
// so, and nothing claims it recovered.
var retired = []storeCase{
	{"a removed component's incident says it left monitoring", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		tr := e.observeWith(time.Minute, "web", operational, "x", func(o *incident.Observation) {
			o.Retire, o.Gone = true, "Web App"
			o.Body = "Web App was removed from monitoring; its recovery is not confirmed."
		})
		expect(t, tr, monitoring, "a", incident.ImpactCritical)
		u := lastUpdate(e.incident("a"))
		if len(u.AffectedComponents) != 0 || strings.Contains(u.Body, "operational again") ||
			!strings.Contains(u.Body, "removed from monitoring") {
			t.Errorf("update %q with %+v claims a recovery", u.Body, u.AffectedComponents)
		}
		req := e.tickReq(7*time.Minute, "every affected component has been operational")
		req.GoneBody = "Resolved; {gone} left monitoring before recovering."
		trs, err := e.store.Tick(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		expectTicks(t, trs, resolved("a", incident.ImpactCritical))
		if got := lastUpdate(e.incident("a")).Body; got != "Resolved; Web App left monitoring before recovering." {
			t.Errorf("resolving update %q", got)
		}
	}},
}

func TestRelation(t *testing.T) {
	t.Parallel()
	runOnBackends(t, relation)
}

func TestRelapsePrecedence(t *testing.T) {
	t.Parallel()
	runOnBackends(t, relapse)
}

func TestByHand(t *testing.T) {
	t.Parallel()
	runOnBackends(t, byHand)
}

func TestRetired(t *testing.T) {
	t.Parallel()
	runOnBackends(t, retired)
}
