package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const clusterSlots = 16384

// Cluster is n primaries sharing the hash slots, without replicas: enough
// for clients to be redirected and to spread keys, not to fail over.
type Cluster struct {
	servers []*Server
}

// StartCluster starts n cluster-enabled redis-servers, splits the slots
// between them and joins them, and returns once every node sees the whole
// cluster, so a ClusterClient works at once; all is stopped when the test
// ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: StartCluster(%d): Redis Cluster needs at least 3 primaries", n)
	}
	c := &Cluster{}
	for range n {
		c.servers = append(c.servers, startWith(t, serverOpts{ports: 2, args: clusterArgs}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	nodes := make([]*redis.Client, n)
	for i, s := range c.servers {
		nodes[i] = dial(s.Addr())
	}
	defer func() {
		for _, node := range nodes {
			_ = node.Close()
		}
	}()
	busPorts := make([]string, n)
	for i, node := range nodes {
		lo, hi := c.slots(i)
		var err error
		if busPorts[i], err = setUpNode(ctx, node, i+1, lo, hi); err != nil {
			t.Fatalf("redistest: set up cluster node %s: %v", c.servers[i].Addr(), err)
		}
	}
	// Every pair meets directly: no waiting for gossip to spread the news.
	for i := range nodes {
		for j := i + 1; j < n; j++ {
			if err := nodes[i].Do(ctx, "cluster", "meet", "127.0.0.1", c.servers[j].Port(), busPorts[j]).Err(); err != nil {
				t.Fatalf("redistest: CLUSTER MEET %s from %s: %v", c.servers[j].Addr(), c.servers[i].Addr(), err)
			}
		}
	}
	waitFor(t, readyTimeout, "cluster ready", func(ctx context.Context) error {
		for i, node := range nodes {
			if err := c.sees(ctx, node); err != nil {
				return fmt.Errorf("node %s: %w", c.servers[i].Addr(), err)
			}
		}
		return nil
	})
	return c
}

// setUpNode gives a lone node its config epoch and its slots and returns
// its bus port. Distinct epochs up front, as redis-cli --cluster create
// sets them, spare the nodes resolving a collision once they meet.
func setUpNode(ctx context.Context, node *redis.Client, epoch, lo, hi int) (string, error) {
	if err := node.Do(ctx, "cluster", "set-config-epoch", epoch).Err(); err != nil {
		return "", err
	}
	if err := node.Do(ctx, "cluster", "addslotsrange", lo, hi).Err(); err != nil {
		return "", err
	}
	cfg, err := node.ConfigGet(ctx, "cluster-port").Result()
	if err != nil {
		return "", err
	}
	if cfg["cluster-port"] == "" {
		return "", fmt.Errorf("CONFIG GET cluster-port: %v", cfg)
	}
	return cfg["cluster-port"], nil
}

// clusterArgs picks the bus port: by default it is the port plus 10000,
// which may be taken or past 65535.
func clusterArgs(dir string, ports []int) []string {
	conf := filepath.Join(dir, "nodes.conf")
	_ = os.Remove(conf) // from an attempt whose ports were taken
	return []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", conf,
		// Long enough that a node starved on a busy machine is not failed
		// for nothing, and one slow node does not stop the others
		// answering for their slots.
		"--cluster-node-timeout", "5000",
		"--cluster-require-full-coverage", "no",
		"--cluster-port", strconv.Itoa(ports[1]),
	}
}

// Addrs are host:port of the nodes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// URL is the redis+cluster:// URL of the cluster.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// Servers are the nodes, in the order of their slots.
func (c *Cluster) Servers() []*Server { return append([]*Server(nil), c.servers...) }

// Client returns a cluster client with short timeouts, closed when the test
// ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 c.Addrs(),
		DialTimeout:           time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// slots is the range of slots of node i.
func (c *Cluster) slots(i int) (lo, hi int) {
	n := len(c.servers)
	return i * clusterSlots / n, (i+1)*clusterSlots/n - 1
}

// sees checks that node is ok and knows every node, with its address and
// its slots, as clients will ask it.
func (c *Cluster) sees(ctx context.Context, node *redis.Client) error {
	info, err := node.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	for _, want := range []string{
		"cluster_state:ok",
		fmt.Sprintf("cluster_known_nodes:%d", len(c.servers)),
		fmt.Sprintf("cluster_slots_ok:%d", clusterSlots),
	} {
		if !strings.Contains(info, want+"\r\n") {
			return fmt.Errorf("CLUSTER INFO has no %s:\n%s", want, info)
		}
	}
	shards, err := node.ClusterShards(ctx).Result()
	if err != nil {
		return err
	}
	covered := 0
	for _, sh := range shards {
		for _, m := range sh.Nodes {
			i := c.index(m.Port)
			if i < 0 || m.IP != "127.0.0.1" || m.Role != "master" || m.Health != "online" {
				return fmt.Errorf("CLUSTER SHARDS has node %+v", m)
			}
			lo, hi := c.slots(i)
			if len(sh.Slots) != 1 || sh.Slots[0].Start != int64(lo) || sh.Slots[0].End != int64(hi) {
				return fmt.Errorf("CLUSTER SHARDS gives %s slots %v, want %d-%d", c.servers[i].Addr(), sh.Slots, lo, hi)
			}
			covered += hi - lo + 1
		}
	}
	if covered != clusterSlots {
		return fmt.Errorf("CLUSTER SHARDS covers %d slots: %+v", covered, shards)
	}
	return nil
}

func (c *Cluster) index(port int64) int {
	for i, s := range c.servers {
		if int64(s.Port()) == port {
			return i
		}
	}
	return -1
}
