// Package redistest runs a real, throwaway redis-server for tests.
//
// Each Server listens on 127.0.0.1 on a random free port, keeps nothing on
// disk (no RDB, no AOF; StartDurable turns the AOF on) and is stopped when the test ends. Tests that need
// Redis fail, never skip, when redis-server is not installed: a skipped store
// test hides a missing dependency.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/syncbuf"
	"github.com/tocsin/tocsin/internal/testproc"
)

// Binary is where redis-server is expected when it is not on $PATH.
const Binary = "/usr/bin/redis-server"

const (
	startAttempts = 5
	startTimeout  = 10 * time.Second
	stopTimeout   = 10 * time.Second
)

// Server is one running redis-server process owned by a test.
type Server struct {
	bin     string
	dir     string
	port    int
	durable bool
	args    []string // more redis-server arguments, kept for Restart

	mu   sync.Mutex
	proc *process // nil while stopped
}

// process is one run of redis-server.
type process = testproc.Process

// Start starts a redis-server on 127.0.0.1 on a free port and stops it when
// the test ends. It fails the test if redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartDurable is Start with the append-only file on (fsync always), as in
// production: data survives Stop and Restart.
func StartDurable(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

func start(t testing.TB, durable bool) *Server {
	t.Helper()
	return startWith(t, serverOpts{durable: durable})
}

// serverOpts is what the sentinel and cluster harnesses need beyond a plain
// server.
type serverOpts struct {
	durable bool
	// ports is how many free ports to pick (0 means 1); the first is the
	// server's, the others are for args, such as a cluster bus port.
	ports int
	// args returns more redis-server arguments given the server's directory
	// and the picked ports; it may be nil.
	args func(dir string, ports []int) []string
}

func startWith(t testing.TB, o serverOpts) *Server {
	t.Helper()
	bin := testproc.Find(t, "redis-server", Binary,
		"run ./scripts/test, which installs it (Debian/Ubuntu: apt-get install -y redis-server)")
	s := &Server{bin: bin, dir: t.TempDir(), durable: o.durable}
	t.Cleanup(s.Stop)
	err := testproc.OnFreePorts(startAttempts, max(o.ports, 1), func(ports []int) error {
		s.port = ports[0]
		if o.args != nil {
			s.args = o.args(s.dir, ports)
		}
		return s.start()
	}, nil)
	if err != nil {
		t.Fatalf("redistest: start redis-server: %v", err)
	}
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's port, which it keeps across Restart.
func (s *Server) Port() int { return s.port }

// URL is the server's redis:// URL with database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a client of the server with short timeouts, closed when the
// test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  s.Addr(),
		DialTimeout:           time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop terminates the server with SIGTERM and waits for it to exit, so tests
// can see what happens when Redis goes away. Stopping a stopped server does
// nothing.
func (s *Server) Stop() { s.end(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash or the OOM killer would:
// no shutdown, no goodbye to clients or replicas. It waits for the exit;
// the server is then stopped, so Stop does nothing and Restart starts it.
func (s *Server) Kill() { s.end(syscall.SIGKILL) }

func (s *Server) end(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	// A paused server would not act on SIGTERM before stopTimeout.
	_ = p.Cmd.Process.Signal(syscall.SIGCONT)
	p.Stop(sig, stopTimeout)
}

// Pause freezes the server with SIGSTOP: its connections stay open but it
// answers nothing, as behind a network partition or in a long stall, which
// is what makes Sentinel fail over without the server knowing. A stopped
// server is left alone.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT); it finds the world as
// the others left it, for example demoted by Sentinel.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		_ = s.proc.Cmd.Process.Signal(sig)
	}
}

// Restart starts a stopped server again on the same port and directory. The
// data is gone: the server keeps nothing on disk.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel or a
	// racing test holds it.
	for range startAttempts {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr(), err)
}

// CommandStats returns how many times each command was called since the
// server started, from INFO commandstats, keyed by lower-case command name
// ("get", "evalsha", "client|setinfo"). The INFO call and the connection
// set-up of the client used to make it are counted too, so compare the
// commands you care about, or differences between two calls.
func (s *Server) CommandStats(t testing.TB) map[string]int64 {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:            s.Addr(),
		DialTimeout:     time.Second,
		ReadTimeout:     2 * time.Second,
		DisableIdentity: true,
	})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatalf("redistest: INFO commandstats: %v", err)
	}
	stats, err := ParseCommandStats(info)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return stats
}

// ParseCommandStats parses the text of INFO commandstats into calls per
// command.
func ParseCommandStats(info string) (map[string]int64, error) {
	stats := make(map[string]int64)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		// cmdstat_get:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("parse commandstats line %q: no colon", line)
		}
		found := false
		for f := range strings.SplitSeq(fields, ",") {
			v, ok := strings.CutPrefix(f, "calls=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse commandstats line %q: %w", line, err)
			}
			stats[strings.ToLower(name)] = n
			found = true
		}
		if !found {
			return nil, fmt.Errorf("parse commandstats line %q: no calls field", line)
		}
	}
	return stats, sc.Err()
}

// start runs redis-server on s.port and waits until it answers PING. The
// caller holds no lock.
func (s *Server) start() error {
	out := &syncbuf.Buffer{}
	aof := []string{"--appendonly", "no"}
	if s.durable {
		aof = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	cmd := exec.Command(s.bin, append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	}, append(aof, s.args...)...)...)
	cmd.Stdout = out
	cmd.Stderr = out
	p, err := testproc.Start(cmd)
	if err != nil {
		return err
	}
	if err := waitReady(s.Addr(), p); err != nil {
		p.Stop(syscall.SIGKILL, stopTimeout)
		return fmt.Errorf("port %d: %w; output:\n%s", s.port, err, out.String())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitReady polls PING on addr until p answers it, p exits or time is up.
func waitReady(addr string, p *process) error {
	c := redis.NewClient(&redis.Options{
		Addr:            addr,
		DialTimeout:     200 * time.Millisecond,
		ReadTimeout:     200 * time.Millisecond,
		MaxRetries:      -1,
		DisableIdentity: true,
	})
	defer c.Close()
	return p.WaitReady(startTimeout, 20*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("no PONG: %w", err)
		}
		return checkPID(ctx, c, p.Cmd.Process.Pid)
	})
}

// checkPID makes sure the server answering is the process we started, not
// another test's redis-server that won the race for the port.
func checkPID(ctx context.Context, c *redis.Client, pid int) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if v != strconv.Itoa(pid) {
				return fmt.Errorf("port answered by process %s, not ours (%d)", v, pid)
			}
			return nil
		}
	}
	return errors.New("INFO server has no process_id")
}

// waitFor calls cond every 50ms until it returns nil and fails t with the
// last error after timeout. Each call gets its own deadline, so a frozen
// server cannot stall the wait past it.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || t.Context().Err() != nil {
			t.Fatalf("redistest: %s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dial is a client for the harnesses' own checks and set-up: no retries,
// nothing extra sent on connect, the caller's deadline over the default.
func dial(addr string) *redis.Client { return redis.NewClient(checkOptions(addr)) }

func checkOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DisableIdentity:       true,
	}
}
