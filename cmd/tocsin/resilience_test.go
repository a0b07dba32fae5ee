package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/acme"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/internal/syncbuf"
)

// TestRedisGoesAway (SCENARIOS.md 8): Redis stops during an open incident,
// under one process or three replicas. Probing goes on, the status API
// keeps serving the last snapshot marked stale, /readyz fails; the target
// recovers meanwhile; when Redis is back the change lands and the same
// incident resolves. Never a duplicate.
func TestRedisGoesAway(t *testing.T) {
	t.Parallel()
	e2eReplicas(t, true, func(t *testing.T, n int, rds *redistest.Server, web *acme.Service, _ string, ps []*proc) {
		web.SetStatus(http.StatusServiceUnavailable)
		id := waitIncident(t, ps[0], func(spIncident) bool { return true }).ID
		for _, p := range ps[1:] { // every replica has read it
			waitIncident(t, p, func(in spIncident) bool { return in.ID == id })
		}

		rds.Stop()
		for _, p := range ps {
			eventually(t, 10*time.Second, "stale status served", func() bool {
				resp, err := http.Get(p.base + "/api/v2/summary.json")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK && resp.Header.Get("X-Tocsin-Stale") == "true"
			})
			if got := p.incidents("/api/v2/incidents/unresolved.json"); len(got) != 1 || got[0].ID != id {
				t.Errorf("while Redis is down the last snapshot should still show %s: %+v", id, got)
			}
			eventually(t, 10*time.Second, "/readyz fails", func() bool {
				code, _ := p.get("/readyz")
				return code == http.StatusServiceUnavailable
			})
		}
		web.Heal()
		// Probes keep running meanwhile; their results must not be lost.
		healed := web.Requests()
		eventually(t, 10*time.Second, "the target probed healthy with Redis down", func() bool {
			return web.Requests() >= healed+3
		})

		rds.Restart(t)
		for _, p := range ps {
			eventually(t, 15*time.Second, "resolved after Redis is back", func() bool {
				all := p.incidents("/api/v2/incidents.json")
				return len(all) == 1 && all[0].ID == id && all[0].Status == "resolved"
			})
			code, _ := p.get("/readyz")
			if code != http.StatusOK {
				t.Errorf("/readyz = %d after Redis is back", code)
			}
		}
		logged := false
		for _, p := range ps {
			logged = logged || strings.Contains(p.out.String(), "failed; will retry")
		}
		if !logged {
			t.Error("store errors were not logged")
		}
	})
}

// TestInvalidReloadKeepsOldConfig (SCENARIOS.md 11): an invalid config
// written over a valid one is rejected, logged and counted by every
// replica; the old config stays in force.
func TestInvalidReloadKeepsOldConfig(t *testing.T) {
	t.Parallel()
	e2eReplicas(t, false, func(t *testing.T, _ int, _ *redistest.Server, web *acme.Service, cfg string, ps []*proc) {
		eventually(t, 15*time.Second, "check up", func() bool { return ps[0].checkStatus("web-app-home") == "up" })

		if err := os.WriteFile(cfg, []byte("checks: [{name: BAD NAME}]\nbogus: 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			eventually(t, 10*time.Second, "reload failure counted", func() bool {
				_, m := p.get("/metrics")
				return strings.Contains(string(m), `tocsin_config_reloads_total{result="failure"} 1`)
			})
			// The output reaches the buffer through a pipe: poll it.
			eventually(t, 10*time.Second, "the rejection logged with its reason", func() bool {
				out := p.out.String()
				return strings.Contains(out, "config reload rejected") && strings.Contains(out, "bogus: unknown key")
			})
		}
		// The old config still probes: a failure still opens an incident,
		// one.
		web.SetStatus(http.StatusInternalServerError)
		eventually(t, 10*time.Second, "incident under the old config", func() bool {
			return len(ps[0].incidents("/api/v2/incidents/unresolved.json")) == 1
		})
		// SIGHUP with the same bad file: counted again, still running.
		for _, p := range ps {
			_ = p.cmd.Process.Signal(syscall.SIGHUP)
			eventually(t, 10*time.Second, "second failure counted", func() bool {
				_, m := p.get("/metrics")
				return strings.Contains(string(m), `tocsin_config_reloads_total{result="failure"} 2`)
			})
		}
		// Every replica's read model refreshes on its own; wait until
		// each has seen the incident, then none may show a second.
		for i, p := range ps {
			eventually(t, 10*time.Second, "the incident on every replica", func() bool {
				return len(p.incidents("/api/v2/incidents.json")) >= 1
			})
			if all := p.incidents("/api/v2/incidents.json"); len(all) != 1 {
				t.Errorf("replica %d: %d incidents, want 1", i, len(all))
			}
		}
	})
}

// TestValidReloadReconcilesChecks: a check added to the file is scheduled
// without a restart, and a removed one disappears with its metric series.
func TestValidReloadReconcilesChecks(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	web := startWeb(t)
	api := startWeb(t)
	cfg := e2eConfig(t, rds.URL(), web.URL())
	p := startTocsin(t, nil, "run", "--config", cfg)
	eventually(t, 10*time.Second, "first check up", func() bool { return p.checkStatus("web-app-home") == "up" })

	// The same config with web-app-home replaced by api-health.
	next := strings.Replace(readFile(t, cfg), "name: web-app-home", "name: api-health", 1)
	next = strings.Replace(next, web.URL(), api.URL(), 1)
	if err := os.WriteFile(cfg, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "new check probed", func() bool {
		code, _ := p.get("/api/v1/checks/api-health")
		_, m := p.get("/metrics")
		return code == http.StatusOK && strings.Contains(string(m), `tocsin_probe_results_total{check="api-health"`) &&
			!strings.Contains(string(m), `check="web-app-home"`)
	})
	if code, _ := p.get("/api/v1/checks/web-app-home"); code != http.StatusNotFound {
		t.Errorf("removed check still served: %d", code)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSIGHUPDuringStartup: a reload signal while tocsin is still starting
// (here: waiting on a Redis that never answers) must not kill it.
func TestSIGHUPDuringStartup(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	web := startWeb(t)
	cfg := e2eConfig(t, "redis://"+silent.Addr().String()+"/0", web.URL())
	cmd := exec.Command(tocsinBinary(t), "run", "--config", cfg)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if err := <-done; t.Failed() {
			t.Logf("tocsin exited: %v", err)
		}
	})
	// "starting tocsin" is logged after main's signal.Notify and before
	// the wait for Redis: from then on SIGHUP lands during startup.
	eventually(t, 30*time.Second, "starting tocsin logged", func() bool {
		return strings.Contains(out.String(), "starting tocsin")
	})
	_ = cmd.Process.Signal(syscall.SIGHUP)
	select {
	case err := <-done:
		done <- err
		t.Fatalf("tocsin died on SIGHUP during startup: %v\n%s", err, out.String())
	case <-time.After(2 * time.Second):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("no exit 15s after SIGTERM:\n%s", out.String())
	}
}
