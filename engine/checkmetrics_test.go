package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tocsin/tocsin/probe"
)

// TestCheckSeries: the per-check series say what the vectors said: the
// last probe, a counter per verdict seen, the confirmed state; and they go
// with the check.
func TestCheckSeries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, st := range []probe.Status{probe.StatusUp, probe.StatusDown, probe.StatusDown} {
		f.eng.Record(context.Background(), f.cfg.Checks[0], probe.Result{Status: st, Start: f.clk.now(), Duration: 250 * time.Millisecond})
	}
	want := `
# HELP tocsin_check_status Confirmed check state: 1 for the current state, 0 for the others.
# TYPE tocsin_check_status gauge
tocsin_check_status{check="api-health",status="degraded"} 0
tocsin_check_status{check="api-health",status="down"} 0
tocsin_check_status{check="api-health",status="unknown"} 1
tocsin_check_status{check="api-health",status="up"} 0
tocsin_check_status{check="web-home",status="degraded"} 0
tocsin_check_status{check="web-home",status="down"} 1
tocsin_check_status{check="web-home",status="unknown"} 0
tocsin_check_status{check="web-home",status="up"} 0
# HELP tocsin_probe_duration_seconds How long the check's last probe took.
# TYPE tocsin_probe_duration_seconds gauge
tocsin_probe_duration_seconds{check="web-home",type="http"} 0.25
# HELP tocsin_probe_results_total Probe results by verdict.
# TYPE tocsin_probe_results_total counter
tocsin_probe_results_total{check="web-home",result="down",type="http"} 2
tocsin_probe_results_total{check="web-home",result="up",type="http"} 1
# HELP tocsin_probe_success 1 if the last probe of the check was up or degraded, 0 if down.
# TYPE tocsin_probe_success gauge
tocsin_probe_success{check="web-home",component="web",type="http"} 0
`
	names := []string{"tocsin_check_status", "tocsin_probe_duration_seconds", "tocsin_probe_results_total", "tocsin_probe_success"}
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	cfg := *f.cfg
	cfg.Checks = cfg.Checks[1:]
	f.eng.Configure(&cfg)
	if n, err := testutil.GatherAndCount(f.reg, names...); err != nil || n != 4 {
		t.Errorf("%d series once web-home left (%v), want api-health's 4", n, err)
	}
}
