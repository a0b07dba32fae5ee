package status

import (
	"fmt"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
)

// BenchmarkRefresherChecks50k is the part of a refresher cycle that grows
// with the checks before the build, at 50,000 checks with 21 results each:
// reading one second of published changes (1 in 30 checks, a 30s
// interval) and handing the build every check state. It runs under the
// refresher's own lock; no engine lock is involved (the refresher reads
// the store).
func BenchmarkRefresherChecks50k(b *testing.B) {
	const n, changedEvery = 50_000, 30
	cfg := &config.Config{}
	for i := range n {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("check-%05d", i), Component: "comp-00",
			Interval: 30 * time.Second})
	}
	checks := benchChecks(cfg)
	store := newFakeStore(benchState())
	store.publish(derefs(checks))
	r := NewRefresher(RefresherOptions{Store: store})
	if _, err := r.readChecks(b.Context()); err != nil {
		b.Fatal(err)
	}
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		round++
		batch := make([]detector.Check, 0, n/changedEvery+1)
		for i := round % changedEvery; i < n; i += changedEvery {
			c := *checks[i]
			c.Streak = round
			batch = append(batch, c)
		}
		store.publish(batch)
		b.StartTimer()
		if _, err := r.readChecks(b.Context()); err != nil {
			b.Fatal(err)
		}
		if got := len(r.checks.list); got != n {
			b.Fatalf("%d check states, want %d", got, n)
		}
	}
}
