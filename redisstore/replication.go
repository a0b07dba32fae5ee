package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a failover (or a restart) can lose the
// writes the primary acknowledged last. The lease round guards ownership
// against it three ways (docs/architecture.md, "Failover"):
//
//   - It runs on one connection to the primary that holds the {st} slot,
//     after INFO replication on the same connection, so the replication ID
//     it sees is the node the script ran on. A new replication ID means the
//     primary changed or restarted: the round tells the script, which
//     raises the fence counter to Redis' clock (a token issued before is
//     never issued again), and tells the ownership manager, which writes
//     everything this replica owns again, as after Redis lost its data.
//   - A round that granted a component waits (WAIT 1) until a replica has
//     the grant before the grant is used, so a failover after it cannot
//     lose it. A primary with no replica has nothing to fail over to and
//     waits for none; a WAIT that times out is counted, and the grant used
//     anyway: stopping the probes would be worse than the risk.
//   - Every other write carries its fence, so whatever a lost write
//     leaves behind is judged against the grants the new primary holds.

// replication is what INFO replication said about the node a round ran on.
type replication struct {
	known    bool   // false: the server does not say (the embedded store)
	role     string // "master" or "slave"
	replID   string
	replicas int
}

// parseReplication reads INFO replication's text.
func parseReplication(info string) replication {
	r := replication{known: true}
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "role":
			r.role = v
		case "master_replid":
			r.replID = v
		case "connected_slaves":
			r.replicas, _ = strconv.Atoi(v)
		}
	}
	return r
}

// primaryTracker remembers the replication ID of the primary the last
// round ran on. It is this process's view of its connection, not state
// other replicas need.
type primaryTracker struct {
	mu     sync.Mutex
	replID string
	noInfo bool // the server rejected INFO replication: stop asking
}

// seen records the round's replication and reports whether the primary
// changed since the last round.
func (p *primaryTracker) seen(r replication) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !r.known || r.replID == "" {
		return false
	}
	changed := p.replID != "" && p.replID != r.replID
	p.replID = r.replID
	return changed
}

// primaryConn returns one connection to the primary holding the {st} slot:
// the client's own pool for one endpoint or a Sentinel's primary, the
// slot's master for a Cluster. The caller closes it.
func (s *Store) primaryConn(ctx context.Context) (*redis.Conn, time.Duration, error) {
	var c *redis.Client
	switch cl := s.client.(type) {
	case *redis.Client:
		c = cl
	case *redis.ClusterClient:
		m, err := cl.MasterForKey(ctx, s.keys[0])
		if err != nil {
			return nil, 0, fmt.Errorf("find the primary of the %s slot: %w", HashTag, err)
		}
		c = m
	default:
		return nil, 0, fmt.Errorf("unsupported Redis client %T", s.client)
	}
	return c.Conn(), c.Options().ReadTimeout, nil
}

// replicationOf asks the connection's node about its replication.
func (s *Store) replicationOf(ctx context.Context, conn *redis.Conn) (replication, error) {
	s.primary.mu.Lock()
	skip := s.primary.noInfo
	s.primary.mu.Unlock()
	if skip {
		return replication{}, nil
	}
	info, err := conn.Info(ctx, "replication").Result()
	if err != nil {
		if strings.Contains(err.Error(), "not supported") {
			s.primary.mu.Lock()
			s.primary.noInfo = true
			s.primary.mu.Unlock()
			return replication{}, nil
		}
		return replication{}, fmt.Errorf("INFO replication: %w", err)
	}
	return parseReplication(info), nil
}

// waitReplica waits until a replica has the connection's writes, if the
// primary has a replica. It returns whether one acknowledged.
func waitReplica(ctx context.Context, conn *redis.Conn, r replication, readTimeout time.Duration) (bool, error) {
	if !r.known || r.replicas == 0 {
		return true, nil
	}
	// Within the read timeout, so the reply is read before the client
	// gives up on it.
	timeout := min(time.Second, readTimeout/2)
	if readTimeout <= 0 {
		timeout = time.Second
	}
	n, err := conn.Wait(ctx, 1, timeout).Result()
	if err != nil {
		return false, fmt.Errorf("WAIT 1: %w", err)
	}
	return n >= 1, nil
}
