package status

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// Metrics exports what a snapshot shows: tocsin_component_status and
// tocsin_incidents_open.
type Metrics struct {
	componentStatus *componentCollector
	incidentsOpen   *prometheus.GaugeVec
}

// NewMetrics registers the status metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		componentStatus: &componentCollector{desc: prometheus.NewDesc("tocsin_component_status",
			"Component status shown on the status page: one series per status, 1 for the current one.",
			[]string{"component", "status"}, nil)},
		incidentsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_incidents_open",
			Help: "Unresolved incidents by impact.",
		}, []string{"impact"}),
	}
	for _, c := range []prometheus.Collector{m.componentStatus, m.incidentsOpen} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("status: register metrics: %w", err)
		}
	}
	for _, im := range incident.Impacts() {
		m.incidentsOpen.WithLabelValues(string(im)).Set(0)
	}
	return m, nil
}

// Update sets the gauges from a snapshot; a component it no longer has
// loses its series.
func (m *Metrics) Update(s *Snapshot) {
	statuses := s.ComponentStatuses // not &s.…: that would keep the snapshot
	m.componentStatus.statuses.Store(&statuses)
	for _, im := range incident.Impacts() {
		m.incidentsOpen.WithLabelValues(string(im)).Set(float64(s.OpenIncidentsByImpact[im]))
	}
}

// componentCollector serves tocsin_component_status from the snapshot's
// own map of component statuses. A gauge vector kept a metric and its
// label pairs for each of five series a component: 17 MB at 5,000
// components (docs/benchmarks.md), for numbers the snapshot holds anyway.
type componentCollector struct {
	desc     *prometheus.Desc
	statuses atomic.Pointer[map[string]detector.ComponentStatus] // a snapshot's, never changed
}

// Describe implements prometheus.Collector.
func (c *componentCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *componentCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.statuses.Load()
	if p == nil {
		return
	}
	for id, cur := range *p {
		for _, st := range detector.ComponentStatuses() {
			v := 0.0
			if st == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, id, string(st))
		}
	}
}
