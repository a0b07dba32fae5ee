package main

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin/tocsin/config"
)

// reloadMetrics count the config reloads by result and say whether the last
// one was put in force, as Prometheus' own config_last_reload_* do.
type reloadMetrics struct {
	total *prometheus.CounterVec
	ok    prometheus.Gauge
	okAt  prometheus.Gauge
	now   func() time.Time
}

// newReloadMetrics registers the reload metrics on reg. The config loaded
// at startup counts as a successful load, not as a reload.
func newReloadMetrics(reg prometheus.Registerer, now func() time.Time) (*reloadMetrics, error) {
	m := &reloadMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_config_reloads_total", Help: "Config reloads by result.",
		}, []string{"result"}),
		ok: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_config_last_reload_successful",
			Help: "1 if the last config reload (or the load at startup) was put in force, 0 if it was rejected, refused or partly applied.",
		}),
		okAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_config_last_reload_success_timestamp_seconds",
			Help: "When a config was last put in force, at startup or by a reload (Unix time).",
		}),
		now: now,
	}
	for _, c := range []prometheus.Collector{m.total, m.ok, m.okAt} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Both results exist from the start, so that increase() sees the first.
	m.total.WithLabelValues("success")
	m.total.WithLabelValues("failure")
	m.succeeded()
	return m, nil
}

func (m *reloadMetrics) succeeded() {
	m.ok.Set(1)
	m.okAt.Set(float64(m.now().UnixNano()) / 1e9)
}

// result counts a reload: nil is a success, anything else a failure.
// A refused reload counts as a failure too: the shipped alert
// TocsinConfigReloadFailed (deploy/prometheus/tocsin-rules.yml) fires on
// result="failure", and a refused config is one nobody meant to run.
func (m *reloadMetrics) result(err error) {
	if err != nil {
		m.total.WithLabelValues("failure").Inc()
		m.ok.Set(0)
		return
	}
	m.total.WithLabelValues("success").Inc()
	m.succeeded()
}

// reload loads the config again. An invalid one, or one that would remove
// every check by accident (config.CheckReload), is logged and counted, and
// the one in force stays.
func (a *app) reload(lo config.LoadOptions) {
	defer holdHeap()()
	old := a.cfg.Load()
	cfg, err := config.Load(lo)
	if err == nil {
		err = cfg.VantageError()
	}
	if err == nil && cfg.Scheduler.Vantage != old.Scheduler.Vantage {
		// The vantage is in this replica's member id, made at start.
		err = fmt.Errorf("scheduler.vantage: changed from %q to %q; a replica's vantage changes only with a restart", old.Scheduler.Vantage, cfg.Scheduler.Vantage)
	}
	if err == nil {
		err = config.CheckReload(old, cfg)
	}
	if err == nil {
		err = a.apply(cfg)
	}
	// Logged before it is counted, so that whoever sees the counter move
	// finds the reason already written.
	switch {
	case errors.Is(err, errPartial):
		a.logger.Error("config reload partially applied: some checks are not scheduled", "error", err)
	case errors.Is(err, config.ErrReloadRefused):
		a.logger.Error("config reload refused; keeping the config in force", "error", err)
	case err != nil:
		a.logger.Error("config reload rejected; keeping the config in force", "error", err)
	default:
		if !reflect.DeepEqual(old.Server, cfg.Server) || !reflect.DeepEqual(old.Redis, cfg.Redis) || old.Log != cfg.Log ||
			old.Scheduler != cfg.Scheduler {
			a.logger.Warn("changes to server.*, redis.*, log.* and scheduler.* take effect only after a restart")
		}
		a.logger.Info("config reloaded", "checks", len(cfg.Checks))
	}
	a.reloads.result(err)
}
