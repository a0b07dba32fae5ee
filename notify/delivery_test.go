package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/ownertest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/internal/testport"
	"github.com/tocsin/tocsin/notify"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
)

// flaky is a local receiver for webhooks (/hook) and PagerDuty (/v2/enqueue)
// that can be down (nothing listening), fail (an HTTP status, with a
// Retry-After) or up; it records what it took, in order.
type flaky struct {
	addr string

	mu       sync.Mutex
	srv      *http.Server
	code     int
	after    string
	attempts int
	keys     []string          // X-Tocsin-Delivery of every webhook taken
	pd       []string          // "action:dedup_key:tocsin event" of every PagerDuty event taken
	pdState  map[string]string // dedup_key -> triggered | resolved
}

func newFlaky(t *testing.T) *flaky {
	t.Helper()
	ports, err := testport.Free(1)
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{addr: testport.HostPort(ports[0]), code: http.StatusOK, pdState: map[string]string{}}
	t.Cleanup(f.down)
	return f
}

func (f *flaky) url(path string) string { return "http://" + f.addr + path }

// up starts listening (again).
func (f *flaky) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours; a moment's TIME_WAIT or a racing test may hold it
		if ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on %s again: %v", f.addr, err)
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// down stops listening: connections are refused.
func (f *flaky) down() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (f *flaky) answer(code int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.code, f.after = code, retryAfter
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.code != http.StatusOK {
		if f.after != "" {
			w.Header().Set("Retry-After", f.after)
		}
		w.WriteHeader(f.code)
		return
	}
	switch r.URL.Path {
	case "/hook":
		f.keys = append(f.keys, r.Header.Get("X-Tocsin-Delivery"))
	case "/v2/enqueue":
		var ev struct {
			Action  string `json:"event_action"`
			Key     string `json:"dedup_key"`
			Payload struct {
				Details struct {
					Event string `json:"tocsin_event"`
				} `json:"custom_details"`
			} `json:"payload"`
		}
		_ = json.Unmarshal(body, &ev)
		f.pd = append(f.pd, ev.Action+":"+ev.Key+":"+ev.Payload.Details.Event)
		if ev.Action == "trigger" {
			f.pdState[ev.Key] = "triggered"
		} else if _, ok := f.pdState[ev.Key]; ok {
			f.pdState[ev.Key] = "resolved"
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (f *flaky) got() (keys, pd []string, state map[string]string, attempts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := make(map[string]string, len(f.pdState))
	for k, v := range f.pdState {
		st[k] = v
	}
	return slices.Clone(f.keys), slices.Clone(f.pd), st, f.attempts
}

// deliveryEnv is a store on a real redis-server, a replica's dispatcher
// owning every receiver of cfg, and the replica's component grants.
type deliveryEnv struct {
	t     *testing.T
	ctx   context.Context
	store *redisstore.Store
	reg   *prometheus.Registry
	d     *notify.Dispatcher
	cfg   *config.Config
	web   ownership.Fence
}

func newDeliveryEnv(t *testing.T, receivers ...config.Receiver) *deliveryEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store := redisstore.New(redistest.Start(t).Client(t), "n:")
	reg := prometheus.NewRegistry()
	d, err := notify.New(notify.Options{Outbox: store, Member: "r1", Version: "test", Registry: reg,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range receivers {
		r := &receivers[i]
		r.MinImpact = "none"
		r.Timeout, r.RetryMin, r.RetryMax = 2*time.Second, 50*time.Millisecond, 300*time.Millisecond
	}
	cfg := &config.Config{Page: config.Page{Name: "Acme", URL: "https://status.acme.example"},
		Components: []config.Component{{ID: "web", Name: "Web App"}}, Notify: receivers}
	store.SetReceivers(notify.Filters(cfg))
	if err := d.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	names := notify.Receivers(cfg)
	grants := ownertest.Claim(t, store, "r1", append(names, "web")...)
	for _, r := range cfg.Notify {
		d.Own(r.Name, grants[notify.OwnerPrefix+r.Name].Fence)
	}
	t.Cleanup(d.Stop)
	go func() { _ = d.Run(ctx) }()
	return &deliveryEnv{t: t, ctx: ctx, store: store, reg: reg, d: d, cfg: cfg, web: grants["web"].Fence}
}

var policy = incident.Policy{GroupWindow: time.Hour, ResolveAfter: time.Minute, ReopenWindow: time.Hour, Retention: time.Hour}

// observe writes web's status at t0+off, as its owner would.
func (e *deliveryEnv) observe(off time.Duration, s detector.ComponentStatus) {
	e.t.Helper()
	_, err := e.store.Observe(e.ctx, incident.Observation{Component: "web", ComponentName: "Web App", Status: s,
		At: t0.Add(off), Body: "Web App is " + s.Label() + ".", NewID: "inc1", Policy: policy, Fence: e.web})
	if err != nil {
		e.t.Fatal(err)
	}
	e.d.Poke()
}

func (e *deliveryEnv) tick(off time.Duration) {
	e.t.Helper()
	if _, err := e.store.Tick(e.ctx, incident.TickRequest{Now: t0.Add(off), Policy: policy,
		ResolvedBody: "Resolved.", Member: "r1"}); err != nil {
		e.t.Fatal(err)
	}
	e.d.Poke()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeliveryOutlastsAReceiverOutage (issue 12, acceptance 2): the
// receiver refuses connections, then answers 503, then 429 with
// Retry-After, across an incident's open, update and resolve. Once it is
// back every event arrives, in order, each idempotency key at least once,
// and PagerDuty's dedup leaves one incident, triggered then resolved.
func TestDeliveryOutlastsAReceiverOutage(t *testing.T) {
	t.Parallel()
	rcv := newFlaky(t)
	e := newDeliveryEnv(t,
		config.Receiver{Name: "hooks", Type: config.ReceiverWebhook, URL: config.Secret(rcv.url("/hook"))},
		config.Receiver{Name: "oncall", Type: config.ReceiverPagerDuty, URL: config.Secret(rcv.url("/v2/enqueue")),
			RoutingKey: "routing-key-0123456789"})
	failed := func(n float64) func() bool {
		return func() bool { return testutil.ToFloat64(counter(t, e.reg, "hooks", "failed")) >= n }
	}
	e.observe(0, detector.DegradedPerformance) // opened, minor
	waitFor(t, "an attempt refused", failed(1))
	rcv.up(t)
	rcv.answer(http.StatusServiceUnavailable, "")
	e.observe(time.Minute, detector.MajorOutage) // updated, impact minor -> critical
	before := testutil.ToFloat64(counter(t, e.reg, "hooks", "failed"))
	waitFor(t, "an attempt answered 503", failed(before+1))
	rcv.answer(http.StatusTooManyRequests, "1")
	e.observe(2*time.Minute, detector.Operational) // monitoring
	e.tick(10 * time.Minute)                       // resolved
	before = testutil.ToFloat64(counter(t, e.reg, "hooks", "failed"))
	waitFor(t, "an attempt answered 429", failed(before+1))
	rcv.answer(http.StatusOK, "")

	want := []string{"inc1:inc1u1", "inc1:inc1u2", "inc1:inc1u3", "inc1:inc1u4"}
	waitFor(t, "every webhook delivered", func() bool { k, _, _, _ := rcv.got(); return len(k) >= len(want) })
	waitFor(t, "PagerDuty resolved", func() bool { _, _, st, _ := rcv.got(); return st["inc1"] == "resolved" })
	keys, pd, state, _ := rcv.got()
	if !slices.Equal(slices.Compact(slices.Clone(keys)), want) {
		t.Errorf("webhook deliveries %v, want each of %v, in order", keys, want)
	}
	if len(state) != 1 || !slices.Equal(slices.Compact(slices.Clone(pd)), []string{"trigger:inc1:opened", "trigger:inc1:updated", "resolve:inc1:"}) {
		t.Errorf("PagerDuty saw %v, incidents %v; want trigger (open), trigger (impact up), resolve", pd, state)
	}
	waitFor(t, "the backlog gone", func() bool {
		b, _ := e.store.OutboxBacklog(e.ctx)
		return b["hooks"] == 0 && b["oncall"] == 0
	})
	// Each delivery's time from queueing to acknowledgement is observed.
	if n := testutil.CollectAndCount(e.reg, "tocsin_notification_delivery_seconds"); n != 2 {
		t.Errorf("delivery time series: %d, want one per receiver", n)
	}
}

// counter returns tocsin_notifications_total{receiver,result}.
func counter(t *testing.T, reg *prometheus.Registry, receiver, result string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tocsin_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			if ls["receiver"] == receiver && ls["result"] == result {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 {
					return m.GetCounter().GetValue()
				})
			}
		}
	}
	t.Fatalf("no tocsin_notifications_total{receiver=%q,result=%q}", receiver, result)
	return nil
}

// TestPermanentAndMisconfigured (acceptance 4): a 400 is not retried and
// counts as permanent, and the next event goes out; a 401 keeps the event
// in the backlog, which the gauge shows.
func TestPermanentAndMisconfigured(t *testing.T) {
	t.Parallel()
	rcv := newFlaky(t)
	rcv.up(t)
	rcv.answer(http.StatusBadRequest, "")
	e := newDeliveryEnv(t, config.Receiver{Name: "hooks", Type: config.ReceiverWebhook, URL: config.Secret(rcv.url("/hook"))})
	e.observe(0, detector.MajorOutage)
	waitFor(t, "a permanent failure counted", func() bool {
		return testutil.ToFloat64(counter(t, e.reg, "hooks", "permanent")) == 1
	})
	_, _, _, n := rcv.got()
	rcv.answer(http.StatusOK, "")
	e.observe(time.Minute, detector.Operational)
	waitFor(t, "the next event delivered", func() bool { k, _, _, _ := rcv.got(); return len(k) == 1 })
	if k, _, _, m := rcv.got(); k[0] != "inc1:inc1u2" || m != n+1 {
		t.Errorf("after a 400: delivered %v in %d more attempts; want only the next event, once", k, m-n)
	}

	rcv.answer(http.StatusUnauthorized, "")
	e.tick(10 * time.Minute)
	waitFor(t, "the backlog gauge shows the refused event", func() bool {
		return testutil.ToFloat64(gauge(t, e.reg, "hooks")) == 1
	})
	waitFor(t, "retried, counted misconfigured", func() bool {
		return testutil.ToFloat64(counter(t, e.reg, "hooks", "misconfigured")) >= 2
	})
	rcv.answer(http.StatusOK, "")
	waitFor(t, "delivered once the key is fixed", func() bool { k, _, _, _ := rcv.got(); return len(k) == 2 })
}

// gauge returns tocsin_notification_backlog{receiver}.
func gauge(t *testing.T, reg *prometheus.Registry, receiver string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tocsin_notification_backlog" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == receiver {
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x", Help: "x"}, func() float64 {
					return m.GetGauge().GetValue()
				})
			}
		}
	}
	t.Fatalf("no tocsin_notification_backlog{receiver=%q}", receiver)
	return nil
}

// TestReminders (acceptance 5): repeat_every sends reminders while the
// incident stays open and stops once it is resolved.
func TestReminders(t *testing.T) {
	t.Parallel()
	rcv := newFlaky(t)
	rcv.up(t)
	e := newDeliveryEnv(t, config.Receiver{Name: "hooks", Type: config.ReceiverWebhook, URL: config.Secret(rcv.url("/hook")),
		RepeatEvery: time.Second})
	e.observe(0, detector.MajorOutage)
	waitFor(t, "two reminders", func() bool {
		k, _, _, _ := rcv.got()
		return strings.Count(strings.Join(k, " "), ":reminder:") >= 2
	})
	e.observe(time.Minute, detector.Operational)
	e.tick(10 * time.Minute)
	waitFor(t, "the resolve delivered", func() bool {
		k, _, _, _ := rcv.got()
		return slices.Contains(k, "inc1:inc1u3")
	})
	k, _, _, _ := rcv.got()
	stopped := time.Now()
	waitFor(t, "two reminder periods after the resolve", func() bool { return time.Since(stopped) > 2500*time.Millisecond })
	if k2, _, _, _ := rcv.got(); len(k2) != len(k) {
		t.Errorf("after the resolve: %v", k2[len(k):])
	}
}
