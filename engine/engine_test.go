package engine

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/ownertest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     *testing.T
	eng   *Engine
	store *redisstore.Store
	clk   *clock
	reg   *prometheus.Registry
	mr    *miniredis.Miniredis
	cfg   *config.Config
}

// newFixture is an engine of replica r1 on miniredis, owning every
// component of its config.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	reg := prometheus.NewRegistry()
	store, err := redisstore.NewInstrumented(client, "t:", reg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	eng, err := New(Options{Store: store, Checks: store, Member: "r1", Registry: reg,
		Logger: slog.New(slog.DiscardHandler), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(eng.CheckMetrics())
	cfg := &config.Config{
		Incidents: config.Incidents{GroupWindow: 15 * time.Minute, ResolveAfter: 5 * time.Minute, ReopenWindow: 30 * time.Minute, Retention: 24 * time.Hour},
		// One group: related failures share an incident (group_by relation).
		Components: []config.Component{{ID: "web", Name: "Web App", Group: "Shop"}, {ID: "api", Name: "API", Group: "Shop"}},
		Checks: []config.Check{
			{Name: "web-home", Component: "web", Type: "http", Impact: "major_outage", FailureThreshold: 2, SuccessThreshold: 2},
			{Name: "api-health", Component: "api", Type: "http", Impact: "partial_outage", FailureThreshold: 2, SuccessThreshold: 2},
		},
	}
	eng.Configure(cfg)
	f := &fixture{t: t, eng: eng, store: store, clk: clk, reg: reg, mr: mr, cfg: cfg}
	f.own(eng, "r1", "web", "api")
	return f
}

// own grants comps to member and hands the grants to eng, as the
// ownership manager does.
func (f *fixture) own(eng *Engine, member string, comps ...string) {
	f.t.Helper()
	var acq []ownership.Acquired
	for _, g := range ownertest.Claim(f.t, f.store, member, comps...) {
		acq = append(acq, ownership.Acquired{Grant: g})
	}
	eng.Adopt(context.Background(), acq)
}

// feed records results ("u", "d", "D") for a check, 10 s apart, then lets
// the writer run.
func (f *fixture) feed(check, results string) {
	var c config.Check
	for _, cc := range f.cfg.Checks {
		if cc.Name == check {
			c = cc
		}
	}
	for _, ch := range results {
		st := map[rune]probe.Status{'u': probe.StatusUp, 'd': probe.StatusDegraded, 'D': probe.StatusDown}[ch]
		r := probe.Result{Status: st, Start: f.clk.now(), Duration: 120 * time.Millisecond}
		if st == probe.StatusDown {
			r.Reason, r.Message = probe.ReasonStatus, "unexpected status 503 (want 2xx)"
		}
		f.eng.Record(context.Background(), c, r)
		f.clk.add(10 * time.Second)
	}
	f.eng.flush(context.Background())
}

func (f *fixture) state(t *testing.T) incident.State {
	t.Helper()
	st, err := f.store.Load(context.Background(), 50)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestEngineOpensJoinsAndResolves(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.feed("web-home", "u")
	f.feed("api-health", "u")
	if st := f.state(t); len(st.Incidents) != 0 || st.Components["web"].Status.Rank() > 0 {
		t.Fatalf("healthy start: %+v", st)
	}
	f.feed("web-home", "DD")
	st := f.state(t)
	if len(st.Incidents) != 1 || st.Incidents[0].Impact != incident.ImpactCritical {
		t.Fatalf("after web down: %+v", st.Incidents)
	}
	inc := st.Incidents[0]
	if want := time.Date(2026, 11, 21, 10, 0, 20, 0, time.UTC); !inc.StartedAt.Equal(want) {
		t.Errorf("started_at %v, want the first bad result %v", inc.StartedAt, want)
	}
	body := inc.Updates[0].Body
	for _, want := range []string{"Web App: major outage", "web-home", "unexpected status 503", "2 bad results in a row"} {
		if !strings.Contains(body, want) {
			t.Errorf("first update %q lacks %q", body, want)
		}
	}
	f.feed("api-health", "DD")
	if st := f.state(t); len(st.Incidents) != 1 || st.Incidents[0].Components["api"] != "partial_outage" {
		t.Fatalf("api did not join: %+v", st.Incidents)
	}
	f.feed("web-home", "uu")
	f.feed("api-health", "uu")
	if st := f.state(t); st.Incidents[0].Status != incident.Monitoring {
		t.Fatalf("status %s, want monitoring", st.Incidents[0].Status)
	}
	f.clk.add(5 * time.Minute)
	f.eng.tick(context.Background())
	if st := f.state(t); st.Incidents[0].Status != incident.Resolved {
		t.Fatalf("status %s, want resolved", st.Incidents[0].Status)
	}
	if got := testutil.ToFloat64(f.eng.m.opened); got != 1 {
		t.Errorf("opened_total = %v", got)
	}
	if got := testutil.ToFloat64(f.eng.m.resolved); got != 1 {
		t.Errorf("resolved_total = %v", got)
	}
}

// A component change that fails to reach the store is retried until it
// lands, and probing never blocks on the store.
func TestEngineRetriesWhenStoreIsDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.feed("web-home", "u")
	f.mr.SetError("LOADING Redis is loading the dataset in memory")
	f.feed("web-home", "DD")
	if got := storeErrors(t, f.reg, "publish_checks"); got < 1 {
		t.Errorf("store errors not counted: %v", got)
	}
	f.mr.SetError("")
	f.eng.flush(context.Background())
	if st := f.state(t); len(st.Incidents) != 1 {
		t.Fatalf("change lost while the store was down: %+v", st)
	}
}

func TestEngineMaintenanceOpensNoIncident(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := f.clk.now()
	cfg := *f.cfg
	cfg.Maintenance = []config.Maintenance{{Name: "db", Components: []string{"web"}, Start: now, End: now.Add(time.Hour)}}
	f.eng.Configure(&cfg)
	f.cfg = &cfg
	f.feed("web-home", "DDD")
	st := f.state(t)
	if len(st.Incidents) != 0 || st.Components["web"].Status != "under_maintenance" {
		t.Fatalf("maintenance: %+v", st)
	}
}

func TestConfigureForgetsRemovedChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.feed("web-home", "u")
	f.feed("api-health", "u")
	cfg := *f.cfg
	cfg.Checks = cfg.Checks[:1]
	f.eng.Configure(&cfg)
	n, err := testutil.GatherAndCount(f.reg, "tocsin_probe_success")
	if err != nil || n != 1 {
		t.Errorf("probe_success series after removing a check: %d (%v), want 1", n, err)
	}
}

// storeErrors reads tocsin_store_errors_total{operation=op}.
func storeErrors(t *testing.T, reg *prometheus.Registry, op string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "tocsin_store_errors_total" && m.GetLabel()[0].GetValue() == op {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatal("tocsin_store_errors_total not found")
	return 0
}

// A store that lost its data (Redis restarted without persistence, or was
// flushed) is repopulated at the next pass once the ownership manager has
// the grants back and says so (StoreReset), not at the periodic resync.
func TestEngineRepopulatesAStoreThatLostItsData(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.feed("web-home", "uDD")
	if len(f.state(t).Incidents) != 1 {
		t.Fatal("no incident")
	}
	f.mr.FlushAll()
	// The manager re-claims what it held (Continue: the state here is the
	// latest there is) and reports the reset.
	var acq []ownership.Acquired
	for _, g := range ownertest.Claim(t, f.store, "r1", "web", "api") {
		acq = append(acq, ownership.Acquired{Grant: g, Continue: true})
	}
	f.eng.StoreReset()
	f.eng.Adopt(context.Background(), acq)
	f.eng.flush(context.Background())
	if st := f.state(t); len(st.Incidents) != 1 || st.Components["web"].Status != "major_outage" {
		t.Fatalf("after the reset: %+v", st)
	}
	ch, err := f.store.ChecksSince(context.Background(), 0, 100)
	if err != nil || len(ch.Checks) != 2 {
		t.Fatalf("check states published again: %+v, %v", ch, err)
	}
}

// A write the store rejects as stale (another replica owns the component
// now) drops the component here at once: no more results, states or
// observations for it, and the ownership manager is told.
func TestEngineDropsAFencedComponent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var told []string
	eng, err := New(Options{Store: f.store, Checks: f.store, Member: "r1", Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler), Now: f.clk.now,
		OnFenced: func(c string, _ ownership.Fence) { told = append(told, c) }})
	if err != nil {
		t.Fatal(err)
	}
	eng.Configure(f.cfg)
	f.own(eng, "r1", "web", "api")
	f.eng = eng
	f.feed("web-home", "u")
	ownertest.Claim(t, f.store, "r2", "web") // r2 takes web over
	f.feed("web-home", "DD")
	if len(told) != 1 || told[0] != "web" {
		t.Fatalf("OnFenced calls %v, want [web]", told)
	}
	if st := f.state(t); len(st.Incidents) != 0 || st.Components["web"].Status.Rank() > 0 {
		t.Fatalf("a fenced replica changed the state: %+v", st)
	}
	f.feed("web-home", "DD")
	if len(told) != 1 {
		t.Errorf("OnFenced calls after the drop: %v", told)
	}
	if n, _ := testutil.GatherAndCount(f.reg, "tocsin_probe_success"); n != 0 {
		t.Errorf("series of a dropped component's check: %d", n)
	}
}

