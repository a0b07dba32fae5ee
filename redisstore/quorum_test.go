package redisstore_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/uptime"
)

// vantages are the test's three vantages, one replica each.
var vantages = []string{"ap", "eu", "us"}

// joinVantages makes one replica of every vantage live, holding "api".
func joinVantages(t *testing.T, e *env) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range vantages {
		member := ownership.MemberID(v, "r1")
		e.fences[member] = claim(t, e.store, member, "api")["api"].Fence
	}
}

// vantageObserve observes that "api" is status as vantage v sees it, with
// the vantages' verdicts combined by quorum q (0: a majority) and regional.
func vantageObserve(t *testing.T, e *env, off time.Duration, v string, status incident.ComponentStatus, q int, regional string) incident.Transition {
	t.Helper()
	member := ownership.MemberID(v, "r1")
	e.mu.Lock()
	f := e.fences[member]
	e.mu.Unlock()
	o := obsAs(f, e.policy, off, "api", status, "inc-"+v+off.String())
	o.Body = "api-http timed out after 5 s."
	if status == operational {
		o.Body = ""
	}
	o.Detail = "api-http=" + string(status)
	o.Vantages, o.Quorum, o.Regional = vantages, q, regional
	tr, err := e.store.Observe(e.ctx, o)
	if err != nil {
		t.Fatalf("Observe(%s from %s): %v", status, v, err)
	}
	return tr
}

// expectQ is expect for an observation with vantages: the transition, and
// the combined status the reply carries (what the component shows).
func expectQ(t *testing.T, got incident.Transition, action incident.Action, id string, impact incident.Impact) {
	t.Helper()
	if got.Combined == "" {
		t.Errorf("transition %+v carries no combined status", got)
	}
	got.Combined = ""
	expect(t, got, action, id, impact)
}

// onlyBody is the body of the newest update of the only incident.
func onlyBody(t *testing.T, e *env) string {
	t.Helper()
	st := e.load(0)
	if len(st.Incidents) != 1 {
		t.Fatalf("%d incidents, want 1", len(st.Incidents))
	}
	return lastUpdate(st.Incidents[0]).Body
}

