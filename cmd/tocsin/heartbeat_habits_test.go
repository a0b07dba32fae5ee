package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestHeartbeatHealthchecksHabits: a cron line written for Healthchecks.io
// works against tocsin's beat URL: "curl -fsS URL" (a GET), a HEAD, and
// "URL/$?" after the job, where 0 is a success and anything else a
// failure; the check's state follows each, through the real binary.
func TestHeartbeatHealthchecksHabits(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", `
server: {listen: "127.0.0.1:0"}
components: [{id: jobs, name: Jobs}]
defaults: {interval: 200ms, timeout: 150ms, failure_threshold: 1, success_threshold: 1}
checks:
  - {name: nightly, component: jobs, type: heartbeat, heartbeat: {period: 1h}}
`)
	p := startTocsin(t, nil, "run", "--config", cfg)
	for _, step := range []struct {
		method, path, want string
	}{
		{"GET", "/1", "down"},  // the job exited 1
		{"GET", "", "up"},      // curl -fsS URL
		{"GET", "/7", "down"},  // exit status 7
		{"HEAD", "", "up"},     // curl -I URL
		{"POST", "/2", "down"}, // curl -fsS -X POST URL/$?
		{"GET", "/0", "up"},    // exit status 0
		{"HEAD", "/fail", "down"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), step.method, p.base+"/api/v1/heartbeats/nightly"+step.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d, want 200", step.method, step.path, resp.StatusCode)
		}
		eventually(t, 20*time.Second, fmt.Sprintf("nightly %s after %s %s", step.want, step.method, step.path),
			func() bool { return p.checkStatus("nightly") == step.want })
	}
}
