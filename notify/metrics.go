package notify

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a delivery attempt (tocsin_notifications_total's result).
const (
	resultDelivered     = "delivered"
	resultFailed        = "failed"        // retried
	resultMisconfigured = "misconfigured" // 401, 403, 404: retried, capped
	resultPermanent     = "permanent"     // not retried
)

type metrics struct {
	total    *prometheus.CounterVec
	backlog  *prometheus.GaugeVec
	delivery *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_notifications_total",
			Help: "Notification delivery attempts by receiver and result (delivered, failed, misconfigured, permanent).",
		}, []string{"receiver", "result"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_notification_backlog",
			Help: "Notifications queued for a receiver and not delivered yet (the same on every replica: read from Redis).",
		}, []string{"receiver"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tocsin_notification_delivery_seconds",
			Help:    "From an event's queueing to its acknowledged delivery.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"receiver"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.total, m.backlog, m.delivery} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("notify: register metrics: %w", err)
		}
	}
	return m, nil
}

// touch creates a receiver's series, so they exist before the first event.
func (m *metrics) touch(receiver string) {
	for _, r := range []string{resultDelivered, resultFailed, resultMisconfigured, resultPermanent} {
		m.total.WithLabelValues(receiver, r)
	}
	m.backlog.WithLabelValues(receiver)
}

// forget deletes a removed receiver's series.
func (m *metrics) forget(receiver string) {
	l := prometheus.Labels{"receiver": receiver}
	m.total.DeletePartialMatch(l)
	m.backlog.DeletePartialMatch(l)
	m.delivery.DeletePartialMatch(l)
}
