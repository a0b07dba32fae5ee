// Package rabbittest runs a real, throwaway RabbitMQ broker with the
// management plugin for tests.
//
// Each Broker is a rabbitmq-server started in the foreground with its own
// epmd, bound only to 127.0.0.1 on random free ports (AMQP, management HTTP,
// Erlang distribution, epmd), with its node name, database, logs,
// configuration and Erlang cookie in the test's temporary directory. It is
// killed, with every process it started, when the test ends. Tests that need
// RabbitMQ fail, never skip, when it is not installed: a skipped test hides
// a missing dependency.
//
// A broker takes several seconds to start; share one per test package run
// (one top-level test with subtests) rather than one per test.
package rabbittest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/testport"
	"github.com/tocsin/tocsin/internal/testproc"
)

// The test administrator every Broker has: created by RabbitMQ at first
// boot from default_user and default_pass, with every permission on "/".
const (
	Username = "tocsin-admin"
	Password = "tocsin-test-password"
)

// ServerScript is where Debian's package keeps the real start script;
// /usr/sbin/rabbitmq-server is a wrapper that switches to the rabbitmq user
// and redirects the output to /var/log.
const ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server"

const (
	startAttempts = 3
	// startTimeout is generous: a broker boots in 5-15 s on an idle
	// machine, and go test runs packages in parallel.
	startTimeout = 90 * time.Second
	stopTimeout  = 10 * time.Second
)

const installHint = "run ./scripts/test, which installs rabbitmq-server and amqp-tools " +
	"(Debian/Ubuntu: apt-get install -y rabbitmq-server amqp-tools)"

// Broker is one RabbitMQ node owned by a test.
type Broker struct {
	server, epmdBin string
	dir             string
	amqpPort        int
	mgmtPort        int
	distPort        int
	epmdPort        int
	client          *http.Client

	mu   sync.Mutex
	proc *process // rabbitmq-server; nil while stopped
	epmd *process
}

// Start starts a broker and kills it when the test ends. It fails the test
// if RabbitMQ is not installed or does not come up.
func Start(t testing.TB) *Broker {
	t.Helper()
	server, epmd := findBinaries(t)
	b := &Broker{
		server:  server,
		epmdBin: epmd,
		dir:     t.TempDir(),
		// No keep-alive: nothing of ours stays connected, or running, after
		// a request.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	// Registered after TempDir's cleanup, so it runs before the directory
	// is removed.
	t.Cleanup(b.shutdown)
	start := time.Now()
	if err := testproc.OnFreePorts(startAttempts, 4, b.boot, nil); err != nil {
		t.Fatalf("rabbittest: start RabbitMQ: %v", err)
	}
	t.Logf("rabbittest: RabbitMQ node %s up in %s", b.Node(), time.Since(start).Round(100*time.Millisecond))
	return b
}

// findBinaries locates the start script and epmd or fails the test.
func findBinaries(t testing.TB) (server, epmd string) {
	t.Helper()
	server = ServerScript
	if _, err := os.Stat(server); err != nil {
		if server, err = exec.LookPath("rabbitmq-server"); err != nil {
			t.Fatalf("rabbittest: rabbitmq-server is not installed (not at %s, not on $PATH); %s",
				ServerScript, installHint)
		}
	}
	return server, testproc.Find(t, "epmd", "/usr/lib/erlang/bin/epmd", installHint)
}

// boot takes its ports, writes the configuration and starts epmd and the
// broker. On failure nothing is left running.
func (b *Broker) boot(ports []int) error {
	b.amqpPort, b.mgmtPort, b.distPort, b.epmdPort = ports[0], ports[1], ports[2], ports[3]
	if err := b.writeConfig(); err != nil {
		return err
	}
	if err := b.startEpmd(); err != nil {
		return err
	}
	if err := b.startServer(); err != nil {
		b.mu.Lock()
		b.epmd.stop()
		b.epmd = nil
		b.mu.Unlock()
		return err
	}
	return nil
}

// MgmtURL is the base URL of the management HTTP API, without credentials.
func (b *Broker) MgmtURL() string { return "http://" + testport.HostPort(b.mgmtPort) }

// AMQPAddr is host:port of the AMQP 0-9-1 listener.
func (b *Broker) AMQPAddr() string { return testport.HostPort(b.amqpPort) }

// Ports lists every TCP port the broker listens on, all on 127.0.0.1:
// AMQP, management HTTP, Erlang distribution and its epmd.
func (b *Broker) Ports() []int { return []int{b.amqpPort, b.mgmtPort, b.distPort, b.epmdPort} }

// Node is the broker's Erlang node name, unique per broker.
func (b *Broker) Node() string { return "tocsin-" + strconv.Itoa(b.amqpPort) + "@localhost" }

// Stop kills the broker (not gracefully: SIGKILL) and waits until its
// processes are gone and its ports refuse connections. Durable queues
// survive for Restart. Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		b.proc.stop()
		b.proc = nil
	}
}

