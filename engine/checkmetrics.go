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

// checkSeries is what the per-check series of SPEC §5 say about one check:
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
	// labels are the series' label pairs, made at the first scrape that
	// sends them and kept: they change only with the check's type or
	// component, which clear them.
	labels *checkLabels
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

// checkCollector serves tocsin_probe_success, tocsin_probe_duration_seconds,
// tocsin_probe_results_total and tocsin_check_status from checkSeries. It
// sends each family's series sorted by check name, which keeps the
// registry's sort of a scrape linear.
type checkCollector struct {
	success, duration, results, status *prometheus.Desc

	mu     sync.Mutex
	checks map[string]*checkSeries
	sorted []*checkSeries // by name; nil once checks changed
	// pairs holds the label pairs checks share (a type, a component, a
	// verdict, a state), so that a check adds only its own name's.
	pairs map[[2]string]*dto.LabelPair
	check *string // the name "check", shared by every check's pair
}

func newCheckCollector() *checkCollector {
	return &checkCollector{
		success: prometheus.NewDesc("tocsin_probe_success",
			"1 if the last probe of the check was up or degraded, 0 if down.", []string{"check", "type", "component"}, nil),
		duration: prometheus.NewDesc("tocsin_probe_duration_seconds",
			"How long the check's last probe took.", []string{"check", "type"}, nil),
		results: prometheus.NewDesc("tocsin_probe_results_total",
			"Probe results by verdict.", []string{"check", "type", "result"}, nil),
		status: prometheus.NewDesc("tocsin_check_status",
			"Confirmed check state: 1 for the current state, 0 for the others.", []string{"check", "status"}, nil),
		checks: map[string]*checkSeries{},
		pairs:  map[[2]string]*dto.LabelPair{},
		check:  new("check"),
	}
}

// pairLocked returns the shared label pair name=value. The caller holds
// c.mu.
func (c *checkCollector) pairLocked(name, value string) *dto.LabelPair {
	k := [2]string{name, value}
	p, ok := c.pairs[k]
	if !ok {
		p = &dto.LabelPair{Name: &k[0], Value: &k[1]}
		c.pairs[k] = p
	}
	return p
}

// entryLocked returns the check's series, made on first use. The caller
// holds c.mu.
func (c *checkCollector) entryLocked(name string) *checkSeries {
	s, ok := c.checks[name]
	if !ok {
		s = &checkSeries{name: name, status: detector.Unknown}
		c.checks[name] = s
		c.sorted = nil
	}
	return s
}

func (c *checkCollector) observe(name, typ, component string, r probe.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.entryLocked(name)
	if s.typ != typ || s.component != component {
		s.typ, s.component, s.labels = typ, component, nil
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

func (c *checkCollector) setStatus(name string, st detector.CheckStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entryLocked(name).status = st
}

func (c *checkCollector) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.checks[name]; ok {
		delete(c.checks, name)
		c.sorted = nil
	}
}

// Describe implements prometheus.Collector.
func (c *checkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.success
	ch <- c.duration
	ch <- c.results
	ch <- c.status
}

// Collect implements prometheus.Collector. It copies the series under the
// lock and sends them after: a scrape of 50,000 checks must not hold up
// the results being recorded. The metrics it sends share their label
// pairs, as the library's own constant metrics do, so that a scrape
// allocates little more than the registry's own dto.Metric per series.
func (c *checkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.sorted == nil {
		c.sorted = make([]*checkSeries, 0, len(c.checks))
		for _, s := range c.checks {
			c.sorted = append(c.sorted, s)
		}
		slices.SortFunc(c.sorted, func(a, b *checkSeries) int { return strings.Compare(a.name, b.name) })
	}
	snap := make([]checkSeries, len(c.sorted))
	for i, s := range c.sorted {
		if s.labels == nil {
			s.labels = c.makeLabelsLocked(s)
		}
		snap[i] = *s
	}
	c.mu.Unlock()
	// One allocation for every series sent, rather than one each.
	statuses := statusOrder()
	n := 0
	for i := range snap {
		n += len(statuses)
		if snap[i].probed {
			n += 2
		}
		for _, seen := range snap[i].seen {
			if seen {
				n++
			}
		}
	}
	out := make([]seriesMetric, 0, n)
	send := func(m seriesMetric) {
		out = append(out, m)
		ch <- &out[len(out)-1]
	}
	for i := range snap {
		s := &snap[i]
		if s.probed {
			send(seriesMetric{c.success, s.labels.success, s.success, false})
			send(seriesMetric{c.duration, s.labels.duration, s.duration, false})
		}
		for j := range s.results {
			if s.seen[j] {
				send(seriesMetric{c.results, s.labels.results[j], s.results[j], true})
			}
		}
		for j, st := range statuses {
			v := 0.0
			if st == s.status {
				v = 1
			}
			send(seriesMetric{c.status, s.labels.status[j], v, false})
		}
	}
}

// makeLabelsLocked makes a check's label pairs: its name's own, the rest
// shared. The caller holds c.mu.
func (c *checkCollector) makeLabelsLocked(s *checkSeries) *checkLabels {
	name := s.name
	check, typ := &dto.LabelPair{Name: c.check, Value: &name}, c.pairLocked("type", s.typ)
	l := &checkLabels{
		success:  []*dto.LabelPair{check, c.pairLocked("component", s.component), typ},
		duration: []*dto.LabelPair{check, typ},
	}
	for i, r := range resultOrder() {
		l.results[i] = []*dto.LabelPair{check, c.pairLocked("result", string(r)), typ}
	}
	for i, st := range statusOrder() {
		l.status[i] = []*dto.LabelPair{check, c.pairLocked("status", string(st))}
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
