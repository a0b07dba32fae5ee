package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/uptime"
)

// uptimeFixture is newFixture's store and config under an engine that
// writes uptime to up (nil: the store), on a clock at the top of this hour.
func uptimeFixture(t *testing.T, up func(*redisstore.Store) UptimeWriter) *fixture {
	t.Helper()
	base := newFixture(t)
	clk := &clock{t: time.Now().UTC().Truncate(time.Hour)}
	var w UptimeWriter = base.store
	if up != nil {
		w = up(base.store)
	}
	eng, err := New(Options{Store: base.store, Checks: base.store, Uptime: w, Member: "r1",
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	eng.Configure(base.cfg)
	f := &fixture{t: t, eng: eng, store: base.store, clk: clk, cfg: base.cfg, mr: base.mr, reg: base.reg}
	f.own(eng, "r1", "web", "api")
	return f
}

// TestEngineWritesUptime: component time goes to the status the component
// had, check results are counted, and a batch that failed to land is sent
// again, once, when the store is back.
func TestEngineWritesUptime(t *testing.T) {
	t.Parallel()
	f := uptimeFixture(t, nil)
	eng, clk, up := f.eng, f.clk, f.store
	ctx := context.Background()

	f.feed("web-home", "u")  // starts web's clock
	f.feed("web-home", "DD") // 20 s operational, then down
	f.feed("web-home", "u")  // 10 s major outage (not yet recovered)
	eng.writeUptime(ctx, true)

	read := func() (uptime.ComponentDay, uptime.CheckDay) {
		t.Helper()
		comps, err := up.ComponentUptime(ctx, []string{"web", "api"}, 1, clk.now(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if comps["api"][0].Observed() {
			t.Errorf("api has no results yet but has uptime %+v", comps["api"])
		}
		checks, err := up.CheckUptime(ctx, []string{"web-home"}, 1, clk.now(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return comps["web"][0], checks["web-home"][0]
	}
	web, home := read()
	if web.Millis.Of(detector.Operational) != 20_000 || web.Millis.Of(detector.MajorOutage) != 10_000 {
		t.Errorf("web %v, want 20 s operational and 10 s major outage", web.Millis)
	}
	if home.Counts[probe.StatusUp] != 2 || home.Counts[probe.StatusDown] != 2 {
		t.Errorf("web-home results %v, want 2 up and 2 down", home.Counts)
	}

	f.mr.SetError("LOADING") // every command fails until cleared
	f.feed("web-home", "u")
	eng.writeUptime(ctx, true)
	if got := storeErrors(t, f.reg, "uptime_write"); got != 1 {
		t.Errorf("uptime_write errors = %v, want 1", got)
	}
	f.mr.SetError("")
	eng.writeUptime(ctx, true)
	web, home = read()
	if web.Millis.Of(detector.MajorOutage) != 20_000 || home.Counts[probe.StatusUp] != 3 {
		t.Errorf("after the outage: web %v, web-home %v; want the held batch added once", web.Millis, home.Counts)
	}
}

// lostReply lands a write in Redis but reports an error, once: what a reply
// timeout after the script ran looks like to the engine.
type lostReply struct {
	*redisstore.Store
	lost bool
}

func (l *lostReply) WriteUptime(ctx context.Context, w uptime.Write) (uptime.WriteResult, error) {
	res, err := l.Store.WriteUptime(ctx, w)
	if err == nil && !l.lost {
		l.lost = true
		return uptime.WriteResult{}, context.DeadlineExceeded
	}
	return res, err
}

// TestEngineUptimeLostReply: a batch whose write landed but whose reply was
// lost is sent again and counted once; newer counts wait and land after it.
func TestEngineUptimeLostReply(t *testing.T) {
	t.Parallel()
	f := uptimeFixture(t, func(s *redisstore.Store) UptimeWriter { return &lostReply{Store: s} })
	eng, clk := f.eng, f.clk
	ctx := context.Background()
	f.feed("web-home", "uu")
	eng.writeUptime(ctx, true) // lands, reported lost
	f.feed("web-home", "u")
	eng.writeUptime(ctx, true) // the same batch again: nothing added
	eng.writeUptime(ctx, true) // the newer count
	checks, err := f.store.CheckUptime(ctx, []string{"web-home"}, 1, clk.now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := checks["web-home"][0].Counts[probe.StatusUp]; got != 3 {
		t.Errorf("web-home up results = %d, want 3 (each counted once)", got)
	}
}

// TestEngineUptimeOnlyOwned: a replica credits only the components it owns:
// what it gathered for a component it lost before the next write is not
// added (its new owner credits the component from its first pass; a
// handover loses at most one write's worth of counts, never adds any
// twice).
func TestEngineUptimeOnlyOwned(t *testing.T) {
	t.Parallel()
	f := uptimeFixture(t, nil)
	ctx := context.Background()
	f.feed("web-home", "uu")
	f.feed("api-health", "uu")
	f.eng.Release([]string{"api"})
	f.feed("api-health", "u") // dropped: not owned
	f.eng.writeUptime(ctx, true)
	comps, err := f.store.ComponentUptime(ctx, []string{"web", "api"}, 1, f.clk.now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if !comps["web"][0].Observed() {
		t.Error("web's time was not credited")
	}
	checks, err := f.store.CheckUptime(ctx, []string{"api-health"}, 1, f.clk.now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := checks["api-health"][0].Counts[probe.StatusUp]; got != 0 {
		t.Errorf("api-health results = %d, want none: api was lost before the write", got)
	}
}
