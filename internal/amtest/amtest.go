// Package amtest runs a real, throwaway Alertmanager for tests.
//
// Each Server is Debian's prometheus-alertmanager listening on 127.0.0.1
// on a random free port, with clustering disabled, its storage in the
// test's temporary directory and a config that routes every alert to one
// receiver that notifies no one. It is stopped when the test ends.
//
// What the API lists, as found by experiment with Alertmanager 0.25.0
// (Debian's) and in its source (api/v2's alertFilter):
//
//   - An alert posted without endsAt is listed at once with state
//     "active" and endsAt = the time it was posted + resolve_timeout
//     (5 minutes), updated by every new post of the same labels.
//   - An alert whose endsAt has passed — a resolved one — is not listed
//     at all: it disappears from GET /api/v2/alerts (whatever its active,
//     silenced, inhibited and unprocessed filters say), from
//     /api/v2/alerts/groups and from /api/v1/alerts as soon as endsAt is
//     in the past, though Alertmanager keeps it in memory until its alert
//     GC (--alerts.gc-interval, 30 minutes) to send the resolved
//     notification. It is never listed with a past endsAt.
//   - An alert posted already ended (endsAt in the past, labels never
//     seen) is accepted (200) and never listed.
//   - An alert posted with endsAt in the future is listed as active with
//     that endsAt until it passes, then disappears without another post.
//   - Posting the labels of a resolved alert again without endsAt starts a
//     new alert (the new startsAt), active again.
//
// So "the alert was ended" reads as "no alert with these labels is
// listed"; see Server.WaitForAlerts.
// Tests that need Alertmanager fail, never skip, when it is not installed:
// a skipped test hides a missing dependency.
package amtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/testproc"
)

// Binary is where Alertmanager is expected when it is not on $PATH
// (Debian's prometheus-alertmanager package).
const Binary = "/usr/bin/prometheus-alertmanager"

// Server is one running Alertmanager process owned by a test.
type Server struct {
	srv *testproc.PromServer
	// templates is the (empty) template glob of the config: a path only
	// this Server uses, which proves an answering Alertmanager is ours.
	templates string
}

// Start runs Alertmanager and stops it when the test ends. It returns once
// /-/ready answers 200. It fails the test if Alertmanager is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := testproc.Find(t, "prometheus-alertmanager", Binary,
		"run ./scripts/test, which installs it (Debian/Ubuntu: apt-get install -y prometheus-alertmanager)")
	dir := t.TempDir()
	s := &Server{templates: filepath.Join(dir, "templates", "*.tmpl")}
	s.srv = &testproc.PromServer{
		Bin:    bin,
		Dir:    dir,
		Config: filepath.Join(dir, "alertmanager.yml"),
		Args: []string{
			"--storage.path=" + filepath.Join(dir, "data"),
			// Empty: no gossip listener, so no second port to race for
			// and no peers to wait for.
			"--cluster.listen-address=",
		},
		Owned: s.checkOwner,
	}
	if err := os.WriteFile(s.srv.Config, renderConfig(s.templates), 0o600); err != nil {
		t.Fatalf("amtest: write config: %v", err)
	}
	s.srv.Run(t, "amtest: start alertmanager")
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return s.srv.Addr() }

// URL is the server's base URL, "http://127.0.0.1:PORT", the one tocsin's
// alertmanager receiver takes.
func (s *Server) URL() string { return s.srv.URL() }

// Output is what Alertmanager has logged so far (warnings and errors), for
// failure messages.
func (s *Server) Output() string { return s.srv.Output() }

// Stop terminates Alertmanager with SIGTERM and waits for it to exit
// (killing it after 10 s). Stopping a stopped server does nothing.
func (s *Server) Stop() { s.srv.Stop() }

// checkOwner makes sure the server answering is the process we started,
// not another test's Alertmanager that won the race for the port: the
// config it loaded must name our template glob.
func (s *Server) checkOwner() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var status struct {
		Config struct {
			Original string `json:"original"`
		} `json:"config"`
	}
	if err := s.getJSON(ctx, "/api/v2/status", &status); err != nil {
		return fmt.Errorf("read status: %w", err)
	}
	if !strings.Contains(status.Config.Original, s.templates) {
		return fmt.Errorf("%w (an alertmanager whose config does not name %s)", testproc.ErrNotOurs, s.templates)
	}
	return nil
}

// getJSON GETs a path and decodes its 200 answer into v.
func (s *Server) getJSON(ctx context.Context, path string, v any) error {
	status, body, err := s.srv.Get(ctx, path)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", path, status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// renderConfig writes alertmanager.yml: every alert to the receiver "null",
// which has no integrations, and the template glob that marks the server
// as ours (it matches no file, which Alertmanager accepts).
func renderConfig(templates string) []byte {
	// A JSON string is a valid YAML double-quoted scalar.
	glob, _ := json.Marshal(templates)
	return []byte("route: {receiver: \"null\"}\nreceivers: [{name: \"null\"}]\ntemplates: [" + string(glob) + "]\n")
}

// Alert is an alert as GET /api/v2/alerts lists it.
type Alert struct {
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	// State is status.state: "active", "suppressed" (silenced or
	// inhibited) or "unprocessed".
	State string
}

// Has reports whether a's labels include every pair of labels.
func (a Alert) Has(labels map[string]string) bool {
	for k, v := range labels {
		if got, ok := a.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Select returns the alerts that have every pair of labels.
func Select(alerts []Alert, labels map[string]string) []Alert {
	var out []Alert
	for _, a := range alerts {
		if a.Has(labels) {
			out = append(out, a)
		}
	}
	return out
}

// Alerts lists the alerts Alertmanager holds now (GET /api/v2/alerts with
// its default filters: active, silenced, inhibited and unprocessed ones;
// never resolved ones, see the package doc). It fails the test if the API
// does not answer.
func (s *Server) Alerts(t testing.TB) []Alert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	alerts, err := s.alerts(ctx)
	if err != nil {
		t.Fatalf("amtest: list alerts: %v\nalertmanager log:\n%s", err, s.Output())
	}
	return alerts
}

// WaitForAlerts polls the alerts every 50 ms until ok accepts them and
// returns them; it fails the test, saying what was awaited and what was
// last listed, if that does not happen within timeout. Alertmanager
// usually lists a posted alert at once; the wait covers the time it may
// take on a loaded machine.
func (s *Server) WaitForAlerts(t testing.TB, what string, timeout time.Duration, ok func([]Alert) bool) []Alert {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		alerts, err := s.alerts(ctx)
		cancel()
		if err == nil && ok(alerts) {
			return alerts
		}
		if time.Now().After(deadline) {
			last := fmt.Sprintf("%+v", alerts)
			if err != nil {
				last = err.Error()
			}
			t.Fatalf("amtest: not within %s: %s; last listed: %s\nalertmanager log:\n%s",
				timeout, what, last, s.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alerts reads GET /api/v2/alerts once.
func (s *Server) alerts(ctx context.Context) ([]Alert, error) {
	var raw []struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Status       struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := s.getJSON(ctx, "/api/v2/alerts", &raw); err != nil {
		return nil, err
	}
	out := make([]Alert, 0, len(raw))
	for _, r := range raw {
		out = append(out, Alert{Labels: r.Labels, Annotations: r.Annotations, StartsAt: r.StartsAt,
			EndsAt: r.EndsAt, GeneratorURL: r.GeneratorURL, State: r.Status.State})
	}
	return out, nil
}
