package engine

import (
	"context"
	"testing"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// BenchmarkRecord50k measures the per-result cost on the probing path with
// 50,000 owned checks over 5,000 components, each with a full window of
// results: metrics, scrubbing, the detector and the writer's snapshot, no
// store round trip (results that change nothing never reach Redis).
func BenchmarkRecord50k(b *testing.B) {
	eng, cfg := ownedEngine50k(b)
	start := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := probe.Result{Status: probe.StatusUp, Start: start.Add(time.Duration(i) * time.Millisecond),
			Duration: 40 * time.Millisecond, StatusCode: 200}
		eng.Record(ctx, cfg.Checks[i%len(cfg.Checks)], r)
	}
}

// BenchmarkPending50k measures one writer pass deriving every component's
// status (5,000 owned components, 50,000 checks) when nothing changed.
func BenchmarkPending50k(b *testing.B) {
	eng, cfg := ownedEngine50k(b)
	for _, c := range cfg.Components {
		eng.acked[c.ID] = ack{status: "operational"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n := len(eng.pending()); n != 0 {
			b.Fatalf("%d pending", n)
		}
	}
}
