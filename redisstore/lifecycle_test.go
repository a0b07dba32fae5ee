package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/incident"
)

const (
	none       = incident.ActionNone
	component  = incident.ActionComponent
	opened     = incident.ActionOpened
	joined     = incident.ActionJoined
	updated    = incident.ActionUpdated
	monitoring = incident.ActionMonitoring
	reopened   = incident.ActionReopened
)

// lifecycle is the table of the incident lifecycle's scenarios
// (docs/architecture.md); each runs on a fresh prefix.
var lifecycle = []storeCase{
	{"open", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		st := e.load(10)
		if st.Version != 1 || ids(st) != "a" {
			t.Fatalf("version %d, incidents %q; want 1, a", st.Version, ids(st))
		}
		if c := st.Components["web"]; c.Status != major || !c.UpdatedAt.Equal(at(0)) {
			t.Errorf("component web = %+v", c)
		}
		inc := st.Incidents[0]
		if inc.Name != "Major outage: Web App" || inc.Status != incident.Investigating || !inc.Auto ||
			inc.Impact != incident.ImpactCritical || !inc.CreatedAt.Equal(at(0)) || !inc.UpdatedAt.Equal(at(0)) ||
			!inc.StartedAt.Equal(at(0)) || !inc.MonitoringAt.IsZero() || !inc.ResolvedAt.IsZero() ||
			len(inc.Components) != 1 || inc.Components["web"] != major {
			t.Errorf("incident = %+v", inc)
		}
		u := inc.Updates
		if len(u) != 1 || u[0].ID != "au1" || u[0].Status != incident.Investigating ||
			u[0].Body != "Web App is major outage." || !u[0].CreatedAt.Equal(at(0)) ||
			len(u[0].AffectedComponents) != 1 || u[0].AffectedComponents[0] != (incident.AffectedComponent{
			Code: "web", Name: "Web App", OldStatus: operational, NewStatus: major}) {
			t.Errorf("updates = %+v", u)
		}
	}},
	{"idempotent replay", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", partial, "a"), opened, "a", incident.ImpactMajor)
		v := e.version()
		expect(t, e.observe(0, "web", partial, "a"), none, "", "")
		expect(t, e.observe(0, "web", partial, "b"), none, "", "")
		if got := e.version(); got != v {
			t.Errorf("version after replay = %d, want %d", got, v)
		}
		if st := e.load(10); ids(st) != "a" || len(st.Incidents[0].Updates) != 1 {
			t.Errorf("after replay: incidents %q, updates %d", ids(st), len(st.Incidents[0].Updates))
		}
	}},
	{"degraded then down on the same incident", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", degraded, "a"), opened, "a", incident.ImpactMinor)
		if inc := e.incident("a"); inc.Name != "Degraded performance: Web App" {
			t.Errorf("name = %q", inc.Name)
		}
		expect(t, e.observe(time.Minute, "web", major, "b"), updated, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", degraded, "c"), updated, "a", incident.ImpactCritical)
		inc := e.incident("a")
		if inc.Name != "Major outage: Web App" || inc.Impact != incident.ImpactCritical || len(inc.Updates) != 3 {
			t.Fatalf("incident = %+v", inc)
		}
		u := inc.Updates[1]
		if u.ID != "au2" || u.Status != incident.Investigating || !u.CreatedAt.Equal(at(time.Minute)) ||
			u.AffectedComponents[0].OldStatus != degraded || u.AffectedComponents[0].NewStatus != major {
			t.Errorf("update 2 = %+v", u)
		}
		if !inc.UpdatedAt.Equal(at(2 * time.Minute)) {
			t.Errorf("updated_at = %s", inc.UpdatedAt)
		}
	}},
	{"second component joins within group window", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", degraded, "a"), opened, "a", incident.ImpactMinor)
		expect(t, e.observe(15*time.Minute, "api", partial, "b"), joined, "a", incident.ImpactMajor)
		inc := e.incident("a")
		if inc.Name != "Partial outage: Web App, API" || len(inc.Components) != 2 || inc.Components["api"] != partial {
			t.Errorf("incident = %+v", inc)
		}
		if ac := lastUpdate(inc).AffectedComponents; len(ac) != 1 || ac[0].Code != "api" {
			t.Errorf("join update affects %+v", ac)
		}
	}},
	{"second component after group window opens a new incident", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(15*time.Minute+time.Millisecond, "api", degraded, "b"), opened, "b", incident.ImpactMinor)
		if st := e.load(10); ids(st) != "b,a" {
			t.Errorf("incidents = %q, want b,a", ids(st))
		}
	}},
	{"a child joins its parent's incident beyond the group window", func(t *testing.T, e *env) {
		e.policy.GroupWindow = 0
		expect(t, e.observe(0, "api", degraded, "x"), opened, "x", incident.ImpactMinor)
		expect(t, e.observe(time.Minute, "db", partial, "a"), opened, "a", incident.ImpactMajor)
		// y is newer but holds no parent; x holds one, but a is newer.
		expect(t, e.observe(2*time.Minute, "mail", degraded, "y"), opened, "y", incident.ImpactMinor)
		expect(t, e.observeChild(time.Hour, "web", major, "b", "api", "db"), joined, "a", incident.ImpactCritical)
		inc := e.incident("a")
		u := lastUpdate(inc)
		if inc.Name != "Major outage: Database, Web App" || inc.Components["web"] != major ||
			u.Body != "Web App is major outage. This is likely caused by Database, which is partial outage." ||
			len(u.AffectedComponents) != 1 || u.AffectedComponents[0].Code != "web" {
			t.Errorf("incident = %+v, last update %+v", inc, u)
		}
		// Already in the parent's incident: a change is an ordinary update.
		expect(t, e.observeChild(time.Hour+time.Minute, "web", degraded, "c", "db"), updated, "a", incident.ImpactCritical)
		if u := lastUpdate(e.incident("a")); u.Body != "Web App is degraded performance." {
			t.Errorf("update body = %q", u.Body)
		}
	}},
	{"a child of an operational parent groups as before", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "db", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(time.Minute, "db", operational, "b"), monitoring, "a", incident.ImpactCritical)
		// A stale parent list is harmless: db is operational in its incident.
		expect(t, e.observeChild(2*time.Minute, "web", major, "c", "db"), joined, "a", incident.ImpactCritical)
		if u := lastUpdate(e.incident("a")); u.Body != "Web App is major outage." {
			t.Errorf("join update body = %q", u.Body)
		}
		expect(t, e.observeChild(20*time.Minute, "api", major, "d", "db"), opened, "d", incident.ImpactCritical)
	}},
	{"group window zero never joins", func(t *testing.T, e *env) {
		e.policy.GroupWindow = 0
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(0, "api", major, "b"), opened, "b", incident.ImpactCritical)
	}},
	{"all operational moves to monitoring", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(time.Minute, "api", partial, "b"), joined, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "c"), updated, "a", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "api", operational, "d"), monitoring, "a", incident.ImpactCritical)
		inc := e.incident("a")
		u := lastUpdate(inc)
		if inc.Status != incident.Monitoring || !inc.MonitoringAt.Equal(at(3*time.Minute)) ||
			u.Status != incident.Monitoring || !strings.Contains(u.Body, "monitoring") ||
			u.AffectedComponents[0].NewStatus != operational {
			t.Errorf("incident = %+v, last update %+v", inc, u)
		}
	}},
	{"relapse while monitoring returns to investigating", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "web", degraded, "c"), reopened, "a", incident.ImpactCritical)
		if inc := e.incident("a"); inc.Status != incident.Investigating || !inc.MonitoringAt.IsZero() {
			t.Errorf("incident = %+v", inc)
		}
		expect(t, e.observe(4*time.Minute, "web", operational, "d"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(8*time.Minute))
		expectTicks(t, e.tick(9*time.Minute), resolved("a", incident.ImpactCritical))
	}},
	{"a component joining a monitoring incident reopens it", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "api", degraded, "c"), joined, "a", incident.ImpactCritical)
		if inc := e.incident("a"); inc.Status != incident.Investigating || !inc.MonitoringAt.IsZero() {
			t.Errorf("incident = %+v", inc)
		}
		expectTicks(t, e.tick(time.Hour))
	}},
	{"tick resolves after resolve_after", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		v := e.version()
		expectTicks(t, e.tick(7*time.Minute-time.Millisecond))
		if got := e.version(); got != v {
			t.Errorf("version after no-op tick = %d, want %d", got, v)
		}
		expectTicks(t, e.tick(7*time.Minute), resolved("a", incident.ImpactCritical))
		expectTicks(t, e.tick(7*time.Minute))
		expectTicks(t, e.tick(8*time.Minute))
		st := e.load(0)
		if len(st.Incidents) != 0 {
			t.Errorf("open incidents after resolve: %q", ids(st))
		}
		inc := e.incident("a")
		u := lastUpdate(inc)
		if inc.Status != incident.Resolved || !inc.ResolvedAt.Equal(at(7*time.Minute)) ||
			!inc.MonitoringAt.Equal(at(2*time.Minute)) || u.Status != incident.Resolved ||
			u.Body != "This incident has been resolved." || u.AffectedComponents != nil || u.ID != "au3" {
			t.Errorf("incident = %+v, last update %+v", inc, u)
		}
	}},
	{"relapse within reopen window reopens the same incident", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(7*time.Minute), resolved("a", incident.ImpactCritical))
		expect(t, e.observe(37*time.Minute, "web", degraded, "c"), reopened, "a", incident.ImpactCritical)
		inc := e.incident("a")
		if inc.Status != incident.Investigating || !inc.ResolvedAt.IsZero() || !inc.MonitoringAt.IsZero() ||
			lastUpdate(inc).Status != incident.Investigating {
			t.Errorf("incident = %+v", inc)
		}
		if st := e.load(0); ids(st) != "a" {
			t.Errorf("open = %q, want a", ids(st))
		}
		expect(t, e.observe(38*time.Minute, "web", operational, "d"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(43*time.Minute), resolved("a", incident.ImpactCritical))
	}},
	{"relapse after reopen window opens a new incident", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(7*time.Minute), resolved("a", incident.ImpactCritical))
		expect(t, e.observe(37*time.Minute+time.Millisecond, "web", degraded, "c"), opened, "c", incident.ImpactMinor)
	}},
	{"relapse of another component does not reopen", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(7*time.Minute), resolved("a", incident.ImpactCritical))
		expect(t, e.observe(8*time.Minute, "api", major, "c"), opened, "c", incident.ImpactCritical)
	}},
	{"relapses reopen each component's own incident", func(t *testing.T, e *env) {
		// Found in review, when grouping came before relapse: p = {web,
		// api} and q = {mail, web} both got reopened and web sat in two
		// open incidents. A relapse now takes precedence over grouping
		// (docs/architecture.md): web goes back to p, mail to q, and recovering ends
		// both.
		m := time.Minute
		e.observe(0, "web", major, "p")
		e.observe(30*time.Second, "api", major, "x1")
		e.observe(m, "web", operational, "x2")
		e.observe(m, "api", operational, "x3")
		e.tick(6 * m)
		e.observe(7*m, "mail", major, "q")
		e.observe(8*m, "web", major, "x4")
		e.observe(9*m, "web", operational, "x5")
		e.observe(9*m, "mail", operational, "x6")
		e.tick(14 * m)
		e.observe(23*m, "api", major, "x7")
		e.observe(24*m, "api", operational, "x8")
		e.tick(29 * m)
		e.observe(31*m, "web", major, "x9")
		e.observe(32*m, "mail", major, "x10")
		if p := e.incident("p"); p.Status != incident.Investigating || p.Components["web"] != major ||
			p.Components["api"] != operational {
			t.Errorf("p after web's relapse: %s %v, want investigating with web major and api operational", p.Status, p.Components)
		}
		if q := e.incident("q"); q.Status != incident.Investigating || len(q.Components) != 1 || q.Components["mail"] != major {
			t.Errorf("q after mail's relapse: %s %v, want investigating with mail alone", q.Status, q.Components)
		}
		e.observe(33*m, "web", operational, "x11")
		e.observe(34*m, "mail", operational, "x12")
		e.tick(40 * m)
		if st := e.load(0); len(st.Incidents) != 0 {
			for _, inc := range st.Incidents {
				t.Errorf("incident %s still %s with %v", inc.ID, inc.Status, inc.Components)
			}
		}
	}},
	{"another check failing with the same status adds one update", func(t *testing.T, e *env) {
		expect(t, e.observeDetail(0, "web", major, "home=down", "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observeDetail(time.Minute, "web", major, "home=down,login=down", "b"), updated, "a", incident.ImpactCritical)
		expect(t, e.observeDetail(time.Minute, "web", major, "home=down,login=down", "c"), none, "", "")
		inc := e.incident("a")
		if len(inc.Updates) != 2 || inc.Status != incident.Investigating {
			t.Fatalf("updates %d, status %s; want 2, investigating", len(inc.Updates), inc.Status)
		}
		if ac := lastUpdate(inc).AffectedComponents; len(ac) != 1 || ac[0].OldStatus != major || ac[0].NewStatus != major {
			t.Errorf("affected components %+v", ac)
		}
	}},
	{"a new detail without an open incident only stores it", func(t *testing.T, e *env) {
		e.policy.ReopenWindow = 0
		expect(t, e.observeDetail(0, "web", major, "home=down", "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(7*time.Minute), resolved("a", incident.ImpactCritical))
		if got := e.observeDetail(8*time.Minute, "web", operational, "", "c"); got.Action != none {
			t.Errorf("same healthy state: %+v", got)
		}
	}},
	{"reopen window zero never reopens", func(t *testing.T, e *env) {
		e.policy.ReopenWindow = 0
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(7*time.Minute), resolved("a", incident.ImpactCritical))
		expect(t, e.observe(8*time.Minute, "web", major, "c"), opened, "c", incident.ImpactCritical)
	}},
	{"retention trims old resolved incidents", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", operational, "b"), monitoring, "a", incident.ImpactCritical)
		expectTicks(t, e.tick(7*time.Minute), resolved("a", incident.ImpactCritical))
		expect(t, e.observe(time.Hour, "api", major, "c"), opened, "c", incident.ImpactCritical)
		expect(t, e.observe(time.Hour+time.Minute, "api", operational, "d"), monitoring, "c", incident.ImpactCritical)
		expectTicks(t, e.tick(time.Hour+6*time.Minute), resolved("c", incident.ImpactCritical))

		expectTicks(t, e.tick(24*time.Hour+7*time.Minute)) // exactly the retention: kept
		if st := e.load(10); ids(st) != "c,a" {
			t.Fatalf("incidents = %q, want c,a", ids(st))
		}
		v := e.version()
		expectTicks(t, e.tick(24*time.Hour+7*time.Minute+time.Millisecond))
		if st := e.load(10); ids(st) != "c" {
			t.Errorf("incidents after trim = %q, want c", ids(st))
		}
		if got := e.version(); got != v+1 {
			t.Errorf("version after trim = %d, want %d", got, v+1)
		}
		if n := e.client.Exists(e.ctx, e.prefix+"{st}:incident:a").Val(); n != 0 {
			t.Errorf("incident key a still exists")
		}
	}},
	{"started_at is retroactive", func(t *testing.T, e *env) {
		o := e.obs(0, "web", major, "a")
		o.StartedAt = at(-90 * time.Second)
		if _, err := e.store.Observe(e.ctx, o); err != nil {
			t.Fatal(err)
		}
		o = e.obs(time.Hour, "api", major, "b")
		o.StartedAt = at(2 * time.Hour) // after At: clamped
		if _, err := e.store.Observe(e.ctx, o); err != nil {
			t.Fatal(err)
		}
		if inc := e.incident("a"); !inc.StartedAt.Equal(at(-90*time.Second)) || !inc.CreatedAt.Equal(at(0)) {
			t.Errorf("a: started %s created %s", inc.StartedAt, inc.CreatedAt)
		}
		if inc := e.incident("b"); !inc.StartedAt.Equal(at(time.Hour)) {
			t.Errorf("b: started %s", inc.StartedAt)
		}
	}},
	{"updates are capped", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		for i := 1; i <= 150; i++ {
			s := degraded
			if i%2 == 0 {
				s = major
			}
			expect(t, e.observe(time.Duration(i)*time.Second, "web", s, "x"), updated, "a", incident.ImpactCritical)
		}
		u := e.incident("a").Updates
		if len(u) != 100 || u[0].ID != "au1" || u[1].ID != "au53" || u[99].ID != "au151" {
			t.Errorf("updates: %d, ids %s %s .. %s", len(u), u[0].ID, u[1].ID, u[len(u)-1].ID)
		}
	}},
	{"healthy statuses without an incident only store the component", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", maintenance, "a"), component, "", "")
		expect(t, e.observe(time.Minute, "web", operational, "b"), component, "", "")
		expect(t, e.observe(2*time.Minute, "web", operational, "c"), none, "", "")
		st := e.load(10)
		if len(st.Incidents) != 0 || st.Components["web"].Status != operational ||
			!st.Components["web"].UpdatedAt.Equal(at(time.Minute)) || st.Version != 2 {
			t.Errorf("state = %+v", st)
		}
	}},
	{"a person's name and status are kept", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", degraded, "a"), opened, "a", incident.ImpactMinor)
		e.editIncident("a", func(m map[string]any) {
			m["name"], m["name_locked"], m["status"] = "Database failover", true, "identified"
		})
		expect(t, e.observe(time.Minute, "api", major, "b"), joined, "a", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "web", major, "c"), updated, "a", incident.ImpactCritical)
		if inc := e.incident("a"); inc.Name != "Database failover" || inc.Status != incident.Identified ||
			lastUpdate(inc).Status != incident.Identified {
			t.Errorf("incident = %+v", inc)
		}
		expect(t, e.observe(3*time.Minute, "web", operational, "d"), updated, "a", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "api", operational, "d"), monitoring, "a", incident.ImpactCritical)
	}},
	{"load returns open and recent incidents newest first", func(t *testing.T, e *env) {
		e.policy.GroupWindow = 0
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		expect(t, e.observe(time.Minute, "api", major, "b"), opened, "b", incident.ImpactCritical)
		expect(t, e.observe(2*time.Minute, "mail", major, "c"), opened, "c", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "api", operational, "x"), monitoring, "b", incident.ImpactCritical)
		expect(t, e.observe(3*time.Minute, "mail", operational, "x"), monitoring, "c", incident.ImpactCritical)
		expectTicks(t, e.tick(8*time.Minute), resolved("b", incident.ImpactCritical), resolved("c", incident.ImpactCritical))
		for limit, want := range map[int]string{0: "a", 1: "c,a", 2: "c,b,a", 3: "c,b,a", 100: "c,b,a", -1: "a"} {
			if got := ids(e.load(limit)); got != want {
				t.Errorf("Load(%d) = %q, want %q", limit, got, want)
			}
		}
	}},
	{"invalid observations are errors", func(t *testing.T, e *env) {
		bad := []incident.Observation{
			e.obs(0, "", major, "a"),
			e.obs(0, "web", "broken", "a"),
			{Component: "web", Status: major, NewID: "a"},
		}
		for _, o := range bad {
			if _, err := e.store.Observe(e.ctx, o); err == nil || !strings.HasPrefix(err.Error(), "redisstore: observe") {
				t.Errorf("Observe(%+v) err = %v", o, err)
			}
		}
		if v := e.version(); v != 0 {
			t.Errorf("version = %d, want 0", v)
		}
	}},
	{"an existing incident id is never overwritten", func(t *testing.T, e *env) {
		expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
		_, err := e.store.Observe(e.ctx, e.obs(time.Hour, "api", major, "a"))
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("err = %v, want already exists", err)
		}
		if inc := e.incident("a"); len(inc.Components) != 1 {
			t.Errorf("incident a changed: %+v", inc)
		}
	}},
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	runOnBackends(t, lifecycle)
}
