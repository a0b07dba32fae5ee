package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/syncbuf"
	"github.com/tocsin/tocsin/internal/testport"
	"github.com/tocsin/tocsin/internal/testproc"
)

// SentinelBinary is where redis-sentinel is expected when it is not on $PATH.
const SentinelBinary = "/usr/bin/redis-sentinel"

const (
	masterName = "tocsin-test"
	// readyTimeout is generous: sentinels find each other through hello
	// messages sent every 2s, slower on a busy machine.
	readyTimeout = 30 * time.Second
)

// Sentinel is a primary, its replica and three sentinels watching them, the
// smallest set-up where a failover needs a quorum and a majority.
type Sentinel struct {
	servers   []*Server
	addrs     []string
	sentinels []*redis.SentinelClient
}

// StartSentinel starts the data nodes and the sentinels and returns once
// every sentinel knows all the others, so a test can fail over at once; all
// is stopped when the test ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin := testproc.Find(t, "redis-sentinel", SentinelBinary,
		"install it (Debian/Ubuntu: apt-get install -y redis-server redis-sentinel)")
	// The default 5s delay before a diskless sync would slow every start
	// and every resync after a failover.
	noDelay := []string{"--repl-diskless-sync-delay", "0"}
	primary := startWith(t, serverOpts{args: func(string, []int) []string { return noDelay }})
	replica := startWith(t, serverOpts{args: func(string, []int) []string {
		return slices.Concat(noDelay, []string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.Port())})
	}})
	waitFor(t, readyTimeout, "replica in sync", func(ctx context.Context) error {
		return replicaInSync(ctx, replica.Addr())
	})

	g := &Sentinel{servers: []*Server{primary, replica}}
	for range 3 {
		addr := startSentinelProcess(t, bin, primary.Addr())
		c := redis.NewSentinelClient(checkOptions(addr))
		t.Cleanup(func() { _ = c.Close() })
		g.addrs = append(g.addrs, addr)
		g.sentinels = append(g.sentinels, c)
	}
	waitFor(t, readyTimeout, "sentinels ready", func(ctx context.Context) error {
		for i := range g.sentinels {
			if err := g.knowsAll(ctx, i, primary, replica); err != nil {
				return fmt.Errorf("sentinel %s: %w", g.addrs[i], err)
			}
		}
		return nil
	})
	return g
}

// MasterName is the name the sentinels monitor the primary under.
func (g *Sentinel) MasterName() string { return masterName }

// SentinelAddrs are host:port of the three sentinels.
func (g *Sentinel) SentinelAddrs() []string { return append([]string(nil), g.addrs...) }

// URL is the redis+sentinel:// URL of the set-up with database 0.
func (g *Sentinel) URL() string {
	return "redis+sentinel://" + strings.Join(g.addrs, ",") + "/" + masterName + "/0"
}

// Servers are the two data nodes, the first primary first.
func (g *Sentinel) Servers() []*Server { return append([]*Server(nil), g.servers...) }

// Primary is the data node a majority of sentinels reports as master: after
// a failover, the one clients following Sentinel will write to.
func (g *Sentinel) Primary(t testing.TB) *Server {
	t.Helper()
	var primary *Server
	waitFor(t, readyTimeout, "sentinels agree on the primary", func(ctx context.Context) error {
		var err error
		primary, err = g.reported(ctx)
		return err
	})
	return primary
}

// WaitFailover waits until a majority of sentinels reports a primary other
// than old and that node has taken the role, and returns it. Sentinel may
// need more than one election round, so give it tens of seconds.
func (g *Sentinel) WaitFailover(t testing.TB, old *Server, timeout time.Duration) *Server {
	t.Helper()
	var primary *Server
	waitFor(t, timeout, "failover from "+old.Addr(), func(ctx context.Context) error {
		s, err := g.reported(ctx)
		if err != nil {
			return err
		}
		if s == old {
			return fmt.Errorf("sentinels still report %s", old.Addr())
		}
		c := dial(s.Addr())
		defer c.Close()
		role, err := c.Do(ctx, "role").Slice()
		if err != nil {
			return fmt.Errorf("ROLE on %s: %w", s.Addr(), err)
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("sentinels report %s, whose ROLE is %v", s.Addr(), role)
		}
		primary = s
		return nil
	})
	return primary
}

