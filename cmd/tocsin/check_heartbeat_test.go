package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

// heartbeatConfig is a config of heartbeat checks on redisURL (empty: the
// embedded store): pinged and waiting wait an hour for a beat, failing
// too, and overdue is missed 150ms after the daemon first watched it.
func heartbeatConfig(t *testing.T, redisURL string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "tocsin.yml", fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "hb:"}
components: [{id: jobs, name: Jobs}]
checks:
  - {name: pinged, component: jobs, type: heartbeat, heartbeat: {period: 1h}}
  - {name: waiting, component: jobs, type: heartbeat, heartbeat: {period: 1h}}
  - {name: failing, component: jobs, type: heartbeat, heartbeat: {period: 1h}}
  - {name: overdue, component: jobs, type: heartbeat, heartbeat: {period: 100ms, grace: 50ms}}
`, redisURL))
}

// runCLI runs the binary and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(tocsinBinary(t), args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("%v: %v\n%s", args, err, out)
	return "", 0
}

// TestCheckHeartbeatReadsTheStore: `tocsin check` on a heartbeat check reads
// the beats the daemon received from the configured Redis and judges them
// by the daemon's rules; with no store to read (embedded, unreachable, or
// no record of the check) it says so and exits 3, never claiming up.
func TestCheckHeartbeatReadsTheStore(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	cfg := heartbeatConfig(t, rds.URL())

	// Before any daemon ran against this Redis: nothing to judge.
	out, code := runCLI(t, "check", "--config", cfg, "pinged")
	if code != 3 || !strings.Contains(out, "status:   unknown") || !strings.Contains(out, "no record of this check") {
		t.Errorf("no daemon yet: exit %d, want 3 and unknown:\n%s", code, out)
	}

	p := startTocsin(t, nil, "run", "--config", cfg)
	for path, want := range map[string]int{
		"/api/v1/heartbeats/pinged":       http.StatusOK,
		"/api/v1/heartbeats/failing/fail": http.StatusOK,
		"/api/v1/heartbeats/failing/log":  http.StatusOK, // a message, no change of state
	} {
		resp, err := http.Post(p.base+path, "text/plain", strings.NewReader("disk full on /var\nretrying tonight"))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	for _, tc := range []struct {
		check string
		code  int
		want  []string
	}{
		{"pinged", 0, []string{"status:   up", "message:  last heartbeat", "success:  ago", "fail:     never"}},
		{"waiting", 0, []string{"status:   up", "message:  waiting for the first heartbeat", "success:  never", "watched:  ago"}},
		{"failing", 1, []string{"status:   down", "reason:   fail", "message:  the job reported failure", "fail:     ago",
			"log:      ago", "): disk full on /var\n          retrying tonight"}},
		{"overdue", 1, []string{"status:   down", "reason:   missed", "message:  no heartbeat since monitoring began", "success:  never"}},
	} {
		t.Run(tc.check, func(t *testing.T) {
			var out string
			var code int
			// overdue becomes so 150ms after the daemon first watched it,
			// and stays so: wait for it rather than for a time.
			eventually(t, 20*time.Second, tc.check+" exits "+fmt.Sprint(tc.code), func() bool {
				out, code = runCLI(t, "check", "--config", cfg, tc.check)
				return code == tc.code
			})
			for _, want := range append(tc.want, "source:   the beats in redis.url") {
				// "label: ago" stands for "label: <age> ago (<time>)".
				re := regexp.QuoteMeta(want)
				if label, ok := strings.CutSuffix(want, "ago"); ok {
					re = regexp.QuoteMeta(label) + `[0-9hms]+ ago \(\d{4}-`
				}
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}

	// As JSON: the verdict with its evidence.
	out, code = runCLI(t, "check", "--config", cfg, "--output", "json", "pinged")
	var rep struct {
		Status    string
		Heartbeat struct {
			Source      string
			LastSuccess *time.Time `json:"last_success"`
			LastFail    *time.Time `json:"last_fail"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Status != "up" ||
		rep.Heartbeat.LastSuccess == nil || rep.Heartbeat.LastFail != nil || !strings.HasPrefix(rep.Heartbeat.Source, "the beats in redis.url") {
		t.Errorf("--output json: exit %d, %v, %+v\n%s", code, err, rep, out)
	}

	for name, cfg := range map[string]string{
		"embedded store":    heartbeatConfig(t, ""),
		"unreachable redis": heartbeatConfig(t, "redis://127.0.0.1:1/0"),
	} {
		t.Run(name, func(t *testing.T) {
			out, code := runCLI(t, "check", "--config", cfg, "pinged")
			if code != 3 || !strings.Contains(out, "status:   unknown") ||
				!strings.Contains(out, "a pushed check cannot be judged offline") || strings.Contains(out, "status:   up") {
				t.Errorf("exit %d, want 3 and a pushed check that cannot be judged offline:\n%s", code, out)
			}
		})
	}
}
