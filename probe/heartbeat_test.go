package probe

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
)

func TestEvalHeartbeat(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	cfg := config.HeartbeatCheck{Period: time.Minute, Grace: 30 * time.Second}
	tests := []struct {
		name   string
		b      Beats
		now    time.Duration
		status Status
		reason Reason
		msg    string
	}{
		{"new, waiting", Beats{FirstSeen: at(0)}, 10 * time.Second,
			StatusUp, ReasonNone, "waiting for the first heartbeat"},
		{"new, at period+grace", Beats{FirstSeen: at(0)}, 90 * time.Second,
			StatusUp, ReasonNone, "waiting for the first heartbeat"},
		{"new, never beat", Beats{FirstSeen: at(0)}, 90*time.Second + time.Millisecond,
			StatusDown, ReasonMissed, "no heartbeat since monitoring began at 12:00:00 UTC, expected every 1m (+30s grace)"},
		{"no first_seen, nothing known", Beats{}, time.Hour,
			StatusUp, ReasonNone, "waiting for the first heartbeat"},
		{"on time", Beats{FirstSeen: at(0), LastSuccess: at(time.Minute)}, 100 * time.Second,
			StatusUp, ReasonNone, "last heartbeat 40s ago"},
		{"success at period+grace", Beats{FirstSeen: at(0), LastSuccess: at(0)}, 90 * time.Second,
			StatusUp, ReasonNone, "last heartbeat 1m30s ago"},
		{"late", Beats{FirstSeen: at(0), LastSuccess: at(0)}, 3*time.Minute + 10*time.Second,
			StatusDown, ReasonMissed, "last heartbeat 3m10s ago, expected every 1m (+30s grace)"},
		{"late just past", Beats{LastSuccess: at(0)}, 90*time.Second + time.Millisecond,
			StatusDown, ReasonMissed, "last heartbeat 1m30s ago, expected every 1m (+30s grace)"},
		{"success from a clock ahead", Beats{LastSuccess: at(time.Second)}, 0,
			StatusUp, ReasonNone, "last heartbeat 0s ago"},
		{"fail after success", Beats{FirstSeen: at(0), LastSuccess: at(0), LastFail: at(5 * time.Second)}, 10 * time.Second,
			StatusDown, ReasonFail, "the job reported failure at 12:00:05 UTC"},
		{"fail, never a success", Beats{FirstSeen: at(0), LastFail: at(time.Second)}, 2 * time.Second,
			StatusDown, ReasonFail, "the job reported failure at 12:00:01 UTC"},
		{"fail and success in the same ms", Beats{LastSuccess: at(time.Second), LastFail: at(time.Second)}, 2 * time.Second,
			StatusDown, ReasonFail, "the job reported failure at 12:00:01 UTC"},
		{"success after fail", Beats{LastSuccess: at(2 * time.Second), LastFail: at(time.Second)}, 3 * time.Second,
			StatusUp, ReasonNone, "last heartbeat 1s ago"},
		{"fail stays after a new start", Beats{LastSuccess: at(0), LastFail: at(time.Second), LastStart: at(2 * time.Second)}, 3 * time.Second,
			StatusDown, ReasonFail, "the job reported failure at 12:00:01 UTC"},
		{"fail days ago shows the date", Beats{LastFail: at(0)}, 50 * time.Hour,
			StatusDown, ReasonFail, "the job reported failure at 2026-03-01 12:00:00 UTC"},
		{"running", Beats{LastSuccess: at(0), LastStart: at(time.Minute)}, 80 * time.Second,
			StatusUp, ReasonNone, "running since 12:01:00 UTC"},
		{"running at grace", Beats{LastSuccess: at(0), LastStart: at(time.Minute)}, 90 * time.Second,
			StatusUp, ReasonNone, "running since 12:01:00 UTC"},
		{"running past the period deadline", Beats{LastSuccess: at(0), LastStart: at(80 * time.Second)}, 100 * time.Second,
			StatusUp, ReasonNone, "running since 12:01:20 UTC"},
		{"run never finished", Beats{LastSuccess: at(0), LastStart: at(time.Minute)}, 90*time.Second + time.Millisecond,
			StatusDown, ReasonMissed, "run started at 12:01:00 UTC never finished (no report within the 30s grace)"},
		{"first run never finished", Beats{FirstSeen: at(0), LastStart: at(10 * time.Second)}, 41 * time.Second,
			StatusDown, ReasonMissed, "run started at 12:00:10 UTC never finished (no report within the 30s grace)"},
		{"first run running", Beats{FirstSeen: at(0), LastStart: at(10 * time.Second)}, 20 * time.Second,
			StatusUp, ReasonNone, "running since 12:00:10 UTC"},
		{"start before success is done", Beats{LastSuccess: at(time.Minute), LastStart: at(50 * time.Second)}, 70 * time.Second,
			StatusUp, ReasonNone, "last heartbeat 10s ago"},
		{"start while already overdue", Beats{LastSuccess: at(0), LastStart: at(3 * time.Minute)}, 3*time.Minute + 5*time.Second,
			StatusDown, ReasonMissed, "last heartbeat 3m5s ago, expected every 1m (+30s grace); a run started at 12:03:00 UTC"},
		{"start while never beat and overdue", Beats{FirstSeen: at(0), LastStart: at(2 * time.Minute)}, 2*time.Minute + time.Second,
			StatusDown, ReasonMissed, "no heartbeat since monitoring began at 12:00:00 UTC, expected every 1m (+30s grace); a run started at 12:02:00 UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, r, msg := evalHeartbeat(tt.b, cfg, at(tt.now))
			if st != tt.status || r != tt.reason || msg != tt.msg {
				t.Errorf("evalHeartbeat = %s, %q, %q\nwant %s, %q, %q", st, r, msg, tt.status, tt.reason, tt.msg)
			}
		})
	}
}