// reported is the data node a majority of sentinels reports as master.
func (g *Sentinel) reported(ctx context.Context) (*Server, error) {
	votes := map[string]int{}
	var errs []error
	for i, c := range g.sentinels {
		a, err := c.GetMasterAddrByName(ctx, masterName).Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("sentinel %s: %w", g.addrs[i], err))
			continue
		}
		if len(a) != 2 {
			errs = append(errs, fmt.Errorf("sentinel %s: primary address %v", g.addrs[i], a))
			continue
		}
		votes[net.JoinHostPort(a[0], a[1])]++
	}
	for addr, n := range votes {
		if n <= len(g.sentinels)/2 {
			continue
		}
		for _, s := range g.servers {
			if s.Addr() == addr {
				return s, nil
			}
		}
		return nil, fmt.Errorf("sentinels report %s, none of ours", addr)
	}
	return nil, fmt.Errorf("no majority for a primary: %v %w", votes, errors.Join(errs...))
}

// knowsAll checks that sentinel i reports primary, is connected to replica
// and to the other sentinels: without them it could not vote or promote.
func (g *Sentinel) knowsAll(ctx context.Context, i int, primary, replica *Server) error {
	c := g.sentinels[i]
	a, err := c.GetMasterAddrByName(ctx, masterName).Result()
	if err != nil {
		return err
	}
	if len(a) != 2 || net.JoinHostPort(a[0], a[1]) != primary.Addr() {
		return fmt.Errorf("reports primary %v, want %s", a, primary.Addr())
	}
	replicas, err := c.Replicas(ctx, masterName).Result()
	if err != nil {
		return err
	}
	if !hasInstance(replicas, replica.Addr(), "slave") {
		return fmt.Errorf("replica %s not known and up: %v", replica.Addr(), replicas)
	}
	sentinels, err := c.Sentinels(ctx, masterName).Result()
	if err != nil {
		return err
	}
	for j, addr := range g.addrs {
		if j != i && !hasInstance(sentinels, addr, "sentinel") {
			return fmt.Errorf("sentinel %s not known and up: %v", addr, sentinels)
		}
	}
	return nil
}

// hasInstance reports whether SENTINEL REPLICAS or SENTINELS lists addr
// with exactly flags: no s_down, no disconnected.
func hasInstance(instances []map[string]string, addr, flags string) bool {
	for _, in := range instances {
		if net.JoinHostPort(in["ip"], in["port"]) == addr && in["flags"] == flags {
			return true
		}
	}
	return false
}

func replicaInSync(ctx context.Context, addr string) error {
	c := dial(addr)
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "master_link_status:up") {
		return fmt.Errorf("%s: master link not up:\n%s", addr, info)
	}
	return nil
}

// startSentinelProcess runs a redis-sentinel watching primary and stops it
// when the test ends; it returns the sentinel's address.
func startSentinelProcess(t testing.TB, bin, primary string) string {
	t.Helper()
	dir := t.TempDir()
	// Sentinel rewrites its config file, so each needs its own.
	conf := filepath.Join(dir, "sentinel.conf")
	var addr string
	err := testproc.OnFreePorts(startAttempts, 1, func(ports []int) error {
		addr = testport.HostPort(ports[0])
		if err := os.WriteFile(conf, sentinelConf(ports[0], dir, primary), 0o600); err != nil {
			return err
		}
		out := &syncbuf.Buffer{}
		cmd := exec.Command(bin, conf)
		cmd.Stdout, cmd.Stderr = out, out
		p, err := testproc.Start(cmd)
		if err != nil {
			return err
		}
		if err := waitReady(addr, p); err != nil {
			p.Stop(syscall.SIGKILL, stopTimeout)
			return fmt.Errorf("port %d: %w; output:\n%s", ports[0], err, out.String())
		}
		t.Cleanup(func() {
			p.Stop(syscall.SIGTERM, stopTimeout)
			if t.Failed() {
				t.Logf("redis-sentinel %s output:\n%s", addr, out.String())
			}
		})
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("redistest: start redis-sentinel: %v", err)
	}
	return addr
}

func sentinelConf(port int, dir, primary string) []byte {
	host, primaryPort, _ := net.SplitHostPort(primary)
	lines := []string{
		fmt.Sprintf("port %d", port),
		"bind 127.0.0.1",
		"protected-mode no",
		"daemonize no",
		`logfile ""`,
		fmt.Sprintf("dir %q", dir),
		"sentinel resolve-hostnames no",
		fmt.Sprintf("sentinel monitor %s %s %s 2", masterName, host, primaryPort),
		// Not much less: on a busy CI machine a starved primary would be
		// failed over for nothing.
		"sentinel down-after-milliseconds " + masterName + " 3000",
		"sentinel failover-timeout " + masterName + " 5000",
		"sentinel parallel-syncs " + masterName + " 1",
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}
