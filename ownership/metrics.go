package ownership

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	members prometheus.Gauge
	owned   prometheus.Gauge
	rounds  *prometheus.CounterVec
	fenced  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_ownership_members", Help: "Live replicas in the membership, as this replica's last lease round saw them.",
		}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_owned_components", Help: "Components this replica owns (probes and publishes).",
		}),
		rounds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_lease_rounds_total", Help: "Membership lease rounds by result.",
		}, []string{"result"}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_ownership_fenced_total", Help: "Grants this replica found stale when a write of its was rejected.",
		}),
	}
	m.rounds.WithLabelValues("success")
	m.rounds.WithLabelValues("failure")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.members, m.owned, m.rounds, m.fenced} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ownership: register metrics: %w", err)
		}
	}
	return m, nil
}