func TestEvalHeartbeatZeroGrace(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := config.HeartbeatCheck{Period: time.Hour}
	b := Beats{LastSuccess: t0}
	if st, _, _ := evalHeartbeat(b, cfg, t0.Add(time.Hour)); st != StatusUp {
		t.Errorf("at the period: %s, want up", st)
	}
	if st, r, msg := evalHeartbeat(b, cfg, t0.Add(time.Hour+time.Second)); st != StatusDown || r != ReasonMissed ||
		msg != "last heartbeat 1h0m1s ago, expected every 1h (+0s grace)" {
		t.Errorf("past the period: %s %s %q", st, r, msg)
	}
}

func TestNewHeartbeatErrors(t *testing.T) {
	t.Parallel()
	reader := beatFunc(func(context.Context, string) (Beats, error) { return Beats{}, nil })
	tests := []struct {
		name  string
		check string
		c     config.HeartbeatCheck
		o     Options
		want  string
	}{
		{"no store", "job", config.HeartbeatCheck{Period: time.Minute}, Options{},
			"heartbeat: no beat store (Options.Beats)"},
		{"no name", "", config.HeartbeatCheck{Period: time.Minute}, Options{Beats: reader},
			"heartbeat: a check name is required"},
		{"bad timing", "job", config.HeartbeatCheck{Grace: -time.Second}, Options{Beats: reader},
			"heartbeat.period: must be positive\nheartbeat.grace: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewHeartbeat(tt.check, tt.c, tt.o)
			if err == nil || err.Error() != tt.want || h != nil {
				t.Errorf("NewHeartbeat = %v, %v; want error %q", h, err, tt.want)
			}
		})
	}
}

// beatFunc adapts a function to a BeatReader.
type beatFunc func(ctx context.Context, check string) (Beats, error)

func (f beatFunc) Beats(ctx context.Context, check string) (Beats, error) { return f(ctx, check) }

// TestHeartbeatStoreDown: a store that can't be read keeps the last verdict
// (or up) and says why; it never judges the job down by itself. The real
// Redis version of this is in package heartbeat.
func TestHeartbeatStoreDown(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var (
		mu    sync.Mutex
		now   = t0
		beats Beats
		fail  error
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(n time.Time, b Beats, err error) { mu.Lock(); defer mu.Unlock(); now, beats, fail = n, b, err }
	reader := beatFunc(func(_ context.Context, check string) (Beats, error) {
		mu.Lock()
		defer mu.Unlock()
		if check != "job" {
			t.Errorf("Beats(%q), want job", check)
		}
		return beats, fail
	})
	h, err := NewHeartbeat("job", config.HeartbeatCheck{Period: time.Minute, Grace: 30 * time.Second},
		Options{Beats: reader, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	refused := fmt.Errorf("heartbeat: read beats of \"job\": dial tcp 127.0.0.1:1: %w", syscall.ECONNREFUSED)

	set(t0, Beats{}, refused)
	res := h.Probe(t.Context())
	if res.Status != StatusUp || res.Reason != ReasonNone ||
		!strings.HasPrefix(res.Message, "heartbeat store unreachable (connect: connection refused)") || !strings.HasSuffix(res.Message, "; no beats read yet") {
		t.Errorf("store down before any read: %+v", res)
	}

	set(t0.Add(time.Minute), Beats{LastSuccess: t0.Add(-time.Hour)}, nil)
	res = h.Probe(t.Context())
	if res.Status != StatusDown || res.Reason != ReasonMissed {
		t.Fatalf("overdue: %+v", res)
	}
	missed := res.Message

	set(t0.Add(2*time.Minute), Beats{}, refused)
	res = h.Probe(t.Context())
	if res.Status != StatusDown || res.Reason != ReasonMissed || !strings.HasSuffix(res.Message, "; last known at 12:01:00 UTC: "+missed) {
		t.Errorf("store down keeps the last verdict: %+v", res)
	}

	set(t0.Add(3*time.Minute), Beats{LastSuccess: t0.Add(3 * time.Minute)}, nil)
	if res = h.Probe(t.Context()); res.Status != StatusUp {
		t.Fatalf("beat: %+v", res)
	}
	// Hours of outage later: still up, not "missed" because of tocsin's
	// own trouble.
	set(t0.Add(5*time.Hour), Beats{}, refused)
	if res = h.Probe(t.Context()); res.Status != StatusUp || res.Reason != ReasonNone {
		t.Errorf("long store outage: %+v", res)
	}
}

// TestHeartbeatFirstSeenFallback: a check the store knows nothing of is
// missed period + grace after the prober was built.
func TestHeartbeatFirstSeenFallback(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	reader := beatFunc(func(context.Context, string) (Beats, error) { return Beats{}, nil })
	h, err := NewHeartbeat("job", config.HeartbeatCheck{Period: time.Minute, Grace: 30 * time.Second},
		Options{Beats: reader, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	now = t0.Add(90 * time.Second)
	if res := h.Probe(t.Context()); res.Status != StatusUp || res.Message != "waiting for the first heartbeat" {
		t.Errorf("within period+grace: %+v", res)
	}
	now = t0.Add(91 * time.Second)
	res := h.Probe(t.Context())
	if res.Status != StatusDown || res.Reason != ReasonMissed || !strings.Contains(res.Message, "monitoring began at 12:00:00 UTC") {
		t.Errorf("past period+grace: %+v", res)
	}
}
