package redisstore

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/ownership"
)

// operations are the label values of the store's metrics, one per method.
var operations = []string{
	"observe", "tick", "version", "load", "human",
	"lease", "publish_checks", "read_checks", "load_checks",
	"uptime_write", "uptime_read", "beat",
}

// metrics count the store's failed and fenced operations.
type metrics struct {
	errors       *prometheus.CounterVec
	fenced       *prometheus.CounterVec
	failovers    prometheus.Counter
	unreplicated prometheus.Counter
	role         *prometheus.GaugeVec
	replicas     prometheus.Gauge
}

// NewInstrumented is New with the store's metrics registered on reg:
// errors and fenced writes per operation, and what the lease rounds see of
// the primary's replication (replication.go).
func NewInstrumented(client redis.UniversalClient, prefix string, reg prometheus.Registerer) (*Store, error) {
	m := &metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_store_errors_total", Help: "Failed store operations.",
		}, []string{"operation"}),
		fenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_store_fenced_writes_total",
			Help: "Writes the store rejected because the writer's ownership grant (fencing token) was stale.",
		}, []string{"operation"}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_store_failovers_total",
			Help: "Times the Redis primary changed (a failover) or restarted between two lease rounds of this replica.",
		}),
		unreplicated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tocsin_store_unreplicated_grants_total",
			Help: "Ownership grants no replica acknowledged within the wait (WAIT 1), used anyway.",
		}),
		role: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tocsin_store_role",
			Help: "1 for the replication role of the Redis node this replica writes to (master, slave), as INFO replication reports it.",
		}, []string{"role"}),
		replicas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_store_connected_replicas",
			Help: "Replicas connected to the Redis primary this replica writes to.",
		}),
	}
	for _, op := range operations {
		m.errors.WithLabelValues(op)
	}
	for _, op := range []string{"observe", "tick", "publish_checks", "uptime_write"} {
		m.fenced.WithLabelValues(op)
	}
	for _, c := range []prometheus.Collector{m.errors, m.fenced, m.failovers, m.unreplicated, m.role, m.replicas} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("redisstore: register metrics: %w", err)
		}
	}
	s := New(client, prefix)
	s.m = m
	return s, nil
}

// failed counts err (if any) against op and returns it.
func (s *Store) failed(op string, err error) error {
	if err != nil && s.m != nil {
		s.m.errors.WithLabelValues(op).Inc()
	}
	return err
}

// countFenced counts n writes of op rejected by the fence.
func (s *Store) countFenced(op string, n int) {
	if n > 0 && s.m != nil {
		s.m.fenced.WithLabelValues(op).Add(float64(n))
	}
}

// count counts err against op: a fenced write as fenced, any other error as
// failed. It returns err.
func (s *Store) count(op string, err error) error {
	if errors.Is(err, ownership.ErrFenced) {
		s.countFenced(op, 1)
		return err
	}
	return s.failed(op, err)
}

// observeReplication records what a lease round saw of the primary.
func (s *Store) observeReplication(r replication, failover bool) {
	if s.m == nil || !r.known {
		return
	}
	if failover {
		s.m.failovers.Inc()
	}
	for _, role := range []string{"master", "slave"} {
		v := 0.0
		if r.role == role {
			v = 1
		}
		s.m.role.WithLabelValues(role).Set(v)
	}
	s.m.replicas.Set(float64(r.replicas))
}
