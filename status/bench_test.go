package status

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/uptime"
)

// Sizes of the realistic snapshot the benchmarks build.
const (
	benchComponents    = 50
	benchGroups        = 5 // of 8 components each; the other 10 are ungrouped
	benchOpenIncidents = 20
	benchOldIncidents  = 30 // resolved: with the open ones, the 50 Load returns
	benchUpdates       = 10 // per open incident
	benchRecent        = 21 // results kept per check, as the detector keeps
	benchChecksPerKey  = 20 // checks sharing one API key (a secret to scrub)
)

// benchConfig loads, through config.Load so that its secrets are collected
// as in production, a config with benchComponents components, n HTTP checks
// spread over them (every benchChecksPerKey of them sharing an API key) and
// two maintenance windows.
func benchConfig(tb testing.TB, n int) *config.Config {
	tb.Helper()
	var y strings.Builder
	y.WriteString("page:\n  id: acme\n  name: Acme Status\n  url: https://status.acme.example\n" +
		"  time_zone: Europe/Berlin\ncomponents:\n")
	for i := range benchComponents {
		fmt.Fprintf(&y, "  - id: comp-%02d\n    name: Component %02d\n    description: Component number %d\n", i, i, i)
		if g := i / 8; g < benchGroups {
			fmt.Fprintf(&y, "    group: Group %d\n", g)
		}
	}
	y.WriteString("checks:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - name: check-%05d\n    component: comp-%02d\n    type: http\n    interval: 30s\n"+
			"    timeout: 10s\n    http:\n      url: https://svc-%d.acme.example/health?probe=1\n"+
			"      headers:\n        X-Api-Key: key-%08x-secret\n",
			i, i%benchComponents, i, i/benchChecksPerKey)
	}
	y.WriteString("maintenance:\n")
	fmt.Fprintf(&y, "  - name: DB upgrade\n    components: [comp-01, comp-02]\n    start: %s\n    end: %s\n"+
		"    message: Database upgrade\n", t0.Add(24*time.Hour).Format(time.RFC3339),
		t0.Add(26*time.Hour).Format(time.RFC3339))
	fmt.Fprintf(&y, "  - name: Network work\n    components: [comp-03]\n    start: %s\n    end: %s\n"+
		"    message: Network maintenance\n", t0.Add(-30*time.Minute).Format(time.RFC3339),
		t0.Add(30*time.Minute).Format(time.RFC3339))
	file := filepath.Join(tb.TempDir(), "tocsin.yml")
	if err := os.WriteFile(file, []byte(y.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: file})
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// benchState has every component stored, benchOpenIncidents open incidents
// with benchUpdates updates each and benchOldIncidents resolved ones.
func benchState() incident.State {
	st := incident.State{Version: 42, Components: map[string]incident.ComponentState{}}
	for i := range benchComponents {
		s := detector.Operational
		if i%7 == 0 {
			s = detector.DegradedPerformance
		}
		st.Components[fmt.Sprintf("comp-%02d", i)] = incident.ComponentState{Status: s,
			UpdatedAt: t0.Add(-time.Duration(i) * time.Minute)}
	}
	for i := range benchOpenIncidents + benchOldIncidents {
		at := t0.Add(-time.Duration(i) * time.Hour)
		in := incident.Incident{ID: fmt.Sprintf("incident%04d", i), Name: fmt.Sprintf("Component %02d degraded", i),
			Status: incident.Investigating, Impact: incident.ImpactMinor, Auto: true, CreatedAt: at,
			UpdatedAt: at.Add(time.Minute), StartedAt: at.Add(-time.Minute),
			Components: map[string]detector.ComponentStatus{
				fmt.Sprintf("comp-%02d", i%benchComponents):     detector.DegradedPerformance,
				fmt.Sprintf("comp-%02d", (i+1)%benchComponents): detector.PartialOutage,
			}}
		updates := benchUpdates
		if i >= benchOpenIncidents {
			in.Status, in.ResolvedAt, updates = incident.Resolved, at.Add(30*time.Minute), 3
		}
		for u := range updates {
			in.Updates = append(in.Updates, incident.Update{ID: fmt.Sprintf("upd%04d-%02d", i, u),
				Status: incident.Investigating, CreatedAt: at.Add(time.Duration(u) * time.Minute),
				Body: fmt.Sprintf("Update %d: check-%05d is slow (p95 2.5s > 2s); still investigating", u, i),
				AffectedComponents: []incident.AffectedComponent{{Code: fmt.Sprintf("comp-%02d", i%benchComponents),
					Name: "Component", OldStatus: detector.Operational, NewStatus: detector.DegradedPerformance}}})
		}
		st.Incidents = append(st.Incidents, in)
	}
	return st
}

