package redisstore_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// richCheck is a check state with every field set, as a detector makes it.
func richCheck(name, comp string, n int) detector.Check {
	age, rate, eta, consumers := 90*time.Second, -2.5, 40*time.Second, 3
	var recent []probe.Result
	for i := range n {
		st := probe.StatusUp
		if i%3 == 0 {
			st = probe.StatusDown
		}
		recent = append(recent, probe.Result{Status: st, Reason: map[bool]probe.Reason{true: probe.ReasonTimeout}[st == probe.StatusDown],
			Start: base.Add(time.Duration(i)*time.Second + 123456789), Duration: time.Duration(1000+i) * time.Microsecond})
	}
	last := probe.Result{Status: probe.StatusDegraded, Reason: probe.ReasonThreshold, Message: "mailers: 120 items — growing",
		Start: base.Add(time.Hour + 987654321), Duration: 1500 * time.Microsecond, StatusCode: 250,
		Phases:       []probe.Phase{{Name: "connect", Duration: time.Millisecond}, {Name: "banner", Duration: 2 * time.Millisecond}},
		CertNotAfter: base.Add(30 * 24 * time.Hour),
		Warnings:     []probe.Warning{{Reason: probe.ReasonCertExpiry, Message: "certificate expires in 30 days"}},
		Queue: &probe.QueueStats{Depth: 120, OldestAge: &age, RatePerSecond: &rate, Consumers: &consumers, DrainETA: &eta,
			Extra: map[string]float64{"pending": 4}}}
	recent = append(recent, last)
	return detector.Check{
		Spec:   detector.Spec{Name: name, Component: comp},
		Status: detector.Degraded, Base: detector.Down, Since: base.Add(time.Minute), BadSince: base.Add(30 * time.Second),
		Runs:     detector.Runs{Down: 0, Bad: 2, Up: 0, NotDown: 2},
		Flapping: true, FlapPercent: 42.5, Last: last, Recent: detector.Samples(recent), Streak: 1,
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	runOnBackends(t, []storeCase{
		{"publish, read changes, load", func(t *testing.T, e *env) {
			f := e.fence("web")
			rich := richCheck("home", "web", 20)
			b := checkstate.Batch{Member: e.member, Tokens: map[string]int64{"web": f.Token},
				Checks: []checkstate.Check{{State: rich, ProbeState: []byte(`[{"t":1,"d":2}]`)},
					{State: detector.Check{Spec: detector.Spec{Name: "fresh", Component: "web"}, Status: detector.Unknown}}}}
			res, err := e.store.PublishChecks(e.ctx, b, nil)
			if err != nil || len(res.Fenced) != 0 {
				t.Fatalf("PublishChecks = %+v, %v", res, err)
			}
			ch, err := e.store.ChecksSince(e.ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Seq != 1 || ch.More || ch.Reset || ch.Updated.IsZero() || len(ch.Checks) != 2 {
				t.Fatalf("ChecksSince(0) = %+v", ch)
			}
			got := ch.Checks[slices.IndexFunc(ch.Checks, func(c detector.Check) bool { return c.Name == "home" })]
			want := rich
			want.Spec = detector.Spec{Name: "home", Component: "web"} // the spec is the reader's config's
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back:\n%+v\nwant\n%+v", got, want)
			}
			if ch, err := e.store.ChecksSince(e.ctx, 1, 100); err != nil || len(ch.Checks) != 0 || ch.Seq != 1 {
				t.Errorf("nothing changed since 1: %+v, %v", ch, err)
			}
			loaded, err := e.store.LoadChecks(e.ctx, []string{"home", "fresh", "unknown"})
			if err != nil || len(loaded) != 2 || string(loaded["home"].ProbeState) != `[{"t":1,"d":2}]` ||
				loaded["fresh"].ProbeState != nil || !reflect.DeepEqual(loaded["home"].State, want) {
				t.Errorf("LoadChecks = %+v, %v", loaded, err)
			}
			v, err := e.store.Versions(e.ctx)
			if err != nil || v.Checks != 1 || v.Created.IsZero() || v.Now.IsZero() {
				t.Errorf("Versions = %+v, %v", v, err)
			}

			// Removal: the state goes, and a reader of changes sees it go.
			if _, err := e.store.PublishChecks(e.ctx, checkstate.Batch{Member: e.member}, []string{"fresh"}); err != nil {
				t.Fatal(err)
			}
			ch, err = e.store.ChecksSince(e.ctx, 1, 100)
			if err != nil || ch.Seq != 2 || len(ch.Checks) != 0 || !slices.Equal(ch.Removed, []string{"fresh"}) {
				t.Errorf("after a removal: %+v, %v", ch, err)
			}
			// A reader ahead of the store (Redis lost its data) reads afresh.
			if ch, err := e.store.ChecksSince(e.ctx, 99, 100); err != nil || !ch.Reset || len(ch.Checks) != 1 {
				t.Errorf("ChecksSince(99) = %+v, %v; want a reset with everything", ch, err)
			}
		}},
		{"a stale fence publishes nothing of its component", func(t *testing.T, e *env) {
			web, api := e.fence("web"), e.fence("api")
			claim(t, e.store, "r2", "web")
			b := checkstate.Batch{Member: e.member, Tokens: map[string]int64{"web": web.Token, "api": api.Token},
				Checks: []checkstate.Check{{State: richCheck("home", "web", 3)}, {State: richCheck("health", "api", 3)}}}
			res, err := e.store.PublishChecks(e.ctx, b, nil)
			if err != nil || !slices.Equal(res.Fenced, []string{"web"}) {
				t.Fatalf("PublishChecks = %+v, %v; want web fenced", res, err)
			}
			ch, err := e.store.ChecksSince(e.ctx, 0, 100)
			if err != nil || len(ch.Checks) != 1 || ch.Checks[0].Name != "health" {
				t.Errorf("published: %+v, %v", ch, err)
			}
		}},
		{"reads in bounded steps, never splitting a pass", func(t *testing.T, e *env) {
			f := e.fence("web")
			for pass := range 3 {
				var cs []checkstate.Check
				for i := range 4 {
					cs = append(cs, checkstate.Check{State: richCheck(string(rune('a'+pass*4+i)), "web", 2)})
				}
				b := checkstate.Batch{Member: e.member, Tokens: map[string]int64{"web": f.Token}, Checks: cs}
				if _, err := e.store.PublishChecks(e.ctx, b, nil); err != nil {
					t.Fatal(err)
				}
			}
			var seen []string
			since, reads := int64(0), 0
			for {
				ch, err := e.store.ChecksSince(e.ctx, since, 3)
				if err != nil {
					t.Fatal(err)
				}
				reads++
				for _, c := range ch.Checks {
					seen = append(seen, c.Name)
				}
				since = ch.Seq
				if !ch.More {
					break
				}
			}
			slices.Sort(seen)
			if len(seen) != 12 || slices.Compact(seen)[11] != "l" || reads != 3 {
				t.Errorf("read %v in %d reads; want all 12, a pass per read", seen, reads)
			}
		}},
	})
}
