package testproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/syncbuf"
)

const (
	promStartAttempts = 3
	promStartTimeout  = 30 * time.Second
	promStopTimeout   = 10 * time.Second
)

// ErrNotOurs is what a PromServer's Owned check wraps when the server
// answering on the port is not the process Start ran: another test's daemon
// won the race for the port, and Start tries again on another.
var ErrNotOurs = errors.New("port answered by a server we did not start")

// PromServer is a daemon of the Prometheus family (Prometheus itself,
// Alertmanager) run for a test: it takes its config file in --config.file,
// listens on the HTTP address in --web.listen-address, logs at --log.level
// and says it is ready by answering GET /-/ready with 200. Set Bin, Dir,
// Config, Args and Owned, then call Start (or Run) once; the other methods
// are for after it.
type PromServer struct {
	// Bin is the daemon's binary, run in the directory Dir.
	Bin string
	Dir string
	// Config is the path of its config file.
	Config string
	// Args are its other arguments, after the config file, the listen
	// address (127.0.0.1 and the port Start picks) and the log level
	// (warn: what a failure message needs, not every scrape).
	Args []string
	// Owned proves, once /-/ready answers, that the server answering is
	// the process Start ran: another test's daemon of the same kind may
	// have taken the port between its pick and our bind, and would answer
	// /-/ready as well. It returns an error wrapping ErrNotOurs when the
	// server is not ours.
	Owned func() error

	port   int
	client *http.Client

	mu     sync.Mutex
	proc   *Process        // nil once stopped
	output *syncbuf.Buffer // of the latest run, kept after Stop
}

// Start runs the daemon on a free port and returns once /-/ready answers
// 200 and Owned accepts the server. A lost port (the bind failed, or
// Owned says another server answered) is tried again on another port; any
// other failure, such as a config the daemon does not load, would only
// repeat and is returned with the daemon's output.
func (s *PromServer) Start() error {
	// No keep-alive: nothing outlives a request, so leak checks of the
	// calling package stay quiet.
	s.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	return OnFreePorts(promStartAttempts, 1, func(ports []int) error {
		s.port = ports[0]
		return s.start()
	}, func(err error) bool {
		return strings.Contains(err.Error(), "address already in use") || errors.Is(err, ErrNotOurs)
	})
}

// Run starts the server for t: Start, with Stop as t's cleanup. It fails t,
// its message beginning with what, if the server does not start.
func (s *PromServer) Run(t testing.TB, what string) {
	t.Helper()
	t.Cleanup(s.Stop)
	if err := s.Start(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Addr is host:port of the server.
func (s *PromServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's base URL, "http://127.0.0.1:PORT".
func (s *PromServer) URL() string { return "http://" + s.Addr() }

// Output is what the daemon has logged so far, for failure messages.
func (s *PromServer) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

// Stop terminates the daemon with SIGTERM and waits for it to exit
// (killing it after 10 s). Stopping a stopped or never started server does
// nothing, so Stop can be a test's cleanup before Start.
func (s *PromServer) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.Stop(syscall.SIGTERM, promStopTimeout)
}

// Get GETs a path of the server and returns the answer's status and body
// (its first 16 MiB: more would be a runaway answer, not one a test reads).
func (s *PromServer) Get(ctx context.Context, path string) (status int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return resp.StatusCode, body, nil
}

// start runs the daemon on s.port and waits until it is ready and proven
// to be ours; on failure it kills it, so that no attempt outlives Start.
func (s *PromServer) start() error {
	out := &syncbuf.Buffer{}
	args := append([]string{
		"--config.file=" + s.Config,
		"--web.listen-address=" + s.Addr(),
		"--log.level=warn",
	}, s.Args...)
	cmd := exec.Command(s.Bin, args...)
	cmd.Dir = s.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	p, err := Start(cmd)
	if err != nil {
		return err
	}
	if err := s.waitReady(p); err != nil {
		p.Stop(syscall.SIGKILL, promStopTimeout)
		return fmt.Errorf("port %d: %w; output:\n%s", s.port, err, out.String())
	}
	s.mu.Lock()
	s.proc, s.output = p, out
	s.mu.Unlock()
	return nil
}

// waitReady polls /-/ready until it answers 200, the process exits or time
// is up, then checks the server answering is the one we started.
func (s *PromServer) waitReady(p *Process) error {
	if err := p.WaitReady(promStartTimeout, 50*time.Millisecond, s.ready); err != nil {
		return err
	}
	return s.Owned()
}

// ready asks /-/ready once.
func (s *PromServer) ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	status, _, err := s.Get(ctx, "/-/ready")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("/-/ready: HTTP %d", status)
	}
	return nil
}
