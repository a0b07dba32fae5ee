package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// BenchmarkDispatch50k is the scheduler's cost per run at 50,000 checks:
// a due job through gocron (its scheduler and executor loops, a goroutine
// of its own per run), dispatch (the busy flag), the bounded pool and a
// probe that returns at once, to the sink. Runs are gocron's RunNow, the
// executor path a timer takes; the intervals are an hour, so none runs on
// its own. At 50,000 checks every 30 s this happens ≈1,700 times a second.
func BenchmarkDispatch50k(b *testing.B) {
	const checks = 50000
	var done atomic.Int64
	sink := func(context.Context, config.Check, probe.Result) { done.Add(1) }
	s, err := New(sink, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), 2*time.Second, 10000)
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	b.Cleanup(func() { _ = s.Shutdown() })
	if err := s.Acquire([]string{"web"}, nil); err != nil {
		b.Fatal(err)
	}
	up := probe.ProberFunc(func(context.Context) probe.Result { return probe.Result{Status: probe.StatusUp} })
	jobs := make([]Job, checks)
	for i := range jobs {
		jobs[i] = Job{Check: check(fmt.Sprintf("c%05d", i), time.Hour, 5*time.Second), Prober: up}
	}
	if err := s.Reconcile(jobs); err != nil {
		b.Fatal(err)
	}
	all := s.cron.Jobs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// RunNow gives up after 100 ms when gocron's scheduler loop is
		// busy (a loaded machine): try again.
		for err := all[i%checks].RunNow(); err != nil; err = all[i%checks].RunNow() {
			if !errors.Is(err, gocron.ErrJobRunNowFailed) {
				b.Fatal(err)
			}
		}
	}
	// A run skipped because the check's last one had not returned (when
	// b.N wraps around the 50,000) was dispatched too.
	for done.Load()+int64(testutil.ToFloat64(s.m.skipped)) < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
}