// A component removed from the config while its incident is open is
// reported operational ("removed from monitoring"), so the incident can end.
func TestRemovedComponentEndsItsIncident(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.feed("api-health", "uDD")
	cfg := *f.cfg
	cfg.Components, cfg.Checks = cfg.Components[:1], cfg.Checks[:1]
	f.eng.Configure(&cfg)
	f.eng.flush(context.Background())
	st := f.state(t)
	if len(st.Incidents) != 1 || st.Incidents[0].Status != incident.Monitoring {
		t.Fatalf("after removing api: %+v", st.Incidents)
	}
	if body := st.Incidents[0].Updates[len(st.Incidents[0].Updates)-1].Body; !strings.Contains(body, "API was removed from monitoring") {
		t.Errorf("last update %q", body)
	}
	// A late result of the removed check changes nothing, not even metrics.
	f.eng.Record(context.Background(), f.cfg.Checks[1], probe.Result{Status: probe.StatusDown})
	if n, _ := testutil.GatherAndCount(f.reg, "tocsin_probe_success"); n != 0 {
		t.Errorf("late result of a removed check recreated its series: %d", n)
	}
}

// A component removed while tocsin was not running is found in the store at
// start and retired the same way.
func TestComponentRemovedWhileDownIsSwept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.feed("api-health", "uDD")
	// The first process is gone (it left the membership); a new one's
	// config no longer has api.
	if _, err := f.store.Lease(context.Background(), ownership.LeaseRequest{Member: "r1", Leave: true, Epoch: -1}); err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{Store: f.store, Checks: f.store, Member: "r2", Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler), Now: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := *f.cfg
	cfg.Components, cfg.Checks = cfg.Components[:1], cfg.Checks[:1]
	eng.Configure(&cfg)
	eng.flush(context.Background())
	if st := f.state(t); st.Incidents[0].Status != incident.Monitoring {
		t.Fatalf("incident of a component removed while down: %s", st.Incidents[0].Status)
	}
}

