package heartbeat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// TestProberEndToEnd drives a heartbeat check through the HTTP API into a
// real Redis and judges it with probe.Heartbeat, time injected.
func TestProberEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := config.HeartbeatCheck{Period: time.Minute, Grace: 30 * time.Second}
	p, err := probe.NewHeartbeat("job", cfg, probe.Options{Beats: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Touch(t.Context(), "job", t0); err != nil {
		t.Fatal(err)
	}
	post := func(path string) {
		t.Helper()
		if code, body, _ := f.do(t, "POST", "/api/v1/heartbeats/job"+path, nil); code != 200 {
			t.Fatalf("POST %s = %d %s", path, code, body)
		}
	}
	expect := func(step string, st probe.Status, r probe.Reason, msg string) {
		t.Helper()
		res := p.Probe(t.Context())
		if res.Status != st || res.Reason != r || !strings.Contains(res.Message, msg) {
			t.Errorf("%s: %s %q %q; want %s %q containing %q", step, res.Status, res.Reason, res.Message, st, r, msg)
		}
		if !res.Start.Equal(f.clock.Now()) {
			t.Errorf("%s: Start = %s, want the injected now %s", step, res.Start, f.clock.Now())
		}
	}

	f.clock.Set(at(30 * time.Second))
	expect("new", probe.StatusUp, probe.ReasonNone, "waiting for the first heartbeat")
	f.clock.Set(at(91 * time.Second))
	expect("never beat", probe.StatusDown, probe.ReasonMissed, "no heartbeat since monitoring began at 12:00:00 UTC")

	f.clock.Set(at(2 * time.Minute))
	post("")
	f.clock.Set(at(2*time.Minute + 10*time.Second))
	expect("beat", probe.StatusUp, probe.ReasonNone, "last heartbeat 10s ago")
	f.clock.Set(at(3*time.Minute + 30*time.Second))
	expect("at period+grace", probe.StatusUp, probe.ReasonNone, "last heartbeat 1m30s ago")
	f.clock.Set(at(5*time.Minute + 10*time.Second))
	expect("silence", probe.StatusDown, probe.ReasonMissed, "last heartbeat 3m10s ago, expected every 1m (+30s grace)")

	post("/fail")
	expect("fail", probe.StatusDown, probe.ReasonFail, "the job reported failure at 12:05:10 UTC")
	f.clock.Set(at(6 * time.Minute))
	post("")
	expect("success after fail", probe.StatusUp, probe.ReasonNone, "last heartbeat 0s ago")

	f.clock.Set(at(6*time.Minute + 50*time.Second))
	post("/start")
	f.clock.Set(at(7*time.Minute + 20*time.Second))
	expect("running", probe.StatusUp, probe.ReasonNone, "running since 12:06:50 UTC")
	f.clock.Set(at(7*time.Minute + 21*time.Second))
	expect("run never finished", probe.StatusDown, probe.ReasonMissed, "run started at 12:06:50 UTC never finished")
	f.clock.Set(at(7*time.Minute + 25*time.Second))
	post("")
	expect("finished late", probe.StatusUp, probe.ReasonNone, "last heartbeat 0s ago")

	// Redis goes away: the verdict holds, it does not turn into "missed".
	f.redis.Stop()
	f.clock.Set(at(time.Hour))
	expect("store down", probe.StatusUp, probe.ReasonNone, "heartbeat store unreachable (connect: ")
}

// TestProberStoreDownKeepsFailure: an outage does not clear a failure either.
func TestProberStoreDownKeepsFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p, err := probe.NewHeartbeat("job", config.HeartbeatCheck{Period: time.Minute, Grace: 30 * time.Second},
		probe.Options{Beats: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := f.do(t, "POST", "/api/v1/heartbeats/job/fail", nil); code != 200 {
		t.Fatalf("POST /fail = %d %s", code, body)
	}
	if res := p.Probe(t.Context()); res.Status != probe.StatusDown || res.Reason != probe.ReasonFail {
		t.Fatalf("after fail: %+v", res)
	}
	f.redis.Stop()
	res := p.Probe(t.Context())
	if res.Status != probe.StatusDown || res.Reason != probe.ReasonFail ||
		!strings.HasSuffix(res.Message, "; last known at 12:00:00 UTC: the job reported failure at 12:00:00 UTC") {
		t.Errorf("store down after fail: %+v", res)
	}
}