// quorumCases: with vantages, a component takes a status only when a
// quorum of the live vantages that probe it see it (quorum.lua).
var quorumCases = []storeCase{
	{"one of three failing opens nothing; two open one incident naming both", func(t *testing.T, e *env) {
		joinVantages(t, e)
		tr := vantageObserve(t, e, 0, "eu", major, 0, "")
		if tr.Combined != operational {
			t.Errorf("one vantage of three: combined %q, want operational", tr.Combined)
		}
		expectQ(t, tr, incident.ActionNone, "", "")
		if st := e.load(0); len(st.Incidents) != 0 {
			t.Fatalf("an incident opened on one vantage's verdict: %+v", st.Incidents)
		}
		tr = vantageObserve(t, e, time.Minute, "us", major, 0, "")
		expectQ(t, tr, opened, "inc-us1m0s", incident.ImpactCritical)
		body := onlyBody(t, e)
		for _, want := range []string{"Failing from eu and us.", "eu: api-http timed out", "ap sees it operational."} {
			if !strings.Contains(body, want) {
				t.Errorf("update %q does not say %q", body, want)
			}
		}
		// The third agreeing is news in the same incident, not another.
		expectQ(t, vantageObserve(t, e, 2*time.Minute, "ap", major, 0, ""), incident.ActionUpdated, "inc-us1m0s", incident.ImpactCritical)
		// Recovery needs the quorum too: one recovered vantage is not enough.
		expectQ(t, vantageObserve(t, e, 3*time.Minute, "eu", operational, 0, ""), incident.ActionUpdated, "inc-us1m0s", incident.ImpactCritical)
		vantageObserve(t, e, 4*time.Minute, "us", operational, 0, "")
		if st := e.load(0); st.Incidents[0].Status != incident.Monitoring {
			t.Errorf("after two of three recovered: %s, want monitoring", st.Incidents[0].Status)
		}
	}},
	{"quorum 1: any vantage", func(t *testing.T, e *env) {
		joinVantages(t, e)
		expectQ(t, vantageObserve(t, e, 0, "eu", partial, 1, ""), opened, "inc-eu0s", incident.ImpactMajor)
	}},
	{"regional degraded: a minority makes the component degraded", func(t *testing.T, e *env) {
		joinVantages(t, e)
		expectQ(t, vantageObserve(t, e, 0, "eu", major, 0, "degraded"), opened, "inc-eu0s", incident.ImpactMinor)
		if body := onlyBody(t, e); !strings.Contains(body, "Failing from eu only.") {
			t.Errorf("update %q does not name the one vantage", body)
		}
	}},
	{"a vantage that left stops counting; the incident continues", func(t *testing.T, e *env) {
		joinVantages(t, e)
		vantageObserve(t, e, 0, "eu", major, 0, "")
		expectQ(t, vantageObserve(t, e, time.Minute, "us", major, 0, ""), opened, "inc-us1m0s", incident.ImpactCritical)
		vantageObserve(t, e, 2*time.Minute, "ap", operational, 0, "")
		if _, err := e.store.Lease(e.ctx, ownership.LeaseRequest{Member: ownership.MemberID("ap", "r1"), Leave: true, Epoch: -1}); err != nil {
			t.Fatal(err)
		}
		// eu and us still agree among the two live vantages: no flip.
		expectQ(t, vantageObserve(t, e, 3*time.Minute, "eu", major, 0, ""), incident.ActionNone, "", "")
		if st := e.load(0); len(st.Incidents) != 1 || st.Incidents[0].Status != incident.Investigating {
			t.Errorf("after a vantage left: %+v", st.Incidents)
		}
	}},
	{"a stale verdict counts as none", func(t *testing.T, e *env) {
		joinVantages(t, e)
		vantageObserve(t, e, 0, "eu", major, 0, "")
		expectQ(t, vantageObserve(t, e, time.Minute, "us", major, 0, ""), opened, "inc-us1m0s", incident.ImpactCritical)
		// us's verdict grows old (its replica stopped speaking): made so
		// here by moving its time back to the epoch.
		key := e.prefix + "{st}:verdicts"
		raw, err := e.client.HGet(e.ctx, key, "api").Result()
		if err != nil {
			t.Fatal(err)
		}
		var vs map[string]map[string]any
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			t.Fatal(err)
		}
		vs["us"]["t"] = 0
		b, _ := json.Marshal(vs)
		if err := e.client.HSet(e.ctx, key, "api", b).Err(); err != nil {
			t.Fatal(err)
		}
		tr := vantageObserve(t, e, 2*time.Minute, "eu", major, 0, "")
		if tr.Combined != operational {
			t.Errorf("with us's verdict stale: combined %q, want operational (eu alone of three)", tr.Combined)
		}
	}},
	{"one vantage credits the uptime", func(t *testing.T, e *env) {
		joinVantages(t, e)
		today := time.Now().UTC().Format(uptime.DateLayout)
		write := func(v string, seq uint64) uptime.WriteResult {
			member := ownership.MemberID(v, "r1")
			e.mu.Lock()
			f := e.fences[member]
			e.mu.Unlock()
			res, err := e.store.WriteUptime(e.ctx, uptime.Write{Writer: "w-" + v, Seq: seq, Member: member,
				Tokens: map[string]int64{"api": f.Token}, CheckComponent: map[string]string{"api-http": "api"},
				Batch: uptime.Batch{
					{Kind: uptime.KindComponent, ID: "api", Date: today, Status: "operational"}: 1000,
					{Kind: uptime.KindCheck, ID: "api-http", Date: today, Status: "up"}:         1,
				}})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		// ap comes first by name: it credits; eu and us do not, and that
		// is no fencing.
		if res := write("eu", 1); res.OtherVantage != 2 || res.Fenced != 0 {
			t.Errorf("eu's write: %+v, want both hashes left to another vantage", res)
		}
		if res := write("ap", 1); res.OtherVantage != 0 || res.Fenced != 0 {
			t.Errorf("ap's write: %+v, want it credited", res)
		}
		// ap gone: eu leads.
		if _, err := e.store.Lease(e.ctx, ownership.LeaseRequest{Member: ownership.MemberID("ap", "r1"), Leave: true, Epoch: -1}); err != nil {
			t.Fatal(err)
		}
		if res := write("eu", 2); res.OtherVantage != 0 || res.Fenced != 0 {
			t.Errorf("eu's write once ap left: %+v, want it credited", res)
		}
		comps, err := e.store.ComponentUptime(e.ctx, []string{"api"}, 1, time.Now(), time.UTC)
		if err != nil || comps["api"][0].Millis.Of(operational) != 2000 {
			t.Errorf("api's uptime %+v, %v: want ap's and then eu's second, once each", comps["api"], err)
		}
	}},
	{"the lead credits the quorum's status, not its own", func(t *testing.T, e *env) {
		joinVantages(t, e)
		vantageObserve(t, e, 0, "eu", major, 0, "")
		vantageObserve(t, e, 0, "us", major, 0, "")
		// ap, the lead, sees api up and writes its pass as operational.
		member := ownership.MemberID("ap", "r1")
		e.mu.Lock()
		f := e.fences[member]
		e.mu.Unlock()
		today := time.Now().UTC().Format(uptime.DateLayout)
		res, err := e.store.WriteUptime(e.ctx, uptime.Write{Writer: "w-ap", Seq: 1, Member: member,
			Tokens: map[string]int64{"api": f.Token},
			Batch:  uptime.Batch{{Kind: uptime.KindComponent, ID: "api", Date: today, Status: "operational"}: 1000}})
		if err != nil || res.OtherVantage != 0 || res.Fenced != 0 {
			t.Fatalf("ap's write: %+v, %v", res, err)
		}
		comps, err := e.store.ComponentUptime(e.ctx, []string{"api"}, 1, time.Now(), time.UTC)
		if err != nil || comps["api"][0].Millis.Of(major) != 1000 || comps["api"][0].Millis.Of(operational) != 0 {
			t.Errorf("api's uptime %+v, %v: want the second as major_outage, the quorum's status", comps["api"], err)
		}
	}},
	{"each vantage holds its own grant", func(t *testing.T, e *env) {
		joinVantages(t, e)
		vantageObserve(t, e, 0, "eu", major, 0, "")
		vantageObserve(t, e, 0, "us", major, 0, "")
		// eu's grant still writes after us claimed the same component.
		expectQ(t, vantageObserve(t, e, time.Minute, "eu", major, 0, ""), incident.ActionNone, "", "")
	}},
}

func TestQuorum(t *testing.T) {
	t.Parallel()
	runOnBackends(t, quorumCases)
}
