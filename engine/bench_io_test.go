package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/ownertest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/status"
)

// benchEstate is an engine on a real redis-server owning every component
// of n checks (one component per 10, as issue 14 measured), with the
// client's commands and pipelines counted.
type benchEstate struct {
	eng   *Engine
	cfg   *config.Config
	reg   *prometheus.Registry
	trips *atomic.Int64
}

func newBenchEstate(b *testing.B, n int) *benchEstate {
	b.Helper()
	rds := redistest.Start(b)
	client := rds.Client(b)
	trips := &atomic.Int64{}
	client.AddHook(countTrips{trips})
	reg := prometheus.NewRegistry()
	store, err := redisstore.NewInstrumented(client, "b:", reg)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := New(Options{Store: store, Checks: store, Member: "r1", Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{Incidents: config.Incidents{GroupWindow: 15 * time.Minute, GroupBy: "relation",
		ResolveAfter: 5 * time.Minute, ReopenWindow: 30 * time.Minute, Retention: 24 * time.Hour}}
	comps := make([]string, 0, n/10)
	for i := range n / 10 {
		id := fmt.Sprintf("c%d", i)
		comps = append(comps, id)
		cfg.Components = append(cfg.Components, config.Component{ID: id, Name: "C " + id})
	}
	for i := range n {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("k%d", i), Component: comps[i/10],
			Type: "http", Impact: "major_outage", FailureThreshold: 3, SuccessThreshold: 2})
	}
	eng.Configure(cfg)
	var acq []ownership.Acquired
	for _, g := range ownertest.Claim(b, store, "r1", comps...) {
		acq = append(acq, ownership.Acquired{Grant: g})
	}
	eng.Adopt(context.Background(), acq)
	return &benchEstate{eng: eng, cfg: cfg, reg: reg, trips: trips}
}

// countTrips counts round trips to Redis: a command or a pipeline is one.
type countTrips struct{ n *atomic.Int64 }

func (countTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h countTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkWriterPass50k measures one writer pass at 50,000 checks of a
// 30 s interval: the second's 1,667 results recorded, then published and
// judged against a real redis-server. It reports the pass's round trips.
func BenchmarkWriterPass50k(b *testing.B) {
	e := newBenchEstate(b, 50000)
	ctx := context.Background()
	perPass := 50000 / 30
	next := 0
	r := probe.Result{Status: probe.StatusUp, Duration: 40 * time.Millisecond}
	// One warm pass publishes every component once.
	for _, c := range e.cfg.Checks {
		r.Start = time.Now()
		e.eng.Record(ctx, c, r)
	}
	if !e.eng.flush(ctx) {
		b.Fatal("warm-up pass failed")
	}
	e.trips.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	passes := 0
	for b.Loop() {
		for range perPass {
			r.Start = time.Now()
			e.eng.Record(ctx, e.cfg.Checks[next], r)
			next = (next + 1) % len(e.cfg.Checks)
		}
		if !e.eng.flush(ctx) {
			b.Fatal("writer pass failed")
		}
		passes++
	}
	b.ReportMetric(float64(e.trips.Load())/float64(passes), "trips/pass")
}

// BenchmarkMetricsEncode50k measures a /metrics scrape of a replica that
// owns 50,000 checks that have all had a result: the bounded series of
// docs/metrics.md, gathered and encoded by the handler cmd/tocsin serves.
func BenchmarkMetricsEncode50k(b *testing.B) {
	e := newBenchEstate(b, 50000)
	ctx := context.Background()
	for i, c := range e.cfg.Checks {
		st := probe.StatusUp
		if i%100 == 0 {
			st = probe.StatusDown
		}
		e.eng.Record(ctx, c, probe.Result{Status: st, Start: time.Now(), Duration: 40 * time.Millisecond,
			Phases: []probe.Phase{{Name: "connect", Duration: time.Millisecond}, {Name: "first_byte", Duration: 30 * time.Millisecond}}})
	}
	h := status.NewServer(status.ServerOptions{Logger: slog.New(slog.DiscardHandler), Gatherer: e.reg,
		MetricsWriters: []status.MetricsWriter{e.eng.CheckMetrics()}}).Handler()
	size, body := 0, ""
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		size, body = rec.Body.Len(), rec.Body.String()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
	// Series as Prometheus counts them: a sample line each.
	series := 0
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "#") {
			series++
		}
	}
	b.ReportMetric(float64(series)/50000, "series/check")
}
