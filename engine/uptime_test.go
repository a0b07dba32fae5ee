package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident/redisstore"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/uptime"
)

// TestEngineWritesUptime: component time goes to the status the component
// had, check results are counted, and a batch that failed to land is sent
// again, once, when the store is back.
func TestEngineWritesUptime(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	reg := prometheus.NewRegistry()
	up := uptime.NewStore(client, "t:")
	store, iup, err := InstrumentStores(redisstore.New(client, "t:"), up, reg)
	if err != nil {
		t.Fatal(err)
	}
	base := newFixture(t) // for its config and feed helper, rewired below
	clk := &clock{t: time.Now().UTC().Truncate(time.Hour)}
	eng, err := New(Options{Store: store, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		Now: clk.now, Uptime: iup})
	if err != nil {
		t.Fatal(err)
	}
	eng.Configure(base.cfg)
	f := &fixture{eng: eng, store: store, clk: clk, cfg: base.cfg}
	ctx := context.Background()

	f.feed("web-home", "u")  // starts web's clock
	f.feed("web-home", "DD") // 20 s operational, then down
	f.feed("web-home", "u")  // 10 s major outage (not yet recovered)
	eng.writeUptime(ctx, true)

	read := func() (uptime.ComponentDay, uptime.CheckDay) {
		t.Helper()
		comps, err := up.Components(ctx, []string{"web", "api"}, 1, clk.now(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if comps["api"][0].Observed() {
			t.Errorf("api has no results yet but has uptime %+v", comps["api"])
		}
		checks, err := up.Checks(ctx, []string{"web-home"}, 1, clk.now(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return comps["web"][0], checks["web-home"][0]
	}
	web, home := read()
	if web.Millis[detector.Operational] != 20_000 || web.Millis[detector.MajorOutage] != 10_000 {
		t.Errorf("web %v, want 20 s operational and 10 s major outage", web.Millis)
	}
	if home.Counts[probe.StatusUp] != 2 || home.Counts[probe.StatusDown] != 2 {
		t.Errorf("web-home results %v, want 2 up and 2 down", home.Counts)
	}

	mr.SetError("LOADING") // every command fails until cleared
	f.feed("web-home", "u")
	eng.writeUptime(ctx, true)
	if got := storeErrors(t, reg, "uptime_write"); got != 1 {
		t.Errorf("uptime_write errors = %v, want 1", got)
	}
	mr.SetError("")
	eng.writeUptime(ctx, true)
	web, home = read()
	if web.Millis[detector.MajorOutage] != 20_000 || home.Counts[probe.StatusUp] != 3 {
		t.Errorf("after the outage: web %v, web-home %v; want the held batch added once", web.Millis, home.Counts)
	}
}

// lostReply lands a write in Redis but reports an error, once: what a reply
// timeout after the script ran looks like to the engine.
type lostReply struct {
	*uptime.Store
	lost bool
}

func (l *lostReply) Write(ctx context.Context, writer string, seq uint64, b uptime.Batch) (int, error) {
	n, err := l.Store.Write(ctx, writer, seq, b)
	if err == nil && !l.lost {
		l.lost = true
		return 0, context.DeadlineExceeded
	}
	return n, err
}

// TestEngineUptimeLostReply: a batch whose write landed but whose reply was
// lost is sent again and counted once; newer counts wait and land after it.
func TestEngineUptimeLostReply(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	up := uptime.NewStore(client, "t:")
	base := newFixture(t)
	clk := &clock{t: time.Now().UTC().Truncate(time.Hour)}
	eng, err := New(Options{Store: base.store, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		Now: clk.now, Uptime: &lostReply{Store: up}})
	if err != nil {
		t.Fatal(err)
	}
	eng.Configure(base.cfg)
	f := &fixture{eng: eng, store: base.store, clk: clk, cfg: base.cfg}
	ctx := context.Background()
	f.feed("web-home", "uu")
	eng.writeUptime(ctx, true) // lands, reported lost
	f.feed("web-home", "u")
	eng.writeUptime(ctx, true) // the same batch again: nothing added
	eng.writeUptime(ctx, true) // the newer count
	checks, err := up.Checks(ctx, []string{"web-home"}, 1, clk.now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := checks["web-home"][0].Counts[probe.StatusUp]; got != 3 {
		t.Errorf("web-home up results = %d, want 3 (each counted once)", got)
	}
}
