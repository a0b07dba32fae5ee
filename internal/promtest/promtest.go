// Package promtest runs a real, throwaway Prometheus server for tests.
//
// Each Server listens on 127.0.0.1 on a random free port, keeps its TSDB in
// the test's temporary directory, scrapes the given targets every second,
// evaluates its rule files every second and is stopped when the test ends.
// Prometheus hands new targets to its scraper on a five-second tick, so the
// first scrape comes about 5 s after Start returns: wait for data with
// WaitForSeries, and start the server early in a test.
// Tests that need Prometheus fail, never skip, when it is not installed: a
// skipped test hides a missing dependency.
package promtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tocsin/tocsin/internal/testproc"
)

// Binary is where prometheus is expected when it is not on $PATH (Debian's
// prometheus package).
const Binary = "/usr/bin/prometheus"

// Server is one running Prometheus process owned by a test.
type Server struct {
	srv *testproc.PromServer
}

// Start runs Prometheus scraping the given host:port targets (path
// /metrics, every second, job "test") and stops it when the test ends. It
// returns once Prometheus is ready; the first scrape may still be under way,
// see WaitForSeries. It fails the test if prometheus is not installed.
func Start(t testing.TB, scrapeTargets ...string) *Server {
	t.Helper()
	return StartWithRules(t, nil, scrapeTargets...)
}

// StartWithRules is Start with rule files (recording and alerting rules in
// Prometheus' format), given as paths, relative ones to the test's working
// directory. Rules are evaluated every second; a file that does not load
// fails the test with Prometheus' own message. Firing alerts show as the
// ALERTS series: WaitForSeries(t, `ALERTS{alertname="X",alertstate="firing"}`, d).
func StartWithRules(t testing.TB, rules []string, scrapeTargets ...string) *Server {
	t.Helper()
	bin := testproc.Find(t, "prometheus", Binary,
		"run ./scripts/test, which installs it (Debian/Ubuntu: apt-get install -y prometheus)")
	abs := make([]string, len(rules))
	for i, r := range rules {
		var err error
		if abs[i], err = filepath.Abs(r); err != nil {
			t.Fatalf("promtest: rule file %s: %v", r, err)
		}
		if _, err := os.Stat(abs[i]); err != nil {
			t.Fatalf("promtest: rule file: %v", err)
		}
	}
	dir := t.TempDir()
	s := &Server{}
	s.srv = &testproc.PromServer{
		Bin:    bin,
		Dir:    dir,
		Config: filepath.Join(dir, "prometheus.yml"),
		Args: []string{
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.enable-lifecycle",
		},
		Owned: s.checkOwner,
	}
	if err := os.WriteFile(s.srv.Config, renderConfig(abs, scrapeTargets), 0o600); err != nil {
		t.Fatalf("promtest: write config: %v", err)
	}
	s.srv.Run(t, "promtest: start prometheus")
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return s.srv.Addr() }

// URL is the server's base URL, "http://127.0.0.1:PORT", the one tocsin's
// prometheus queue source takes.
func (s *Server) URL() string { return s.srv.URL() }

// Output is what Prometheus has logged so far, for failure messages.
func (s *Server) Output() string { return s.srv.Output() }

// Stop terminates Prometheus with SIGTERM and waits for it to exit (killing
// it after 10 s), so that tests can see what happens when it goes away.
// Stopping a stopped server does nothing.
func (s *Server) Stop() { s.srv.Stop() }

// checkOwner makes sure the server answering is the process we started, not
// another test's Prometheus that won the race for the port: its config file
// flag must be ours.
func (s *Server) checkOwner() error {
	var flags map[string]string
	if err := s.api(context.Background(), "/api/v1/status/flags", &flags); err != nil {
		return fmt.Errorf("read flags: %w", err)
	}
	if got := flags["config.file"]; got != s.srv.Config {
		return fmt.Errorf("%w (a prometheus with config %q, want %q)", testproc.ErrNotOurs, got, s.srv.Config)
	}
	return nil
}
