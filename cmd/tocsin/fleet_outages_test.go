package main

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// outage is one failure of a component's target.
type outage struct {
	comp       string
	start, end time.Time
}

// TestFleetRandomOutages (issue 11, acceptance 1): three replicas on one
// Redis, 20 randomized outages of several components, some at once. Each
// outage is exactly one incident whose updates are exactly opened,
// monitoring, resolved; every check is probed once per interval across
// the fleet (0.8x-1.3x of plan over the run). TOCSIN_FLEET_SEED replays a
// run.
func TestFleetRandomOutages(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("TOCSIN_FLEET_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (TOCSIN_FLEET_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	comps := []string{"c1", "c2", "c3", "c4", "c5", "c6"}
	f := startFleet(t, comps, []string{"r1", "r2", "r3"}, fleetOptions{})
	from := time.Now()

	const total = 20
	var done []outage
	failing := map[string]outage{} // comp -> its outage (end: when it is to end)
	resolving := map[string]bool{} // healed, incident not resolved yet
	deadline := time.Now().Add(5 * time.Minute)
	for len(done) < total || len(failing) > 0 || len(resolving) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outages did not finish: %d done, failing %v, resolving %v", len(done), failing, resolving)
		}
		now := time.Now()
		for c, o := range failing {
			if now.After(o.end) {
				f.targets[c].set(http.StatusOK)
				o.end = now
				done = append(done, o)
				delete(failing, c)
				resolving[c] = true
			}
		}
		if len(resolving) > 0 {
			p := f.any()
			for c := range resolving {
				ins := incidentsOf(p, c)
				if len(ins) > 0 && ins[len(ins)-1].Status == "resolved" && resolvedCount(ins) == outagesOf(done, c) {
					delete(resolving, c)
				}
			}
		}
		// Start outages of one to three idle components at once.
		if started := len(done) + len(failing); started < total && rng.IntN(3) == 0 {
			for range 1 + rng.IntN(3) {
				c := comps[rng.IntN(len(comps))]
				if _, busy := failing[c]; busy || resolving[c] || len(done)+len(failing) >= total {
					continue
				}
				f.targets[c].set(http.StatusServiceUnavailable)
				failing[c] = outage{c, time.Now(), time.Now().Add(1500*time.Millisecond + time.Duration(rng.IntN(1500))*time.Millisecond)}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	to := time.Now()

	p := f.any()
	for _, c := range comps {
		ins := incidentsOf(p, c)
		if got, want := len(ins), outagesOf(done, c); got != want {
			t.Errorf("%s: %d incidents for %d outages", c, got, want)
		}
		for _, in := range ins {
			want := []string{"investigating:operational>major_outage", "monitoring:major_outage>operational", "resolved"}
			if got := changes(in); !slices.Equal(got, want) {
				t.Errorf("%s: incident %s updates %v, want %v", c, in.ID, got, want)
			}
		}
		// Probed once per interval by the fleet, not once per replica.
		hs := f.targets[c].since(from)
		n := 0
		for _, h := range hs {
			if !h.at.After(to) {
				n++
			}
		}
		planned := float64(to.Sub(from)) / float64(fleetInterval)
		if ratio := float64(n) / planned; ratio < 0.8 || ratio > 1.3 {
			t.Errorf("%s: %d probes in %s, %.2fx of the %.0f planned", c, n, to.Sub(from).Round(time.Millisecond), ratio, planned)
		}
	}
	// Per-check series come from the owner only: each check's are on
	// exactly one replica, once a replica that handed a check over has
	// dropped its series.
	var spread []string // at the last look, the checks that were not
	defer func() {
		if len(spread) > 0 {
			t.Logf("series spread at the last look: %v", spread)
		}
	}()
	eventually(t, 10*time.Second, "each check's series on exactly one replica", func() bool {
		metrics := map[string]string{}
		for r, p := range f.procs {
			_, m := p.get("/metrics")
			metrics[r] = string(m)
		}
		spread = spread[:0]
		for _, c := range comps {
			var on []string
			for _, r := range slices.Sorted(maps.Keys(metrics)) {
				if strings.Contains(metrics[r], `tocsin_probe_success{check="`+c+`-http"`) {
					on = append(on, r)
				}
			}
			if len(on) != 1 {
				spread = append(spread, fmt.Sprintf("%s-http on %v", c, on))
			}
		}
		return len(spread) == 0
	})
	t.Logf("%d outages in %s", len(done), to.Sub(from).Round(time.Second))
}

func outagesOf(done []outage, c string) int {
	n := 0
	for _, o := range done {
		if o.comp == c {
			n++
		}
	}
	return n
}

func resolvedCount(ins []spIncident) int {
	n := 0
	for _, in := range ins {
		if in.Status == "resolved" {
			n++
		}
	}
	return n
}
