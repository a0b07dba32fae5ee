package promtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/promtest"
)

// target serves /metrics with one gauge whose value the test sets.
func target(t *testing.T, v *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE promtest_gauge gauge\npromtest_gauge{kind=\"a\"} %d\n", v.Load())
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPrometheusScrapeAndQuery(t *testing.T) {
	t.Parallel()
	var v atomic.Int64
	v.Store(7)
	srv := promtest.Start(t, target(t, &v))
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:PORT", srv.URL())
	}

	got := srv.WaitForSeries(t, `promtest_gauge{job="test"}`, 15*time.Second)
	if len(got) != 1 || got[0].Value != 7 || got[0].Metric["kind"] != "a" {
		t.Fatalf("promtest_gauge = %+v, want one sample {kind=a} 7", got)
	}
	// The scrape interval is one second: a change shows within a few.
	v.Store(9)
	srv.WaitForSeries(t, `promtest_gauge == 9`, 10*time.Second)

	scalar, err := srv.Query(t.Context(), "1 + 1")
	if err != nil || len(scalar) != 1 || scalar[0].Value != 2 || scalar[0].Metric != nil {
		t.Errorf("Query(1 + 1) = %+v, %v; want one scalar 2", scalar, err)
	}
	if _, err := srv.Query(t.Context(), "sum("); err == nil || !strings.Contains(err.Error(), "bad_data") {
		t.Errorf("Query(sum() error = %v, want bad_data", err)
	}

	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := srv.Query(ctx, "up"); err == nil {
		t.Error("Query after Stop succeeded")
	}
	srv.Stop() // a second Stop does nothing
}

func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	var v atomic.Int64
	v.Store(5)
	rules := filepath.Join(t.TempDir(), "rules.yml")
	const text = `groups:
  - name: promtest
    rules:
      - record: promtest:gauge:doubled
        expr: 2 * promtest_gauge
      - alert: PromtestGaugeHigh
        expr: promtest_gauge > 3
        labels: {severity: page}
`
	if err := os.WriteFile(rules, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := promtest.StartWithRules(t, []string{rules}, target(t, &v))

	got := srv.WaitForSeries(t, "promtest:gauge:doubled", 15*time.Second)
	if len(got) != 1 || got[0].Value != 10 {
		t.Errorf("promtest:gauge:doubled = %+v, want 10", got)
	}
	alerts := srv.WaitForSeries(t, `ALERTS{alertname="PromtestGaugeHigh",alertstate="firing"}`, 15*time.Second)
	if alerts[0].Metric["severity"] != "page" {
		t.Errorf("ALERTS = %+v, want severity=page", alerts)
	}
}

func TestPrometheusParallelServers(t *testing.T) {
	t.Parallel()
	a := promtest.Start(t)
	b := promtest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers on %s", a.Addr())
	}
	for _, s := range []*promtest.Server{a, b} {
		if got, err := s.Query(t.Context(), "vector(3)"); err != nil || len(got) != 1 || got[0].Value != 3 {
			t.Errorf("%s: Query(vector(3)) = %+v, %v", s.Addr(), got, err)
		}
	}
}
