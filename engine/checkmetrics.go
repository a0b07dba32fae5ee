package engine

import (
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// checkSeries is what the per-check series of docs/metrics.md say about one check:
// a few numbers, where a metric vector kept some 400 bytes of labels and
// map entries per series (157 MB at 50,000 checks, issue 14).
type checkSeries struct {
	name, typ, component string
	probed               bool // success and duration exist once probed
	success, duration    float64
	// results counts the verdicts in resultOrder; a verdict never seen
	// has no series.
	results [3]float64
	seen    [3]bool
	status  detector.CheckStatus
}

// checkLabels are one check's label pairs by family, sorted by name as
// the registry sorts them (prometheus.MakeLabelPairs).
type checkLabels struct {
	success, duration []*dto.LabelPair
	results           [3][]*dto.LabelPair
	status            [4][]*dto.LabelPair
}

// resultOrder and statusOrder are the label values in the order the
// registry sorts series, so that what Collect sends is already sorted.
func resultOrder() [3]probe.Status {
	return [3]probe.Status{probe.StatusDegraded, probe.StatusDown, probe.StatusUp}
}

func statusOrder() [4]detector.CheckStatus {
	return [4]detector.CheckStatus{detector.Degraded, detector.Down, detector.Unknown, detector.Up}
}

// CheckMetrics serves tocsin_probe_success, tocsin_probe_duration_seconds,
// tocsin_probe_results_total and tocsin_check_status from checkSeries:
// /metrics through WriteMetrics (checktext.go), a registry it is
// registered with through Collect. It sends each family's series sorted
// by check name, which keeps the registry's sort of a gather linear.
type CheckMetrics struct {
	success, duration, results, status *prometheus.Desc
	// vantage is every series' "vantage" label (its name and value), nil
	// without vantages. It sorts after every other label of these
	// families, so it comes last, where the registry puts it.
	vantage []string

	mu     sync.Mutex
	checks map[string]*checkSeries
	sorted []*checkSeries // by name; nil once checks changed
}

func newCheckMetrics(vantage string) *CheckMetrics {
	var constLabels prometheus.Labels
	var label []string
	if vantage != "" {
		constLabels, label = prometheus.Labels{"vantage": vantage}, []string{"vantage", vantage}
	}
	return &CheckMetrics{
		vantage: label,
		success: prometheus.NewDesc("tocsin_probe_success",
			"1 if the last probe of the check was up or degraded, 0 if down.", []string{"check", "type", "component"}, constLabels),
		duration: prometheus.NewDesc("tocsin_probe_duration_seconds",
			"How long the check's last probe took.", []string{"check", "type"}, constLabels),
		results: prometheus.NewDesc("tocsin_probe_results_total",
			"Probe results by verdict.", []string{"check", "type", "result"}, constLabels),
		status: prometheus.NewDesc("tocsin_check_status",
			"Confirmed check state: 1 for the current state, 0 for the others.", []string{"check", "status"}, constLabels),
		checks: map[string]*checkSeries{},
	}
}

// entryLocked returns the check's series, made on first use. The caller
// holds c.mu.
func (c *CheckMetrics) entryLocked(name string) *checkSeries {
	s, ok := c.checks[name]
	if !ok {
		s = &checkSeries{name: name, status: detector.Unknown}
		c.checks[name] = s
		c.sorted = nil
	}
	return s
}

func (c *CheckMetrics) observe(name, typ, component string, r probe.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.entryLocked(name)
	if s.typ != typ || s.component != component {
		s.typ, s.component = typ, component
	}
	s.probed = true
	s.success = 0
	if r.Status != probe.StatusDown {
		s.success = 1
	}
	s.duration = r.Duration.Seconds()
	order := resultOrder()
	if i := slices.Index(order[:], r.Status); i >= 0 {
		s.results[i]++
		s.seen[i] = true
	}
}

func (c *CheckMetrics) setStatus(name string, st detector.CheckStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entryLocked(name).status = st
}

func (c *CheckMetrics) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.checks[name]; ok {
		delete(c.checks, name)
		c.sorted = nil
	}
}

// Describe implements prometheus.Collector.
func (c *CheckMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.success
	ch <- c.duration
	ch <- c.results
	ch <- c.status
}

// sortedLocked returns the checks sorted by name, sorting them again only
// after a check came or went. The caller holds c.mu.
func (c *CheckMetrics) sortedLocked() []*checkSeries {
	if c.sorted == nil {
		c.sorted = make([]*checkSeries, 0, len(c.checks))
		for _, s := range c.checks {
			c.sorted = append(c.sorted, s)
		}
		slices.SortFunc(c.sorted, func(a, b *checkSeries) int { return strings.Compare(a.name, b.name) })
	}
	return c.sorted
}

// Collect implements prometheus.Collector, for a registry the collector
// is registered with (the engine's tests); the daemon's /metrics uses
// WriteMetrics. It copies the series under the lock and sends them after.
func (c *CheckMetrics) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sorted := c.sortedLocked()
	snap := make([]checkSeries, len(sorted))
	for i, s := range sorted {
		snap[i] = *s
	}
	c.mu.Unlock()
	statuses := statusOrder()
	for i := range snap {
		s := &snap[i]
		l := c.makeLabels(s)
		if s.probed {
			ch <- &seriesMetric{c.success, l.success, s.success, false}
			ch <- &seriesMetric{c.duration, l.duration, s.duration, false}
		}
		for j := range s.results {
			if s.seen[j] {
				ch <- &seriesMetric{c.results, l.results[j], s.results[j], true}
			}
		}
		for j, st := range statuses {
			v := 0.0
			if st == s.status {
				v = 1
			}
			ch <- &seriesMetric{c.status, l.status[j], v, false}
		}
	}
}

// makeLabels makes a check's label pairs.
func (c *CheckMetrics) makeLabels(s *checkSeries) *checkLabels {
	pair := func(name, value string) *dto.LabelPair { return &dto.LabelPair{Name: &name, Value: &value} }
	check, typ := pair("check", s.name), pair("type", s.typ)
	var vantage []*dto.LabelPair // last, as sorted
	if c.vantage != nil {
		vantage = []*dto.LabelPair{pair(c.vantage[0], c.vantage[1])}
	}
	l := &checkLabels{
		success:  append([]*dto.LabelPair{check, pair("component", s.component), typ}, vantage...),
		duration: append([]*dto.LabelPair{check, typ}, vantage...),
	}
	for i, r := range resultOrder() {
		l.results[i] = append([]*dto.LabelPair{check, pair("result", string(r)), typ}, vantage...)
	}
	for i, st := range statusOrder() {
		l.status[i] = append([]*dto.LabelPair{check, pair("status", string(st))}, vantage...)
	}
	return l
}

// seriesMetric is one series of a check: a gauge, or a counter.
type seriesMetric struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	value   float64
	counter bool
}

func (m *seriesMetric) Desc() *prometheus.Desc { return m.desc }

func (m *seriesMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	if m.counter {
		out.Counter = &dto.Counter{Value: &m.value}
	} else {
		out.Gauge = &dto.Gauge{Value: &m.value}
	}
	return nil
}
