package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

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

// TestCheckMetricsText: what WriteMetrics writes for /metrics is, byte for
// byte, what the registry's text encoder writes of what Collect sends:
// across chunks of checkChunk, for checks never probed, label values that
// need escaping, and values the encoder writes specially.
func TestCheckMetricsText(t *testing.T) {
	t.Parallel()
	for _, vantage := range []string{"", "eu-west"} {
		t.Run("vantage "+vantage, func(t *testing.T) {
			t.Parallel()
			checkMetricsText(t, vantage)
		})
	}
	if empty := new(bytes.Buffer); newCheckMetrics("").WriteMetrics(empty) != nil || empty.Len() != 0 {
		t.Errorf("no checks: %q, want nothing", empty)
	}
}

// checkMetricsText is TestCheckMetricsText for a replica of vantage ("":
// none): with one, every series has its label.
func checkMetricsText(t *testing.T, vantage string) {
	c := newCheckMetrics(vantage)
	verdicts := []probe.Status{probe.StatusUp, probe.StatusDown, probe.StatusDegraded}
	for i := range 2*checkChunk + 7 {
		name := fmt.Sprintf("check-%05d", i)
		if i%500 == 3 {
			name += "\\ \"quoted\"\nline"
		}
		c.setStatus(name, statusOrder()[i%4])
		if i%9 == 0 {
			continue // never probed: only its state
		}
		d := time.Duration(i) * time.Millisecond
		if i%13 == 0 {
			d = 0
		}
		c.observe(name, "http", fmt.Sprintf("comp-%d", i/10), probe.Result{Status: verdicts[i%3], Duration: d})
		if i%5 == 0 {
			c.observe(name, "tcp", "moved", probe.Result{Status: verdicts[(i+1)%3], Duration: time.Second})
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want, got bytes.Buffer
	enc := expfmt.NewEncoder(&want, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteMetrics(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("line %d differs:\n got %q\nwant %q", i+1, g[i], w[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(g), len(w))
	}
	if vantage != "" && strings.Count(got.String(), `vantage="`+vantage+`"`) != strings.Count(got.String(), "\n")-8 {
		t.Errorf("not every series has vantage=%q", vantage)
	}
}