// Restart starts a stopped (or running) broker again on the same ports, node
// name and database.
func (b *Broker) Restart(t testing.TB) {
	t.Helper()
	b.Stop()
	var err error
	start := time.Now()
	for range startAttempts {
		if err = b.startServer(); err == nil {
			t.Logf("rabbittest: RabbitMQ node %s restarted in %s", b.Node(), time.Since(start).Round(100*time.Millisecond))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("rabbittest: restart RabbitMQ: %v", err)
}

// shutdown stops the broker and its epmd.
func (b *Broker) shutdown() {
	b.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.epmd != nil {
		b.epmd.stop()
		b.epmd = nil
	}
}

// path is a file in the broker's directory.
func (b *Broker) path(name string) string { return filepath.Join(b.dir, name) }

// writeConfig writes rabbitmq.conf and enabled_plugins.
func (b *Broker) writeConfig() error {
	conf := strings.Join([]string{
		"listeners.tcp.default = " + testport.HostPort(b.amqpPort),
		"management.tcp.ip = 127.0.0.1",
		"management.tcp.port = " + strconv.Itoa(b.mgmtPort),
		"default_user = " + Username,
		"default_pass = " + Password,
		"default_user_tags.administrator = true",
		"loopback_users = none",
		// Queue figures in the management API refresh at the statistics
		// interval and are sampled at the retention policies' step (both
		// 5 s by default); tests wait for them.
		"collect_statistics_interval = 500",
		"management.sample_retention_policies.global.minute = 1",
		"management.sample_retention_policies.basic.minute = 1",
		"management.sample_retention_policies.detailed.10 = 1",
		// A small temporary file system must not block publishers.
		"disk_free_limit.absolute = 1MB",
		"log.file.level = info",
		"",
	}, "\n")
	if err := os.WriteFile(b.path("rabbitmq.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	return os.WriteFile(b.path("enabled_plugins"), []byte("[rabbitmq_management].\n"), 0o600)
}

// env is the environment of epmd and the broker: the caller's, minus any
// RabbitMQ or Erlang settings, plus ours. HOME holds the Erlang cookie.
func (b *Broker) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RABBITMQ_") && !strings.HasPrefix(kv, "ERL_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+b.dir,
		"RABBITMQ_NODENAME="+b.Node(),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(b.amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(b.distPort),
		// Without this the distribution port listens on every interface.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"ERL_EPMD_PORT="+strconv.Itoa(b.epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_MNESIA_BASE="+b.path("mnesia"),
		"RABBITMQ_LOG_BASE="+b.path("log"),
		"RABBITMQ_CONFIG_FILE="+b.path("rabbitmq.conf"),
		// Neither exists: keep /etc/rabbitmq out of it.
		"RABBITMQ_ADVANCED_CONFIG_FILE="+b.path("advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+b.path("rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+b.path("enabled_plugins"),
	)
}

// startEpmd runs an epmd of our own in the foreground on epmdPort. Left to
// itself, erl would start one with -daemon, which escapes our process group
// and outlives the test.
func (b *Broker) startEpmd() error {
	p, err := run(b.path("epmd.out"), b.env(), b.epmdBin,
		"-port", strconv.Itoa(b.epmdPort), "-address", "127.0.0.1")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.Exited() {
			return fmt.Errorf("epmd on port %d exited: %w; output:\n%s", b.epmdPort, p.ExitError(), p.output())
		}
		if c, err := net.DialTimeout("tcp", testport.HostPort(b.epmdPort), time.Second); err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			return fmt.Errorf("epmd on port %d: not listening after 10s", b.epmdPort)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.mu.Lock()
	b.epmd = p
	b.mu.Unlock()
	return nil
}

// startServer runs rabbitmq-server in the foreground and waits until the
// management API answers for our node.
func (b *Broker) startServer() error {
	p, err := run(b.path("server.out"), b.env(), b.server)
	if err != nil {
		return err
	}
	if err := b.waitReady(p); err != nil {
		p.stop()
		return fmt.Errorf("node %s: %w\n--- output:\n%s\n--- log:\n%s", b.Node(), err,
			p.output(), tail(filepath.Join(b.path("log"), b.Node()+".log"), 30))
	}
	b.mu.Lock()
	b.proc = p
	b.mu.Unlock()
	return nil
}

// waitReady polls GET /api/overview until it answers 200 for our node —
// not another test's broker that won the race for the port — the process
// exits or time is up.
func (b *Broker) waitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	for {
		if p.Exited() {
			return fmt.Errorf("rabbitmq-server exited: %w", p.ExitError())
		}
		err := b.checkOverview()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s: %w", startTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkOverview asks the management API for the overview and checks that
// our node answered.
func (b *Broker) checkOverview() error {
	status, body, err := b.do(http.MethodGet, "/api/overview", nil)
	switch {
	case err != nil:
		return err
	case status != http.StatusOK:
		return fmt.Errorf("GET /api/overview: HTTP %d: %.200s", status, body)
	case !strings.Contains(string(body), `"node":"`+b.Node()+`"`):
		return fmt.Errorf("GET /api/overview: answered by another node: %.200s", body)
	}
	return nil
}
