package engine

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/probe"
)

// ownedEngine50k is an engine owning 50,000 checks over 5,000 components,
// each with a full history (21 results), every one of them dirty.
// BenchmarkRecord50k and BenchmarkPending50k own no component, so they time
// the early return for a check this replica does not own; this one owns
// them all.
func ownedEngine50k(b *testing.B) (*Engine, *config.Config) {
	b.Helper()
	eng, err := New(Options{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{}
	acq := make([]ownership.Acquired, 0, 5000)
	for i := range 5000 {
		id := fmt.Sprintf("c%d", i)
		cfg.Components = append(cfg.Components, config.Component{ID: id})
		acq = append(acq, ownership.Acquired{Grant: ownership.Grant{Component: id,
			Fence: ownership.Fence{Member: "m", Token: 1}}, Continue: true})
	}
	for i := range 50000 {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("k%05d", i), Component: fmt.Sprintf("c%d", i%5000),
			Type: "http", Impact: "major_outage", FailureThreshold: 3, SuccessThreshold: 2})
	}
	eng.Configure(cfg)
	eng.Adopt(context.Background(), acq)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for j := range 21 {
		r := probe.Result{Status: probe.StatusUp, Start: start.Add(time.Duration(j) * 30 * time.Second),
			Duration: 40 * time.Millisecond, StatusCode: 200}
		for _, c := range cfg.Checks {
			eng.Record(context.Background(), c, r)
		}
	}
	if n := len(eng.dirty); n != len(cfg.Checks) {
		b.Fatalf("%d dirty checks, want %d", n, len(cfg.Checks))
	}
	return eng, cfg
}

// BenchmarkDirtyBatch50k times the writer's copy of the check states to
// publish, the only copy of check states made under the engine's lock:
// "locked" is how long Record waits behind it at most, "total" the whole
// copy. all: every one of 50,000 checks has a new result (a start, or the
// pass after the store came back); steady: one in 30, a second of results
// at a 30s interval.
func BenchmarkDirtyBatch50k(b *testing.B) {
	eng, cfg := ownedEngine50k(b)
	all := eng.dirty
	steady := map[string]struct{}{}
	for i, c := range cfg.Checks {
		if i%30 == 0 {
			steady[c.Name] = struct{}{}
		}
	}
	for _, tc := range []struct {
		name  string
		dirty map[string]struct{}
	}{{"all", all}, {"steady", steady}} {
		eng.dirty = tc.dirty
		b.Run(tc.name+"/locked", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				eng.mu.Lock()
				_, d, _ := eng.dirtyLocked()
				eng.mu.Unlock()
				if len(d) != len(tc.dirty) {
					b.Fatalf("%d checks, want %d", len(d), len(tc.dirty))
				}
			}
		})
		b.Run(tc.name+"/total", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if batch, _, _ := eng.dirtyBatch(); len(batch.Checks) != len(tc.dirty) {
					b.Fatalf("%d checks, want %d", len(batch.Checks), len(tc.dirty))
				}
			}
		})
	}
}

// TestDirtyBatchFollowsEveryChange: what the writer publishes is the
// detector's state of each dirty check after every kind of change, not a
// snapshot left over from before it.
func TestDirtyBatchFollowsEveryChange(t *testing.T) {
	t.Parallel()
	eng, err := New(Options{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Components: []config.Component{{ID: "c"}},
		Checks: []config.Check{{Name: "a", Component: "c", FailureThreshold: 2, SuccessThreshold: 1},
			{Name: "b", Component: "c", FailureThreshold: 2, SuccessThreshold: 1}}}
	eng.Configure(cfg)
	grant := []ownership.Acquired{{Grant: ownership.Grant{Component: "c", Fence: ownership.Fence{Member: "m", Token: 1}}, Continue: true}}
	eng.Adopt(t.Context(), grant)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	result := func(s probe.Status) func() {
		return func() {
			n++
			for _, c := range cfg.Checks {
				eng.Record(t.Context(), c, probe.Result{Status: s, Start: start.Add(time.Duration(n) * time.Second)})
			}
		}
	}
	steps := []struct {
		name string
		do   func()
	}{
		{"first results", result(probe.StatusUp)},
		{"a failure", result(probe.StatusDown)},
		{"a second failure", result(probe.StatusDown)},
		{"new thresholds", func() {
			next := *cfg
			next.Checks = []config.Check{{Name: "a", Component: "c", FailureThreshold: 5, SuccessThreshold: 3},
				{Name: "b", Component: "c", FailureThreshold: 2, SuccessThreshold: 1}}
			eng.Configure(&next)
		}},
		{"won back without its state", func() {
			grant := []ownership.Acquired{{Grant: ownership.Grant{Component: "c", Fence: ownership.Fence{Member: "m", Token: 2}}}}
			eng.Adopt(t.Context(), grant)
		}},
		{"a result after", result(probe.StatusUp)},
		{"store reset", eng.StoreReset},
	}
	for _, st := range steps {
		st.do()
		b, _, _ := eng.dirtyBatch()
		if len(b.Checks) != 2 || b.Checks[0].State.Name != "a" || b.Checks[1].State.Name != "b" {
			t.Fatalf("%s: batch of %d checks", st.name, len(b.Checks))
		}
		for _, c := range b.Checks {
			eng.mu.Lock()
			want, _ := eng.det.Check(c.State.Name)
			eng.mu.Unlock()
			if !reflect.DeepEqual(c.State, want) {
				t.Errorf("%s: %s published as\n%+v\nwant\n%+v", st.name, c.State.Name, c.State, want)
			}
		}
	}
}

// midPublishStore is a CheckStore that runs during() inside the first
// PublishChecks, as a probe result arriving during the round trip, and
// keeps what each call wrote.
type midPublishStore struct {
	during  func()
	batches []checkstate.Batch
}

func (s *midPublishStore) PublishChecks(_ context.Context, b checkstate.Batch, _ []string) (checkstate.PublishResult, error) {
	s.batches = append(s.batches, b)
	if s.during != nil {
		s.during()
		s.during = nil
	}
	return checkstate.PublishResult{}, nil
}

func (s *midPublishStore) LoadChecks(context.Context, []string) (map[string]checkstate.Check, error) {
	return nil, nil
}

// TestResultDuringPublishIsPublished: a result that arrives while the
// writer's publish is on its way is published by the next pass, not
// dropped with the dirty mark of the state that went before it.
func TestResultDuringPublishIsPublished(t *testing.T) {
	t.Parallel()
	store := &midPublishStore{}
	eng, err := New(Options{Checks: store, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c := config.Check{Name: "a", Component: "c", FailureThreshold: 1, SuccessThreshold: 1}
	eng.Configure(&config.Config{Components: []config.Component{{ID: "c"}}, Checks: []config.Check{c}})
	eng.Adopt(t.Context(), []ownership.Acquired{{Grant: ownership.Grant{Component: "c",
		Fence: ownership.Fence{Member: "m", Token: 1}}, Continue: true}})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eng.Record(t.Context(), c, probe.Result{Status: probe.StatusUp, Start: start})
	store.during = func() {
		eng.Record(t.Context(), c, probe.Result{Status: probe.StatusDown, Start: start.Add(time.Second)})
	}
	for pass := range 2 {
		if !eng.publish(t.Context()) {
			t.Fatalf("pass %d: publish failed", pass)
		}
	}
	if len(store.batches) != 2 || len(store.batches[1].Checks) != 1 ||
		store.batches[1].Checks[0].State.Status != detector.Down {
		t.Fatalf("published %+v; want the down result in a second batch", store.batches)
	}
}
