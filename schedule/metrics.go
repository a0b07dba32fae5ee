package schedule

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scheduler's series, registered on the Registerer given
// to New. None has a per-check label: at 50,000 checks they stay a handful
// of series.
type metrics struct {
	lag      prometheus.Histogram
	inFlight prometheus.Gauge
	delayed  prometheus.Counter
	skipped  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, maxInFlight int) (metrics, error) {
	m := metrics{
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tocsin_scheduler_lag_seconds",
			Help:    "How late a probe started compared with its schedule, waiting for a free slot (scheduler.max_in_flight) included.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 5, 10},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_probes_in_flight",
			Help: "Probes running now; at most scheduler.max_in_flight.",
		}),
		delayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_scheduler_delayed_runs_total",
			Help: "Runs that waited for a free slot because scheduler.max_in_flight probes were running.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_scheduler_skipped_runs_total",
			Help: "Runs skipped because the check's previous run was still waiting or in flight.",
		}),
	}
	limit := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tocsin_scheduler_max_in_flight",
		Help: "The bound on probes in flight (scheduler.max_in_flight).",
	})
	limit.Set(float64(maxInFlight))
	all := []prometheus.Collector{m.lag, m.inFlight, m.delayed, m.skipped, limit}
	for i, c := range all {
		if err := reg.Register(c); err != nil {
			// Leave the registerer as it was: a caller may retry.
			for _, done := range all[:i] {
				reg.Unregister(done)
			}
			return metrics{}, fmt.Errorf("schedule: register metrics: %w", err)
		}
	}
	return m, nil
}
