package schedule

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsOnTheGivenRegisterer: the bound's series exist from the
// start, on the registerer New is given, with the bound itself; a second
// scheduler on the same registerer is an error, not a panic.
func TestMetricsOnTheGivenRegisterer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s, err := New(nil, reg, slog.New(slog.DiscardHandler), time.Second, 250)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	want := `
# HELP tocsin_probes_in_flight Probes running now; at most scheduler.max_in_flight.
# TYPE tocsin_probes_in_flight gauge
tocsin_probes_in_flight 0
# HELP tocsin_scheduler_delayed_runs_total Runs that waited for a free slot because scheduler.max_in_flight probes were running.
# TYPE tocsin_scheduler_delayed_runs_total counter
tocsin_scheduler_delayed_runs_total 0
# HELP tocsin_scheduler_max_in_flight The bound on probes in flight (scheduler.max_in_flight).
# TYPE tocsin_scheduler_max_in_flight gauge
tocsin_scheduler_max_in_flight 250
# HELP tocsin_scheduler_skipped_runs_total Runs skipped because the check's previous run was still waiting or in flight.
# TYPE tocsin_scheduler_skipped_runs_total counter
tocsin_scheduler_skipped_runs_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"tocsin_probes_in_flight", "tocsin_scheduler_delayed_runs_total",
		"tocsin_scheduler_max_in_flight", "tocsin_scheduler_skipped_runs_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "tocsin_scheduler_lag_seconds"); err != nil || n != 1 {
		t.Errorf("tocsin_scheduler_lag_seconds: %d series, %v", n, err)
	}
	var already prometheus.AlreadyRegisteredError
	if _, err := New(nil, reg, slog.New(slog.DiscardHandler), time.Second, 1); !errors.As(err, &already) {
		t.Errorf("second scheduler on one registerer: %v, want an AlreadyRegisteredError", err)
	}
	if _, err := New(nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), time.Second, 0); err == nil {
		t.Error("a bound of 0 was accepted")
	}
}
