package engine

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/ownertest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
)

// BenchmarkRecord50k measures the per-result cost on the probing path with
// 50,000 checks over 5,000 components: metrics, scrubbing and the detector,
// no store round trip (results that change nothing never reach Redis).
func BenchmarkRecord50k(b *testing.B) {
	mr := miniredis.RunT(b)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	b.Cleanup(func() { _ = client.Close() })
	eng, err := New(Options{Store: redisstore.New(client, "b:"), Member: "r1", Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{}
	for i := range 5000 {
		cfg.Components = append(cfg.Components, config.Component{ID: fmt.Sprintf("c%d", i), Name: fmt.Sprintf("C %d", i)})
	}
	for i := range 50000 {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("k%d", i), Component: fmt.Sprintf("c%d", i%5000),
			Type: "http", Impact: "major_outage", FailureThreshold: 3, SuccessThreshold: 2})
	}
	eng.Configure(cfg)
	// Owned: a result of a component owned elsewhere is dropped at once,
	// which is all this measured before.
	store := redisstore.New(client, "b:")
	var acq []ownership.Acquired
	for _, g := range ownertest.Claim(b, store, "r1", componentIDs(cfg)...) {
		acq = append(acq, ownership.Acquired{Grant: g})
	}
	eng.Adopt(context.Background(), acq)
	r := probe.Result{Status: probe.StatusUp, Start: time.Now(), Duration: 40 * time.Millisecond}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		eng.Record(ctx, cfg.Checks[i%len(cfg.Checks)], r)
	}
}

// BenchmarkPending50k measures one writer pass deriving every component's
// status (5,000 components, 50,000 checks) when nothing changed.
func BenchmarkPending50k(b *testing.B) {
	eng, err := New(Options{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{}
	for i := range 5000 {
		cfg.Components = append(cfg.Components, config.Component{ID: fmt.Sprintf("c%d", i)})
	}
	for i := range 50000 {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("k%d", i), Component: fmt.Sprintf("c%d", i%5000), FailureThreshold: 1, SuccessThreshold: 1})
	}
	eng.Configure(cfg)
	for _, c := range cfg.Checks {
		eng.Record(context.Background(), c, probe.Result{Status: probe.StatusUp})
	}
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

func componentIDs(cfg *config.Config) []string {
	out := make([]string, len(cfg.Components))
	for i, c := range cfg.Components {
		out[i] = c.ID
	}
	return out
}