func TestPhaseHistogramHasOnlyKnownPhases(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := probe.Result{Status: probe.StatusUp, Phases: []probe.Phase{
		{Name: "connect", Duration: time.Millisecond}, {Name: "banner", Duration: 2 * time.Millisecond},
		{Name: "something-unbounded-/x?y", Duration: time.Millisecond},
	}}
	f.eng.Record(context.Background(), f.cfg.Checks[0], r)
	// By type and phase: total, connect and banner.
	if n, err := testutil.GatherAndCount(f.reg, "tocsin_probe_latency_seconds"); err != nil || n != 3 {
		t.Errorf("latency series = %d (%v), want 3", n, err)
	}
	if n, err := testutil.GatherAndCount(f.reg, "tocsin_probe_phase_duration_seconds"); err != nil || n != 0 {
		t.Errorf("per-check phase series without the opt-in = %d (%v), want 0", n, err)
	}
	cfg := *f.cfg
	cfg.Metrics.PerCheckHistograms = true
	f.eng.Configure(&cfg)
	f.eng.Record(context.Background(), f.cfg.Checks[0], r)
	if n, err := testutil.GatherAndCount(f.reg, "tocsin_probe_phase_duration_seconds"); err != nil || n != 3 {
		t.Errorf("per-check phase series with the opt-in = %d (%v), want 3", n, err)
	}
	f.eng.Configure(f.cfg)
	if n, err := testutil.GatherAndCount(f.reg, "tocsin_probe_phase_duration_seconds"); err != nil || n != 0 {
		t.Errorf("per-check phase series once the opt-in is off = %d (%v), want 0", n, err)
	}
}

