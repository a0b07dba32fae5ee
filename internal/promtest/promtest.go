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
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/syncbuf"
	"github.com/tocsin/tocsin/internal/testproc"
)

// Binary is where prometheus is expected when it is not on $PATH (Debian's
// prometheus package).
const Binary = "/usr/bin/prometheus"

const (
	startAttempts = 3
	startTimeout  = 30 * time.Second
	stopTimeout   = 10 * time.Second
)

// Server is one running Prometheus process owned by a test.
type Server struct {
	bin    string
	dir    string
	config string
	port   int
	client *http.Client

	mu     sync.Mutex
	proc   *process        // nil once stopped
	output *syncbuf.Buffer // of the latest run, kept after Stop
}

// process is one run of prometheus.
type process = testproc.Process

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
	s := &Server{
		bin:    bin,
		dir:    dir,
		config: filepath.Join(dir, "prometheus.yml"),
		// No keep-alive: nothing outlives a request, so leak checks of the
		// calling package stay quiet.
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}},
	}
	if err := os.WriteFile(s.config, renderConfig(abs, scrapeTargets), 0o600); err != nil {
		t.Fatalf("promtest: write config: %v", err)
	}
	t.Cleanup(s.Stop)

	err := testproc.OnFreePorts(startAttempts, 1, func(ports []int) error {
		s.port = ports[0]
		return s.start()
	}, func(err error) bool {
		// Any failure but a lost port (a rule file that does not load)
		// would only repeat.
		return strings.Contains(err.Error(), "address already in use") || errors.Is(err, errNotOurs)
	})
	if err != nil {
		t.Fatalf("promtest: start prometheus: %v", err)
	}
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's base URL, "http://127.0.0.1:PORT", the one tocsin's
// prometheus queue source takes.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Output is what Prometheus has logged so far, for failure messages.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

// Stop terminates Prometheus with SIGTERM and waits for it to exit (killing
// it after 10 s), so that tests can see what happens when it goes away.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.Stop(syscall.SIGTERM, stopTimeout)
}

// start runs prometheus on s.port and waits until it is ready and proven to
// be ours.
func (s *Server) start() error {
	out := &syncbuf.Buffer{}
	cmd := exec.Command(s.bin,
		"--config.file="+s.config,
		"--storage.tsdb.path="+filepath.Join(s.dir, "data"),
		"--web.listen-address="+s.Addr(),
		"--web.enable-lifecycle",
		"--log.level=warn",
	)
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	p, err := testproc.Start(cmd)
	if err != nil {
		return err
	}
	if err := s.waitReady(p); err != nil {
		p.Stop(syscall.SIGKILL, stopTimeout)
		return fmt.Errorf("port %d: %w; output:\n%s", s.port, err, out.String())
	}
	s.mu.Lock()
	s.proc, s.output = p, out
	s.mu.Unlock()
	return nil
}

// waitReady polls /-/ready until it answers 200, the process exits or time
// is up, then checks the server answering is the one we started.
func (s *Server) waitReady(p *process) error {
	if err := p.WaitReady(startTimeout, 50*time.Millisecond, s.ready); err != nil {
		return err
	}
	return s.checkOwner()
}

// ready asks /-/ready once.
func (s *Server) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/-/ready", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/-/ready: HTTP %d", resp.StatusCode)
	}
	return nil
}

// checkOwner makes sure the server answering is the process we started, not
// another test's Prometheus that won the race for the port: its config file
// flag must be ours.
func (s *Server) checkOwner() error {
	var flags map[string]string
	if err := s.api(context.Background(), "/api/v1/status/flags", &flags); err != nil {
		return fmt.Errorf("read flags: %w", err)
	}
	if got := flags["config.file"]; got != s.config {
		return fmt.Errorf("%w (config %q, want %q)", errNotOurs, got, s.config)
	}
	return nil
}

// errNotOurs means another Prometheus answered on the port we picked.
var errNotOurs = errors.New("port answered by another prometheus")