// benchChecks is the detector's view of the config's checks, each with
// benchRecent results.
func benchChecks(cfg *config.Config) []*detector.Check {
	out := make([]*detector.Check, 0, len(cfg.Checks))
	for i, c := range cfg.Checks {
		recent := make([]probe.Result, benchRecent)
		for j := range recent {
			recent[j] = probe.Result{Status: probe.StatusUp, Start: t0.Add(-time.Duration(benchRecent-j) * c.Interval),
				Duration: time.Duration(100+i%50+j) * time.Millisecond, StatusCode: 200,
				Phases: []probe.Phase{{Name: "dns", Duration: time.Millisecond}, {Name: "connect", Duration: 3 * time.Millisecond},
					{Name: "tls", Duration: 9 * time.Millisecond}, {Name: "ttfb", Duration: 80 * time.Millisecond}},
				CertNotAfter: t0.Add(60 * 24 * time.Hour)}
		}
		status := detector.Up
		if i%97 == 0 {
			last := &recent[benchRecent-1]
			last.Status, last.Reason, last.Message = probe.StatusDegraded, probe.ReasonLatency, "slow: 2.5s > 2s"
			status = detector.Degraded
		}
		out = append(out, &detector.Check{Spec: detector.Spec{Name: c.Name, Component: c.Component,
			Impact: detector.MajorOutage}, Status: status, Since: t0.Add(-time.Hour), Last: recent[benchRecent-1],
			Recent: detector.Samples(recent), Streak: 3})
	}
	return out
}

func benchInputs(tb testing.TB, n int) Inputs {
	cfg := benchConfig(tb, n)
	return Inputs{Config: cfg, State: benchState(), Checks: benchChecks(cfg), Now: t0, Epoch: t0.Add(-100 * time.Hour),
		Uptime: benchUptime(cfg), StateRead: t0.Add(-time.Second), UptimeRead: t0.Add(-time.Second)}
}

// benchUptime is 90 days of history for every component, a short outage
// every ninth day.
func benchUptime(cfg *config.Config) map[string][]uptime.ComponentDay {
	out := make(map[string][]uptime.ComponentDay, len(cfg.Components))
	for i, c := range cfg.Components {
		for j, d := range uptime.Range(t0, uptime.Days, time.UTC) {
			ms := map[detector.ComponentStatus]int64{detector.Operational: 86_000_000}
			if (i+j)%9 == 0 {
				ms[detector.MajorOutage] = 400_000
			}
			out[c.ID] = append(out[c.ID], uptime.ComponentDay{Date: d, Millis: uptime.MillisOf(ms)})
		}
	}
	return out
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100, 1_000, 10_000} {
		b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
			in := benchInputs(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuildAndRenderPage is a build followed by the first request
// for the front page, which renders it (pages.go): what a reader of the
// page costs per change of what it shows.
func BenchmarkBuildAndRenderPage(b *testing.B) {
	for _, n := range []int{100, 1_000, 10_000} {
		b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
			in := benchInputs(b, n)
			b.ReportAllocs()
			for b.Loop() {
				snap, err := Build(in)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, ok := snap.Body(pathPage); !ok {
					b.Fatal("no page")
				}
			}
		})
	}
}

// BenchmarkRebuild is the Refresher's steady state: a rebuild from the last
// snapshot after one second of results, with every check on a 30s interval
// (1/30 of the checks have a new result).
func BenchmarkRebuild(b *testing.B) {
	const changedEvery = 30
	for _, n := range []int{100, 1_000, 10_000} {
		b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
			in := benchInputs(b, n)
			// Two states per check, a result apart; each round flips 1/30 of
			// the checks to the other one.
			states := [2][]*detector.Check{in.Checks, make([]*detector.Check, len(in.Checks))}
			for i, old := range in.Checks {
				c := *old
				r := c.Last
				r.Start = r.Start.Add(30 * time.Second)
				c.Recent, c.Last = append(c.Recent[1:len(c.Recent):len(c.Recent)], detector.SampleOf(r)), r
				states[1][i] = &c
			}
			in.Checks = slices.Clone(states[0])
			enc := newEncoder()
			prev, err := build(b.Context(), in, buildOptions{enc: enc})
			if err != nil {
				b.Fatal(err)
			}
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				round++
				for i := round % changedEvery; i < n; i += changedEvery {
					in.Checks[i] = states[round/changedEvery%2][i]
				}
				in.Now = in.Now.Add(time.Second)
				if prev, err = build(b.Context(), in, buildOptions{enc: enc, prev: prev}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckPage50k is /api/v1/checks at 50,000 checks with 21 results
// each: "unpaged" writes the whole list, "page=N" makes (uncached) and
// writes one page of N. body-bytes is what one response carries, walk-bytes
// what a walk of every page carries in all.
func BenchmarkCheckPage50k(b *testing.B) {
	const n = 50_000
	snap, err := build(b.Context(), benchInputs(b, n), buildOptions{})
	if err != nil {
		b.Fatal(err)
	}
	checks := snap.checks
	b.Run("unpaged", func(b *testing.B) {
		b.ReportAllocs()
		var size int
		for b.Loop() {
			list := checks.encodeList()
			if err := list.write(io.Discard); err != nil {
				b.Fatal(err)
			}
			size = list.size
		}
		b.ReportMetric(float64(size), "body-bytes")
	})
	for _, limit := range []int{100, maxPageLimit} {
		b.Run(fmt.Sprintf("page=%d", limit), func(b *testing.B) {
			walk := 0
			for start := 0; start < n; start += limit {
				walk += checks.makePage(start, limit).size
			}
			start := 0
			b.ReportAllocs()
			var size int
			for b.Loop() {
				p := checks.makePage(start, limit)
				if err := p.write(io.Discard); err != nil {
					b.Fatal(err)
				}
				size, start = p.size, (start+limit)%n
			}
			b.ReportMetric(float64(size), "body-bytes")
			b.ReportMetric(float64(walk), "walk-bytes")
		})
	}
}
