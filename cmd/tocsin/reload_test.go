package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/redistest"
)

// TestReloadRefusesToDropEveryCheck (issue 13, item 13): a zero-byte config
// written over a valid one mid-incident is refused, by the file watch and
// by SIGHUP alike, logged with how to override it, counted as a failed
// reload; the old config keeps probing, and the incident stays open past
// resolve_after. A config without checks that opts in is accepted.
func TestReloadRefusesToDropEveryCheck(t *testing.T) {
	t.Parallel()
	const resolveAfter = time.Second
	rds := redistest.Start(t)
	web := startWeb(t)
	head := fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
redis: {url: %q, key_prefix: "reload:"}
incidents: {group_window: 1m, resolve_after: %s, reopen_window: 20s, retention: 1h}
`, rds.URL(), resolveAfter)
	cfg := writeFile(t, t.TempDir(), "tocsin.yml", head+fmt.Sprintf(`
defaults: {interval: 200ms, timeout: 150ms, failure_threshold: 2, success_threshold: 2}
components: [{id: web-app, name: Web App}]
checks: [{name: web-app-home, component: web-app, type: http, http: {url: %q}}]
`, web.URL()))
	p := startTocsin(t, nil, "run", "--config", cfg)
	metric := func(line string) func() bool {
		return func() bool {
			_, m := p.get("/metrics")
			return slices.Contains(strings.Split(string(m), "\n"), line)
		}
	}
	if !metric("tocsin_config_last_reload_successful 1")() {
		t.Error("tocsin_config_last_reload_successful is not 1 after the startup load")
	}

	web.SetStatus(http.StatusInternalServerError)
	id := waitIncident(t, p, func(spIncident) bool { return true }).ID

	// The editor truncated the file: the watch sees it.
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "refused reload counted", metric(`tocsin_config_reloads_total{result="failure"} 1`))
	// The counter and the gauge are set one after the other, and the log
	// reaches the buffer through a pipe: poll both.
	eventually(t, 10*time.Second, "tocsin_config_last_reload_successful 0 after a refused reload",
		metric("tocsin_config_last_reload_successful 0"))
	eventually(t, 10*time.Second, "the refusal logged with how to override it", func() bool {
		out := p.out.String()
		return strings.Contains(out, "config reload refused") && strings.Contains(out, "reload.allow_no_checks: true")
	})
	// SIGHUP with the same file: refused again.
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "second refusal counted", metric(`tocsin_config_reloads_total{result="failure"} 2`))

	// The old config keeps probing: wait for a result that started
	// resolve_after (and a margin) after the refusals, then the incident
	// must still be open and never have been sent to monitoring.
	refused := time.Now()
	eventually(t, 20*time.Second, "probed past resolve_after", func() bool {
		return p.resultsSince("web-app-home", refused.Add(resolveAfter+500*time.Millisecond)) > 0
	})
	open := p.incidents("/api/v2/incidents/unresolved.json")
	if len(open) != 1 || open[0].ID != id || open[0].Status != "investigating" {
		t.Fatalf("unresolved incidents %+v, want %s still investigating", open, id)
	}
	if st := updateStatuses(open[0]); slices.Contains(st, "monitoring") {
		t.Errorf("update statuses %v: the incident was sent to monitoring", st)
	}

	// An explicit opt-in in the new file is accepted.
	if err := os.WriteFile(cfg, []byte(head+"reload: {allow_no_checks: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "opted-in reload accepted", metric(`tocsin_config_reloads_total{result="success"} 1`))
	eventually(t, 10*time.Second, "reload gauge back to 1", metric("tocsin_config_last_reload_successful 1"))
	eventually(t, 10*time.Second, "the check removed", func() bool {
		code, _ := p.get("/api/v1/checks/web-app-home")
		return code == http.StatusNotFound
	})
}
