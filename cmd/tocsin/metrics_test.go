package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

// TestMetricsPassPromtool: /metrics passes `promtool check metrics`, carries
// every series docs/metrics.md lists, and no label value holds a URL, header or error text.
func TestMetricsPassPromtool(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run the test command from the README, which installs Debian's prometheus")
	}
	rds := redistest.Start(t)
	web := startWeb(t)
	web.SetStatus(503)
	p := startTocsin(t, nil, "run", "--config", e2eConfig(t, rds.URL(), web.URL()))
	waitIncident(t, p, func(spIncident) bool { return true })
	// The gauges may trail the served snapshot a little: read /metrics
	// until they show the incident, then check that body.
	var body []byte
	eventually(t, 10*time.Second, "tocsin_incidents_open shows the critical incident", func() bool {
		_, body = p.get("/metrics")
		return bytes.Contains(body, []byte(`tocsin_incidents_open{impact="critical"} 1`))
	})

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	for _, name := range []string{
		"tocsin_probe_success", "tocsin_probe_duration_seconds", "tocsin_probe_latency_seconds", "tocsin_probe_results_total",
		"tocsin_check_status", "tocsin_component_status", "tocsin_incidents_open",
		"tocsin_incidents_opened_total", "tocsin_incidents_resolved_total", "tocsin_store_errors_total",
		"tocsin_scheduler_lag_seconds", "tocsin_last_evaluation_timestamp_seconds",
		"tocsin_config_reloads_total", "tocsin_config_last_reload_successful",
		"tocsin_config_last_reload_success_timestamp_seconds", "tocsin_build_info", "go_goroutines", "process_resident_memory_bytes",
		// Issue 14's bound on probes in flight (schedule/metrics.go).
		"tocsin_probes_in_flight", "tocsin_scheduler_delayed_runs_total", "tocsin_scheduler_skipped_runs_total",
		"tocsin_scheduler_max_in_flight",
	} {
		if !bytes.Contains(body, []byte("\n"+name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// The last probe's duration is a gauge; distributions are by type and
	// phase; per-check histograms only behind metrics.per_check_histograms.
	for _, want := range []string{"# TYPE tocsin_probe_duration_seconds gauge", `tocsin_probe_latency_seconds_count{phase="total",type="http"}`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The build info is client_golang's, with tocsin's "dev" for an
	// unstamped build and the revision Go recorded.
	buildInfo := regexp.MustCompile(`(?m)^tocsin_build_info\{(.*)\} 1$`).FindSubmatch(body)
	if buildInfo == nil {
		t.Error("/metrics lacks tocsin_build_info{…} 1")
	} else {
		for _, label := range []string{`branch="`, `goarch="` + runtime.GOARCH + `"`, `goos="` + runtime.GOOS + `"`,
			`goversion="go`, `revision="`, `version="dev"`} {
			if !bytes.Contains(buildInfo[1], []byte(label)) {
				t.Errorf("tocsin_build_info{%s} lacks %s", buildInfo[1], label)
			}
		}
	}
	if bytes.Contains(body, []byte("tocsin_probe_phase_duration_seconds")) {
		t.Error("/metrics has per-check histograms without metrics.per_check_histograms")
	}
	labelValue := regexp.MustCompile(`="([^"]*)"`)
	for _, m := range labelValue.FindAllStringSubmatch(string(body), -1) {
		v := m[1]
		if strings.Contains(v, "://") || strings.Contains(v, " ") && !strings.HasPrefix(v, "go") || len(v) > 64 {
			t.Errorf("suspicious label value %q", v)
		}
	}
}
