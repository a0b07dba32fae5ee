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
	errors *prometheus.CounterVec
	fenced *prometheus.CounterVec
}

// NewInstrumented is New with tocsin_store_errors_total and
// tocsin_store_fenced_writes_total registered on reg.
func NewInstrumented(client redis.UniversalClient, prefix string, reg prometheus.Registerer) (*Store, error) {
	m := &metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_store_errors_total", Help: "Failed store operations.",
		}, []string{"operation"}),
		fenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tocsin_store_fenced_writes_total",
			Help: "Writes the store rejected because the writer's ownership grant (fencing token) was stale.",
		}, []string{"operation"}),
	}
	for _, op := range operations {
		m.errors.WithLabelValues(op)
	}
	for _, op := range []string{"observe", "tick", "publish_checks", "uptime_write"} {
		m.fenced.WithLabelValues(op)
	}
	for _, c := range []prometheus.Collector{m.errors, m.fenced} {
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
