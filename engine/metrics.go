package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/uptime"
)

// metrics are the probe and incident series of SPEC §5 that the engine owns.
type metrics struct {
	success     *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	phases      *prometheus.HistogramVec
	results     *prometheus.CounterVec
	checkStatus *prometheus.GaugeVec
	lastEval    prometheus.Gauge
	queueDepth  *prometheus.GaugeVec
	queueAge    *prometheus.GaugeVec
	queueRate   *prometheus.GaugeVec
	opened      prometheus.Counter
	resolved    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_probe_success", Help: "1 if the last probe of the check was up or degraded, 0 if down.",
		}, []string{"check", "type", "component"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tocsin_probe_duration_seconds", Help: "How long probes took.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"check", "type"}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tocsin_probe_phase_duration_seconds", Help: "How long each phase of a probe took (dns, connect, tls, first_byte, banner, ehlo, auth, data, exchange).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"check", "type", "phase"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_probe_results_total", Help: "Probe results by verdict.",
		}, []string{"check", "type", "result"}),
		checkStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_check_status", Help: "Confirmed check state: 1 for the current state, 0 for the others.",
		}, []string{"check", "status"}),
		lastEval: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_last_evaluation_timestamp_seconds", Help: "Unix time of the last probe result evaluated.",
		}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_queue_depth", Help: "Items waiting in the queue at the last probe.",
		}, []string{"check"}),
		queueAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_queue_oldest_age_seconds", Help: "Age of the oldest item, where the source knows it.",
		}, []string{"check"}),
		queueRate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_queue_rate_per_second", Help: "Change of depth per second over the trend window: positive growing, negative draining.",
		}, []string{"check"}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_incidents_opened_total", Help: "Incidents opened by this process.",
		}),
		resolved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_incidents_resolved_total", Help: "Incidents resolved by this process.",
		}),
	}
	for _, c := range []prometheus.Collector{m.success, m.duration, m.phases, m.results, m.checkStatus, m.lastEval,
		m.queueDepth, m.queueAge, m.queueRate, m.opened, m.resolved} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("engine: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(check, typ, component string, r probe.Result, now time.Time) {
	up := 0.0
	if r.Status != probe.StatusDown {
		up = 1
	}
	m.success.WithLabelValues(check, typ, component).Set(up)
	m.duration.WithLabelValues(check, typ).Observe(r.Duration.Seconds())
	for _, ph := range r.Phases {
		if knownPhase(ph.Name) {
			m.phases.WithLabelValues(check, typ, ph.Name).Observe(ph.Duration.Seconds())
		}
	}
	m.results.WithLabelValues(check, typ, string(r.Status)).Inc()
	m.lastEval.Set(float64(now.UnixNano()) / 1e9)
	if q := r.Queue; q != nil {
		m.queueDepth.WithLabelValues(check).Set(q.Depth)
		if q.OldestAge != nil {
			m.queueAge.WithLabelValues(check).Set(q.OldestAge.Seconds())
		}
		if q.RatePerSecond != nil {
			m.queueRate.WithLabelValues(check).Set(*q.RatePerSecond)
		}
	}
}

func (m *metrics) setCheckStatus(check string, s detector.CheckStatus) {
	for _, st := range detector.CheckStatuses {
		v := 0.0
		if st == s {
			v = 1
		}
		m.checkStatus.WithLabelValues(check, string(st)).Set(v)
	}
}

// knownPhase is the closed set of phase label values: a prober that
// reported another name would otherwise add unbounded series.
func knownPhase(name string) bool {
	switch name {
	case "dns", "connect", "tls", "first_byte", "banner", "ehlo", "auth", "data", "exchange":
		return true
	}
	return false
}

// forget deletes every series of a removed check.
func (m *metrics) forget(check string) {
	l := prometheus.Labels{"check": check}
	m.success.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.phases.DeletePartialMatch(l)
	m.results.DeletePartialMatch(l)
	m.checkStatus.DeletePartialMatch(l)
	m.queueDepth.DeletePartialMatch(l)
	m.queueAge.DeletePartialMatch(l)
	m.queueRate.DeletePartialMatch(l)
}

// InstrumentStore counts the store's errors by operation in
// tocsin_store_errors_total. Wrap the store once and share the wrapper.
func InstrumentStore(s incident.Store, reg prometheus.Registerer) (incident.Store, error) {
	is, _, err := InstrumentStores(s, nil, reg)
	return is, err
}

// UptimeWriter takes the engine's uptime batches; *uptime.Store is one.
type UptimeWriter interface {
	Write(ctx context.Context, writer string, seq uint64, b uptime.Batch) (skipped int, err error)
}

// UptimeStore is an UptimeWriter that the status page also reads.
type UptimeStore interface {
	UptimeWriter
	uptime.Reader
}

// InstrumentStores is InstrumentStore for the incident store and the uptime
// store together, counted in the same family; u may be nil.
func InstrumentStores(s incident.Store, u UptimeStore, reg prometheus.Registerer) (incident.Store, UptimeStore, error) {
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tocsin_store_errors_total", Help: "Failed store operations.",
	}, []string{"operation"})
	if err := reg.Register(errs); err != nil {
		return nil, nil, fmt.Errorf("engine: register store metrics: %w", err)
	}
	for _, op := range []string{"observe", "tick", "version", "load", "uptime_write", "uptime_read"} {
		errs.WithLabelValues(op)
	}
	var iu UptimeStore
	if u != nil {
		iu = &instrumentedUptime{UptimeStore: u, errs: errs}
	}
	return &instrumented{Store: s, errs: errs}, iu, nil
}

type instrumentedUptime struct {
	UptimeStore
	errs *prometheus.CounterVec
}

func (u *instrumentedUptime) Write(ctx context.Context, writer string, seq uint64, b uptime.Batch) (int, error) {
	skipped, err := u.UptimeStore.Write(ctx, writer, seq, b)
	if err != nil {
		u.errs.WithLabelValues("uptime_write").Inc()
	}
	return skipped, err
}

func (u *instrumentedUptime) Components(ctx context.Context, ids []string, days int, now time.Time, loc *time.Location) (map[string][]uptime.ComponentDay, error) {
	out, err := u.UptimeStore.Components(ctx, ids, days, now, loc)
	if err != nil {
		u.errs.WithLabelValues("uptime_read").Inc()
	}
	return out, err
}

type instrumented struct {
	incident.Store
	errs *prometheus.CounterVec
}

func (s *instrumented) count(op string, err error) {
	if err != nil {
		s.errs.WithLabelValues(op).Inc()
	}
}

func (s *instrumented) Observe(ctx context.Context, o incident.Observation) (incident.Transition, error) {
	t, err := s.Store.Observe(ctx, o)
	s.count("observe", err)
	return t, err
}

func (s *instrumented) Tick(ctx context.Context, now time.Time, p incident.Policy, body string) ([]incident.Transition, error) {
	t, err := s.Store.Tick(ctx, now, p, body)
	s.count("tick", err)
	return t, err
}

func (s *instrumented) Version(ctx context.Context) (int64, error) {
	v, err := s.Store.Version(ctx)
	s.count("version", err)
	return v, err
}

func (s *instrumented) Load(ctx context.Context, limit int) (incident.State, error) {
	st, err := s.Store.Load(ctx, limit)
	s.count("load", err)
	return st, err
}