// TestSeriesPerCheckAreBounded: whatever a check has seen (every verdict,
// every phase) it has at most docs/metrics.md's ten series, plus the three queue
// gauges for a queue check, and one more while a TLS certificate is inside
// its warning window.
func TestSeriesPerCheckAreBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := *f.cfg
	cfg.Checks = slices.Clone(cfg.Checks)
	cfg.Checks[0].HTTP = &config.HTTPCheck{URL: "https://web.test/", TLS: config.TLS{CertExpiryWarning: 14 * 24 * time.Hour}}
	cfg.Checks[1].Type = "queue"
	f.eng.Configure(&cfg)
	phases := []probe.Phase{{Name: "dns"}, {Name: "connect"}, {Name: "tls"}, {Name: "first_byte"}}
	depth, age, rate := 10.0, time.Second, 1.0
	for _, st := range []probe.Status{probe.StatusUp, probe.StatusDegraded, probe.StatusDown, probe.StatusUp} {
		f.eng.Record(context.Background(), cfg.Checks[0], probe.Result{Status: st, Start: f.clk.now(), Phases: phases,
			CertNotAfter: f.clk.now().Add(time.Hour)})
		f.eng.Record(context.Background(), cfg.Checks[1], probe.Result{Status: st, Start: f.clk.now(), Phases: phases,
			Queue: &probe.QueueStats{Depth: depth, OldestAge: &age, RatePerSecond: &rate}})
	}
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "check" {
					n := 1
					if h := m.GetHistogram(); h != nil {
						n = len(h.GetBucket()) + 3 // +Inf, _sum, _count
					}
					per[l.GetValue()] += n
				}
			}
		}
	}
	t.Logf("series per check: %v", per)
	// Ten, and the TLS check's certificate is inside its window: the
	// threshold is served then too (the shipped rule compares them).
	for check, max := range map[string]int{"web-home": 11, "api-health": 12} {
		if per[check] > max {
			t.Errorf("%s has %d series, want at most %d", check, per[check], max)
		}
	}
}

func TestEngineChildOfFailingParentJoinsItsIncident(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := *f.cfg
	cfg.Components = []config.Component{{ID: "web", Name: "Web App", DependsOn: []string{"api"}}, {ID: "api", Name: "API"}}
	f.cfg = &cfg
	f.eng.Configure(f.cfg)
	f.feed("web-home", "u")
	f.feed("api-health", "DD")
	st := f.state(t)
	if len(st.Incidents) != 1 {
		t.Fatalf("after api down: %+v", st.Incidents)
	}
	parent := st.Incidents[0].ID
	f.clk.add(20 * time.Minute) // beyond the group window

	down := probe.Result{Status: probe.StatusDown, Reason: probe.ReasonStatus, Message: "unexpected status 503 (want 2xx)"}
	for range 2 {
		down.Start = f.clk.now()
		f.eng.Record(context.Background(), f.cfg.Checks[0], down)
		f.clk.add(10 * time.Second)
	}
	var web *incident.Observation
	for _, o := range f.eng.pending() {
		if o.Component == "web" {
			web = &o
		}
	}
	if web == nil || strings.Join(web.Parents, ",") != "api" {
		t.Fatalf("pending web observation = %+v, want parents [api]", web)
	}

	f.eng.flush(context.Background())
	st = f.state(t)
	if len(st.Incidents) != 1 || st.Incidents[0].ID != parent || st.Incidents[0].Components["web"] != "major_outage" {
		t.Fatalf("web did not join the parent's incident %s: %+v", parent, st.Incidents)
	}
	ups := st.Incidents[0].Updates
	if body := ups[len(ups)-1].Body; !strings.HasSuffix(body, " This is likely caused by API, which is partial outage.") {
		t.Errorf("join update %q does not name the parent", body)
	}
}

func TestEngineParentsFirst(t *testing.T) {
	t.Parallel()
	cs := []config.Component{
		{ID: "web", DependsOn: []string{"api"}},
		{ID: "mail"},
		{ID: "api", DependsOn: []string{"db"}},
		{ID: "db"},
	}
	var got []string
	for _, c := range parentsFirst(cs) {
		got = append(got, c.ID)
	}
	if strings.Join(got, ",") != "db,api,web,mail" {
		t.Errorf("parentsFirst = %v, want db,api,web,mail", got)
	}
}

// TestEngineTellsOfExpiringCertificates: a result whose certificate
// expires within the check's cert_expiry_warning is passed on, for the
// private warning; one further away is not.
func TestEngineTellsOfExpiringCertificates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var got []time.Time
	eng, err := New(Options{Store: f.store, Checks: f.store, Member: "r1", Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler), Now: f.clk.now,
		OnCertWarning: func(_ config.Check, notAfter time.Time) { got = append(got, notAfter) }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := *f.cfg
	cfg.Checks = slices.Clone(cfg.Checks)
	cfg.Checks[0].HTTP = &config.HTTPCheck{TLS: config.TLS{CertExpiryWarning: 14 * 24 * time.Hour}}
	eng.Configure(&cfg)
	f.own(eng, "r1", "web", "api")
	soon, later := f.clk.now().Add(3*24*time.Hour), f.clk.now().Add(60*24*time.Hour)
	for _, na := range []time.Time{later, soon} {
		eng.Record(context.Background(), cfg.Checks[0], probe.Result{Status: probe.StatusUp, Start: f.clk.now(), CertNotAfter: na})
	}
	if len(got) != 1 || !got[0].Equal(soon) {
		t.Errorf("warned of %v, want only %v", got, soon)
	}
}
