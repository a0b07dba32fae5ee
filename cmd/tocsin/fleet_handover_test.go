package main

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// openIncident fails comp's target and waits for a new incident of comp,
// open: one it did not have before.
func (f *fleet) openIncident(comp string) spIncident {
	f.t.Helper()
	before := len(incidentsOf(f.any(), comp))
	f.targets[comp].set(http.StatusServiceUnavailable)
	var in spIncident
	eventually(f.t, 30*time.Second, comp+"'s incident open", func() bool {
		ins := incidentsOf(f.any(), comp)
		if len(ins) == before+1 && ins[before].Status == "investigating" {
			in = ins[before]
			return true
		}
		return false
	})
	return in
}

// TestFleetReplicasDisagree (acceptance 2): the target fails requests from
// its owner only. The incident follows the owner's view and does not flip,
// though the other replicas would see the target up; after the owner dies,
// it follows the new owner's view with one update (monitoring), then
// resolves.
func TestFleetReplicasDisagree(t *testing.T) {
	t.Parallel()
	f := startFleet(t, []string{"d1", "d2"}, []string{"r1", "r2", "r3"}, fleetOptions{})
	owner := f.owner("d1")
	f.targets["d1"].failOnlyFor(owner)
	var in spIncident
	eventually(t, 30*time.Second, "the owner's view: an incident", func() bool {
		ins := incidentsOf(f.any(), "d1")
		if len(ins) == 1 {
			in = ins[0]
		}
		return len(ins) == 1
	})
	// Hold: several resyncs' worth of writer passes, still one update.
	watchFrom := time.Now()
	eventually(t, 30*time.Second, "a few seconds under the owner's view", func() bool {
		return time.Since(watchFrom) > 4*time.Second
	})
	ins := incidentsOf(f.any(), "d1")
	if len(ins) != 1 || !slices.Equal(changes(ins[0]), []string{"investigating:operational>major_outage"}) {
		t.Fatalf("under the owner's view: %+v, want the one open incident unchanged", ins)
	}
	for _, h := range f.targets["d1"].since(watchFrom) {
		if h.replica != owner {
			t.Fatalf("%s probed d1, owned by %s", h.replica, owner)
		}
	}

	f.procs[owner].kill()
	eventually(t, 30*time.Second, "the new owner's view: resolved", func() bool {
		ins := incidentsOf(f.any(), "d1")
		return len(ins) == 1 && ins[0].Status == "resolved"
	})
	got := changes(incidentsOf(f.any(), "d1")[0])
	want := []string{"investigating:operational>major_outage", "monitoring:major_outage>operational", "resolved"}
	if !slices.Equal(got, want) || incidentsOf(f.any(), "d1")[0].ID != in.ID {
		t.Errorf("after the owner changed: %v, want %v", got, want)
	}
}

// TestScenario9ReplicaKilled (SCENARIOS.md 9, acceptance 3): one of three
// replicas is SIGKILLed mid-incident. Its components are probed again by
// another replica within one interval plus the lease; the same incident
// continues and resolves; nothing is lost or doubled.
func TestScenario9ReplicaKilled(t *testing.T) {
	t.Parallel()
	comps := []string{"k1", "k2", "k3", "k4", "k5", "k6"}
	f := startFleet(t, comps, []string{"r1", "r2", "r3"}, fleetOptions{})
	in := f.openIncident("k1")
	dead := f.owner("k1")
	var theirs []string
	for _, c := range comps {
		if f.owner(c) == dead {
			theirs = append(theirs, c)
		}
	}
	f.procs[dead].kill()
	killed := time.Now()
	for _, c := range theirs {
		var next hit
		eventually(t, 30*time.Second, c+" probed by another replica", func() bool {
			for _, h := range f.targets[c].since(killed) {
				if h.replica != dead {
					next = h
					return true
				}
			}
			return false
		})
		if gap, bound := next.at.Sub(killed), fleetInterval+fleetLease+fleetSlack; gap > bound {
			t.Errorf("%s probed again %s after the kill, want within interval + lease (+%s slack): %s", c, gap, fleetSlack, bound)
		}
	}
	f.targets["k1"].set(http.StatusOK)
	eventually(t, 30*time.Second, "the same incident resolved", func() bool {
		ins := incidentsOf(f.any(), "k1")
		return len(ins) == 1 && ins[0].ID == in.ID && ins[0].Status == "resolved"
	})
	want := []string{"investigating:operational>major_outage", "monitoring:major_outage>operational", "resolved"}
	if got := changes(incidentsOf(f.any(), "k1")[0]); !slices.Equal(got, want) {
		t.Errorf("updates %v, want %v", got, want)
	}
	if n := len(f.any().incidents("/api/v2/incidents.json")); n != 1 {
		t.Errorf("%d incidents, want 1", n)
	}
}

