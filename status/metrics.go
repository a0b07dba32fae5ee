package status

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// Metrics exports what a snapshot shows: tocsin_component_status and
// tocsin_incidents_open.
type Metrics struct {
	componentStatus *prometheus.GaugeVec
	incidentsOpen   *prometheus.GaugeVec

	mu    sync.Mutex
	known map[string]bool // components with series, to delete removed ones
}

// NewMetrics registers the status metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		componentStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_component_status",
			Help: "Component status shown on the status page: one series per status, 1 for the current one.",
		}, []string{"component", "status"}),
		incidentsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_incidents_open",
			Help: "Unresolved incidents by impact.",
		}, []string{"impact"}),
		known: map[string]bool{},
	}
	for _, c := range []prometheus.Collector{m.componentStatus, m.incidentsOpen} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("status: register metrics: %w", err)
		}
	}
	for _, im := range incident.Impacts {
		m.incidentsOpen.WithLabelValues(string(im)).Set(0)
	}
	return m, nil
}

// Update sets the gauges from a snapshot and deletes the series of
// components it no longer has.
func (m *Metrics) Update(s *Snapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, cur := range s.ComponentStatuses {
		for _, st := range detector.ComponentStatuses {
			v := 0.0
			if st == cur {
				v = 1
			}
			m.componentStatus.WithLabelValues(id, string(st)).Set(v)
		}
	}
	for id := range m.known {
		if _, ok := s.ComponentStatuses[id]; !ok {
			m.componentStatus.DeletePartialMatch(prometheus.Labels{"component": id})
			delete(m.known, id)
		}
	}
	for id := range s.ComponentStatuses {
		m.known[id] = true
	}
	for _, im := range incident.Impacts {
		m.incidentsOpen.WithLabelValues(string(im)).Set(float64(s.OpenIncidentsByImpact[im]))
	}
}
