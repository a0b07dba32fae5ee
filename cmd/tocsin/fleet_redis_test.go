package main

import (
	"net/http"
	"testing"
	"time"
)

// TestFleetRedisAway (acceptance 6): Redis stopped for 20 s (coming back
// with its data, or empty) or blackholed (accepting, never answering) by a
// proxy, while an outage starts. Probing goes on at its pace, the status
// API keeps answering at once, marked stale, and the incident appears
// exactly once when Redis is back. A replica asked to stop while Redis is
// blackholed still exits within 10 s.
func TestFleetRedisAway(t *testing.T) {
	t.Parallel()
	const away = 20 * time.Second
	for _, tc := range []struct {
		name string
		o    fleetOptions
		cut  func(f *fleet)
		heal func(f *fleet)
	}{
		{"stopped, back with its data", fleetOptions{durable: true},
			func(f *fleet) { f.rds.Stop() }, func(f *fleet) { f.rds.Restart(f.t) }},
		{"stopped, back empty", fleetOptions{},
			func(f *fleet) { f.rds.Stop() }, func(f *fleet) { f.rds.Restart(f.t) }},
		{"blackholed", fleetOptions{viaProxy: true},
			func(f *fleet) { f.proxy.Blackhole(true) }, func(f *fleet) { f.proxy.Blackhole(false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, []string{"a1", "a2"}, []string{"r1", "r2", "r3"}, tc.o)
			tc.cut(f)
			cut := time.Now()
			f.targets["a1"].set(http.StatusServiceUnavailable)
			stale, slowest := false, time.Duration(0)
			for time.Since(cut) < away {
				for _, p := range f.procs {
					start := time.Now()
					resp, err := http.Get(p.base + "/api/v2/summary.json")
					if err != nil {
						t.Fatalf("status API with Redis away: %v", err)
					}
					_ = resp.Body.Close()
					slowest = max(slowest, time.Since(start))
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status API with Redis away: %d", resp.StatusCode)
					}
					stale = stale || resp.Header.Get("X-Tocsin-Stale") == "true"
				}
				time.Sleep(100 * time.Millisecond)
			}
			// A handler that waited on Redis would take at least the
			// client's timeout (1 s); the machine's load adds the rest.
			t.Logf("slowest status API answer with Redis away: %s", slowest)
			if slowest >= time.Second {
				t.Errorf("the status API took %s to answer with Redis away: it waits on Redis", slowest)
			}
			if !stale {
				t.Error("never marked stale while Redis was away")
			}
			if gap := f.targets["a1"].maxGap(cut.Add(fleetLease), time.Now()); gap > fleetInterval+fleetSlack {
				t.Errorf("probing stalled for %s with Redis away", gap)
			}
			if tc.o.viaProxy {
				f.stop("r3") // asserts the exit within 10 s
				delete(f.procs, "r3")
			}
			tc.heal(f)
			eventually(t, 30*time.Second, "the incident once Redis is back", func() bool {
				return len(incidentsOf(f.any(), "a1")) == 1
			})
			// And only once: the replicas came back together and agree.
			settle := time.Now()
			eventually(t, 30*time.Second, "a few seconds of replicas reconciling", func() bool {
				return time.Since(settle) > 3*time.Second
			})
			ins := incidentsOf(f.any(), "a1")
			if len(ins) != 1 || ins[0].Status != "investigating" || len(ins[0].IncidentUpdates) != 1 {
				t.Errorf("after Redis came back: %+v, want one open incident with one update", ins)
			}
			if n := len(f.any().incidents("/api/v2/incidents.json")); n != 1 {
				t.Errorf("%d incidents, want 1", n)
			}
			f.checkJSONLogs()
		})
	}
}