// TestFleetPausedReplicaIsFenced (acceptance 4): the owner is SIGSTOPped
// while its check turns bad, past its lease; another replica takes over
// and opens the incident. When the paused replica wakes, every write it
// attempts is rejected by the fence (counted), and neither the stored
// state nor the uptime changes because of it.
func TestFleetPausedReplicaIsFenced(t *testing.T) {
	t.Parallel()
	f := startFleet(t, []string{"s1", "s2"}, []string{"r1", "r2", "r3"}, fleetOptions{durable: true})
	owner := f.owner("s1")
	f.targets["s1"].set(http.StatusServiceUnavailable)
	eventually(t, 10*time.Second, "the owner saw one failure", func() bool {
		return slices.ContainsFunc(f.targets["s1"].since(time.Now().Add(-time.Second)), func(h hit) bool {
			return h.replica == owner && h.status != http.StatusOK
		})
	})
	f.signal(owner, syscall.SIGSTOP)
	pausedAt, stopped := time.Now(), true
	t.Cleanup(func() {
		if stopped {
			_ = f.procs[owner].cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	var in spIncident
	others := func() *proc {
		for r, p := range f.procs {
			if r != owner {
				return p
			}
		}
		return nil
	}
	eventually(t, 30*time.Second, "the incident opened by another replica", func() bool {
		ins := incidentsOf(others(), "s1")
		if len(ins) == 1 {
			in = ins[0]
		}
		return len(ins) == 1
	})
	before := changes(in)
	// A long pause: were the paused replica's view of it credited on top
	// of the stand-in's, the component would hold more time than passed.
	eventually(t, 30*time.Second, "a pause of 8 s", func() bool { return time.Since(pausedAt) > 8*time.Second })

	f.signal(owner, syscall.SIGCONT)
	stopped = false
	eventually(t, 30*time.Second, "the woken replica's writes fenced", func() bool {
		return f.metric(owner, "tocsin_store_fenced_writes_total") > 0
	})
	// It takes its share back (rendezvous gives it the same components)
	// from what the others published: probing again, and the incident
	// as it was.
	eventually(t, 30*time.Second, "the woken replica probing again", func() bool {
		return f.owner("s1") != "" && f.metric(owner, "tocsin_owned_checks") > 0
	})
	// Every replica's read model refreshes on its own, the woken one's
	// last of all: wait until each shows the incident, then none may show
	// it changed or a second one.
	eventually(t, 10*time.Second, "the incident on every replica", func() bool {
		for _, p := range f.procs {
			if !slices.ContainsFunc(incidentsOf(p, "s1"), func(i spIncident) bool { return i.ID == in.ID }) {
				return false
			}
		}
		return true
	})
	for _, r := range slices.Sorted(maps.Keys(f.procs)) {
		p := f.procs[r]
		ins := incidentsOf(p, "s1")
		if len(ins) != 1 || ins[0].ID != in.ID || !slices.Equal(changes(ins[0]), before) {
			t.Errorf("%s, after the paused replica woke: %+v, want incident %s with %v", r, ins, in.ID, before)
		}
		if n := len(p.incidents("/api/v2/incidents.json")); n != 1 {
			t.Errorf("%s: %d incidents, want 1", r, n)
		}
	}
	// Uptime: let the woken replica credit a few seconds more (its stale
	// gap would be among them), then compare with the wall clock.
	woke := time.Now()
	eventually(t, 30*time.Second, "a few seconds after the wake", func() bool {
		return time.Since(woke) > 3*time.Second
	})
	f.checkUptimeNotDoubled()
}

// uptimeOf is the time credited to comp today (UTC), read from its
// uptime hash.
func (f *fleet) uptimeOf(comp string) time.Duration {
	f.t.Helper()
	day := time.Now().UTC()
	fields, err := f.rds.Client(f.t).HGetAll(context.Background(), "fleet:{st}:uptime:c:"+comp+":"+day.Format("2006-01")).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		f.t.Fatal(err)
	}
	var total time.Duration
	for k, v := range fields {
		if strings.HasPrefix(k, day.Format("02")+":") {
			ms, _ := strconv.ParseInt(v, 10, 64)
			total += time.Duration(ms) * time.Millisecond
		}
	}
	return total
}

// checkUptimeNotDoubled stops every replica (each writes all it gathered
// as it stops) and checks that no component was credited more time than
// passed between its first probe and the last stop: a paused replica's
// gap is not credited on top of what the replica that stood in credited.
func (f *fleet) checkUptimeNotDoubled() {
	f.t.Helper()
	for _, r := range slices.Sorted(maps.Keys(f.procs)) {
		f.stop(r)
	}
	end := time.Now()
	for _, c := range f.comps {
		first := f.targets[c].since(time.Time{})[0].at
		// A writer pass credits up to its own clock reading, a moment
		// before the process stops.
		if got, ran := f.uptimeOf(c), end.Sub(first); got > ran {
			f.t.Errorf("%s credited %s of uptime in the %s since its first probe", c, got, ran)
		} else {
			f.t.Logf("%s: %s credited in the %s since its first probe", c, got, ran.Round(time.Millisecond))
		}
	}
}

// TestFleetRollingRestart (acceptance 5): every replica is restarted, one
// at a time, during an open incident, as a Deployment rollout does. The
// incident is the same throughout, with no update added, and its check is
// never left unprobed for longer than an interval plus the lease.
func TestFleetRollingRestart(t *testing.T) {
	t.Parallel()
	replicas := []string{"r1", "r2", "r3"}
	f := startFleet(t, []string{"w1", "w2", "w3"}, replicas, fleetOptions{})
	in := f.openIncident("w1")
	from := time.Now()
	for _, r := range replicas {
		f.stop(r)
		p := f.start(r)
		eventually(t, 30*time.Second, r+" ready again", func() bool {
			code, _ := p.get("/readyz")
			return code == http.StatusOK
		})
	}
	// Whoever owns w1 at the end has probed it for a while.
	f.owner("w1")
	if gap, bound := f.targets["w1"].maxGap(from, time.Now()), fleetInterval+fleetLease+fleetSlack; gap > bound {
		t.Errorf("w1 went unprobed for %s during the rollout, want at most interval + lease (+%s slack): %s", gap, fleetSlack, bound)
	}
	ins := incidentsOf(f.any(), "w1")
	if len(ins) != 1 || ins[0].ID != in.ID || !slices.Equal(changes(ins[0]), changes(in)) {
		t.Errorf("after the rollout: %+v, want incident %s unchanged", ins, in.ID)
	}
	if n := len(f.any().incidents("/api/v2/incidents.json")); n != 1 {
		t.Errorf("%d incidents, want 1", n)
	}
	t.Logf("longest gap between probes of w1 during the rollout: %s", f.targets["w1"].maxGap(from, time.Now()))
}
