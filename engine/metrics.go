package engine

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// metrics are the probe and incident series of docs/metrics.md that the engine owns.
type metrics struct {
	// checks holds the per-check gauges and counters.
	checks  *CheckMetrics
	latency *prometheus.HistogramVec
	// perCheck is the opt-in per-check histogram (metrics.
	// per_check_histograms); observed only while perCheckOn.
	perCheck    *prometheus.HistogramVec
	perCheckOn  atomic.Bool
	lastEval    prometheus.Gauge
	queueDepth  *prometheus.GaugeVec
	queueAge    *prometheus.GaugeVec
	queueRate   *prometheus.GaugeVec
	certExpiry  *prometheus.GaugeVec
	certWarning *prometheus.GaugeVec
	opened      prometheus.Counter
	resolved    prometheus.Counter
	ownedChecks prometheus.Gauge
	configured  prometheus.Gauge
}

// newMetrics makes the engine's metrics; the per-check families carry
// vantage as a label when it is not empty (one replica's checks, as its
// vantage probes them).
func newMetrics(reg prometheus.Registerer, vantage string) (*metrics, error) {
	// From a loopback TCP connect to an SMTP conversation that hits its
	// timeout.
	latencyBuckets := []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &metrics{
		checks: newCheckMetrics(vantage),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tocsin_probe_latency_seconds", Help: "How long probes took across all checks, by type and phase (total: the whole probe; dns, connect, tls, first_byte, banner, ehlo, auth, data, exchange).",
			Buckets: latencyBuckets,
		}, []string{"type", "phase"}),
		perCheck: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tocsin_probe_phase_duration_seconds", Help: "How long each phase of each check's probes took (total: the whole probe). Only with metrics.per_check_histograms.",
			Buckets: latencyBuckets,
		}, []string{"check", "type", "phase"}),
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
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_tls_cert_expiry_seconds", Help: "Seconds until the leaf certificate the check's target presented at the last probe expires; negative once expired.",
		}, []string{"check"}),
		certWarning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_tls_cert_expiry_warning_seconds", Help: "The check's cert_expiry_warning (0: off), served only while its certificate expires within it or has expired: a private warning.",
		}, []string{"check"}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_incidents_opened_total", Help: "Incidents opened by this process.",
		}),
		resolved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_incidents_resolved_total", Help: "Incidents resolved by this process.",
		}),
		ownedChecks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_owned_checks", Help: "Checks this replica owns and probes: those of the components it owns.",
		}),
		configured: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_checks_configured", Help: "Checks in the config this replica has in force.",
		}),
	}
	// m.checks is not registered: /metrics writes it (Engine.CheckMetrics).
	for _, c := range []prometheus.Collector{m.latency, m.perCheck, m.lastEval,
		m.queueDepth, m.queueAge, m.queueRate, m.certExpiry, m.certWarning, m.opened, m.resolved, m.ownedChecks, m.configured} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("engine: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(c config.Check, r probe.Result, now time.Time) {
	check, typ := c.Name, c.Type
	m.checks.observe(check, typ, c.Component, r)
	perCheck := m.perCheckOn.Load()
	m.latency.WithLabelValues(typ, phaseTotal).Observe(r.Duration.Seconds())
	if perCheck {
		m.perCheck.WithLabelValues(check, typ, phaseTotal).Observe(r.Duration.Seconds())
	}
	for _, ph := range r.Phases {
		if !knownPhase(ph.Name) {
			continue
		}
		m.latency.WithLabelValues(typ, ph.Name).Observe(ph.Duration.Seconds())
		if perCheck {
			m.perCheck.WithLabelValues(check, typ, ph.Name).Observe(ph.Duration.Seconds())
		}
	}
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
	m.observeCert(c, r, now)
}

// observeCert keeps the certificate series of a TLS check: set by every
// result that saw a certificate, kept through a failure that saw none (the
// target may be unreachable; the certificate has not changed), removed by a
// result that went through without TLS. Series are one per TLS check.
func (m *metrics) observeCert(c config.Check, r probe.Result, now time.Time) {
	switch {
	case !r.CertNotAfter.IsZero():
		left := r.CertNotAfter.Sub(now)
		m.certExpiry.WithLabelValues(c.Name).Set(left.Seconds())
		// The threshold is served only while it is crossed (the
		// certificate expires within it, or has expired): it is all the
		// shipped rule needs, and a check stays within docs/metrics.md's ten
		// series the rest of the time.
		if warn := c.CertExpiryWarning(); left < warn || left < 0 {
			m.certWarning.WithLabelValues(c.Name).Set(warn.Seconds())
		} else {
			m.certWarning.DeleteLabelValues(c.Name)
		}
	case r.Status != probe.StatusDown:
		m.forgetCert(c.Name)
	}
}

// forgetCertsWithoutTLS removes the certificate series of checks a new
// config no longer has speak TLS, which may fail without ever saying so.
func (m *metrics) forgetCertsWithoutTLS(checks []config.Check) {
	for _, c := range checks {
		if !speaksTLS(c) {
			m.forgetCert(c.Name)
		}
	}
}

// speaksTLS reports whether c's config has it speak TLS. An http URL that
// redirects to https does too, which its results show.
func speaksTLS(c config.Check) bool {
	switch {
	case c.HTTP != nil:
		u, err := url.Parse(c.HTTP.URL.Reveal())
		return err == nil && u.Scheme == "https"
	case c.SMTP != nil:
		return c.SMTP.TLS == "starttls" || c.SMTP.TLS == "implicit"
	case c.TCP != nil:
		return c.TCP.TLS
	}
	return false
}

func (m *metrics) forgetCert(check string) {
	m.certExpiry.DeleteLabelValues(check)
	m.certWarning.DeleteLabelValues(check)
}

func (m *metrics) setCheckStatus(check string, s detector.CheckStatus) {
	m.checks.setStatus(check, s)
}

// phaseTotal is the phase label of a whole probe's duration.
const phaseTotal = "total"

// setPerCheck turns the opt-in per-check histograms on or off; off drops
// their series.
func (m *metrics) setPerCheck(on bool) {
	if !m.perCheckOn.Swap(on) || on {
		return
	}
	m.perCheck.Reset()
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
	m.checks.forget(check)
	m.perCheck.DeletePartialMatch(l)
	m.queueDepth.DeletePartialMatch(l)
	m.queueAge.DeletePartialMatch(l)
	m.queueRate.DeletePartialMatch(l)
	m.forgetCert(check)
}
