package status

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type refresherEnv struct {
	store  *fakeStore
	server *Server
	r      *Refresher
}

func newRefresherEnv(t *testing.T, interval time.Duration) *refresherEnv {
	t.Helper()
	cfg := testConfig()
	env := &refresherEnv{store: newFakeStore(operationalState()), server: NewServer(ServerOptions{})}
	env.r = NewRefresher(RefresherOptions{Store: env.store, Config: func() *config.Config { return cfg }, Server: env.server,
		Interval: interval})
	return env
}

// start starts Run; stop cancels it and waits for it to return.
func (e *refresherEnv) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.r.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			panic(err)
		}
	}
}

// run starts Run and stops it when the test ends.
func (e *refresherEnv) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func (e *refresherEnv) indicator() Indicator {
	if s := e.server.Snapshot(); s != nil {
		return s.Indicator
	}
	return ""
}

func TestRefresherRebuildsOnVersionChange(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, 10*time.Millisecond)
	if err := env.r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if env.indicator() != IndicatorNone || env.r.LastSuccess().IsZero() {
		t.Fatalf("after Refresh: indicator %q, last success %v", env.indicator(), env.r.LastSuccess())
	}
	env.run(t)
	env.store.set(incidentState())
	eventually(t, "critical indicator", func() bool { return env.indicator() == IndicatorCritical })
}

func TestRefresherStaleOnStoreError(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, 10*time.Millisecond)
	if err := env.r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := env.r.LastSuccess()
	env.run(t)
	env.store.setErr(errors.New("connection refused"))
	eventually(t, "stale snapshot", func() bool { return env.server.Snapshot().Stale })
	snap := env.server.Snapshot()
	if snap.Indicator != IndicatorNone || len(snap.ComponentStatuses) != 4 {
		t.Errorf("stale snapshot lost the last state: %+v", snap)
	}
	rec := do(t, env.server.Handler(), "GET", pathSummary, nil)
	if rec.Code != 200 || rec.Header().Get("X-Tocsin-Stale") != "true" {
		t.Errorf("stale summary = %d %v", rec.Code, rec.Header())
	}
	failingSince := env.r.LastSuccess()
	if failingSince.Before(before) {
		t.Errorf("LastSuccess went back: %v < %v", failingSince, before)
	}
	env.store.setErr(nil)
	eventually(t, "fresh snapshot", func() bool { return !env.server.Snapshot().Stale })
	if !env.r.LastSuccess().After(failingSince) {
		t.Error("LastSuccess did not advance after recovery")
	}
}

func TestRefreshWithoutStateFails(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, time.Second)
	env.store.setErr(errors.New("down"))
	if err := env.r.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "down") {
		t.Errorf("Refresh = %v, want the store error", err)
	}
	if env.server.Snapshot() != nil {
		t.Error("a snapshot was published without any state")
	}
}

func TestRefresherTriggerCoalesces(t *testing.T) {
	t.Parallel()
	// A long interval: only triggers (not ticks) can cause loads here.
	env := newRefresherEnv(t, 400*time.Millisecond)
	if err := env.r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	env.run(t)
	env.store.publish(testChecks(detector.Degraded))
	for range 200 {
		env.r.Trigger()
	}
	eventually(t, "triggered rebuild", func() bool {
		s := env.server.Snapshot()
		data, _, _ := s.Body(pathChecks + "/web-app-home")
		return strings.Contains(string(data), `"status":"degraded"`)
	})
	// 1 load from Refresh, then 1 (at most 2 if a trigger raced the timer)
	// for a burst of 200 triggers.
	if n := env.store.loadCount(); n < 2 || n > 3 {
		t.Errorf("loads = %d, want 2..3 for one burst of triggers", n)
	}
}

func TestRefresherFollowsMaintenanceWindows(t *testing.T) {
	t.Parallel()
	env := newRefresherEnv(t, 10*time.Millisecond)
	cfg := testConfig()
	cfg.Maintenance = []config.Maintenance{{Name: "DB upgrade", Components: []string{"db"},
		Start: t0, End: t0.Add(time.Hour)}}
	env.r.o.Config = func() *config.Config { return cfg }
	var clock atomic.Int64
	clock.Store(t0.Add(-time.Second).UnixNano())
	env.r.o.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	if err := env.r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if env.indicator() != IndicatorNone {
		t.Fatalf("before the window: %s", env.indicator())
	}
	env.run(t)
	clock.Store(t0.Add(time.Second).UnixNano())
	eventually(t, "maintenance indicator", func() bool { return env.indicator() == IndicatorMaintenance })
	if got := env.server.Snapshot().ComponentStatuses["db"]; got != detector.UnderMaintenance {
		t.Errorf("db = %s, want under_maintenance", got)
	}
}

func TestRefresherUpdatesMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	env := newRefresherEnv(t, time.Second)
	env.r.o.Metrics = m
	env.store.set(incidentState())
	if err := env.r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP tocsin_incidents_open Unresolved incidents by impact.
# TYPE tocsin_incidents_open gauge
tocsin_incidents_open{impact="critical"} 1
tocsin_incidents_open{impact="major"} 0
tocsin_incidents_open{impact="minor"} 0
tocsin_incidents_open{impact="none"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "tocsin_incidents_open"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.componentStatus); n != 4*len(detector.ComponentStatuses()) {
		t.Errorf("component_status series = %d, want %d", n, 4*len(detector.ComponentStatuses()))
	}
	for st, want := range map[string]float64{"degraded_performance": 1, "operational": 0} {
		if v := componentGauge(t, reg, "web-app", st); v != want {
			t.Errorf("web-app %s = %v, want %v", st, v, want)
		}
	}
	// A removed component loses its series.
	snap := env.server.Snapshot()
	delete(snap.ComponentStatuses, "db")
	m.Update(snap)
	if n := testutil.CollectAndCount(m.componentStatus); n != 3*len(detector.ComponentStatuses()) {
		t.Errorf("after removing db: %d series", n)
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("second NewMetrics on one registry: want error")
	}
}

// componentGauge returns the value of tocsin_component_status for the
// component and status, failing t if reg has no such series.
func componentGauge(t *testing.T, reg prometheus.Gatherer, component, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tocsin_component_status" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["component"] == component && labels["status"] == status {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no tocsin_component_status{component=%q,status=%q}", component, status)
	return 0
}
