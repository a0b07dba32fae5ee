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
//   - It first reads INFO replication from the primary that holds the
//     {st} slot. The script keeps the primary's replication ID in
//     P primary: a round that brings another one (a promoted replica, a
//     restart) raises the fence counter to Redis' clock, so a token issued
//     before is never issued again, whichever replica runs that round.
//     Each replica also remembers the ID its own last round saw; when it
//     changes, the ownership manager writes everything the replica owns
//     again, as after Redis lost its data.
//   - A round that granted a component waits (WAIT 1) until a replica has
//     the grant before the grant is used, so a failover after it cannot
//     lose it. A primary with no replica has nothing to fail over to and
//     waits for none; a WAIT that times out is counted, and the grant used
//     anyway: stopping the probes would be worse than the risk.
//   - Every other write carries its fence, so whatever a lost write
//     leaves behind is judged against the grants the new primary holds.
//
// Every command goes through the client's own pool: a sticky Conn would
// share the client's options without its lock, which go-redis writes while
// it initialises connections (a data race under -race).

// replication is what INFO replication said about the primary.
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

// primaryTracker remembers the replication ID this replica's last round
// saw: its own view, for its own writes (the keyspace's is P primary).
type primaryTracker struct {
	mu     sync.Mutex
	replID string
	// pending: a change of primary not yet told in a successful round.
	pending bool
	noInfo  bool // INFO replication is refused for good: stop asking
}

// seen records the round's replication. It reports whether a change of
// primary is to be told (seen now, or by a round that failed since) and
// whether this round saw it.
func (p *primaryTracker) seen(r replication) (tell, detected bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.known && r.replID != "" {
		detected = p.replID != "" && p.replID != r.replID
		p.replID = r.replID
		p.pending = p.pending || detected
	}
	return p.pending, detected
}

// told marks a change of primary as told by a successful round.
func (p *primaryTracker) told(tell bool) {
	if !tell {
		return
	}
	p.mu.Lock()
	p.pending = false
	p.mu.Unlock()
}

// primaryNode is the client of the primary holding the {st} slot: the
// store's client for one endpoint or a Sentinel's primary, the slot's
// master for a Cluster, where a keyless command (INFO, WAIT) would go to
// any node.
func (s *Store) primaryNode(ctx context.Context) (*redis.Client, error) {
	switch c := s.client.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		m, err := c.MasterForKey(ctx, s.keys[0])
		if err != nil {
			return nil, fmt.Errorf("find the primary of the %s slot: %w", HashTag, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("unsupported Redis client %T", s.client)
}

// replicationNow finds the primary and asks it about its replication. A
// server that refuses INFO for good (the embedded store; an ACL user
// without @dangerous; a renamed command) is not asked again: failovers
// then go unseen, and leases work as before. Any other error is
// transient.
func (s *Store) replicationNow(ctx context.Context) (*redis.Client, replication, error) {
	node, err := s.primaryNode(ctx)
	if err != nil {
		return nil, replication{}, err
	}
	s.primary.mu.Lock()
	skip := s.primary.noInfo
	s.primary.mu.Unlock()
	if skip {
		return node, replication{}, nil
	}
	info, err := node.Info(ctx, "replication").Result()
	if err != nil {
		if infoRefused(err) {
			s.primary.mu.Lock()
			s.primary.noInfo = true
			s.primary.mu.Unlock()
			return node, replication{}, nil
		}
		return nil, replication{}, fmt.Errorf("INFO replication: %w", err)
	}
	return node, parseReplication(info), nil
}

// infoRefused reports whether an INFO error will not go away by asking
// again.
func infoRefused(err error) bool {
	msg := err.Error()
	for _, s := range []string{"NOPERM", "unknown command", "not supported", "unknown subcommand"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// waitReplica waits until a replica has every write made so far, if the
// primary has a replica, and reports whether one acknowledged. WAIT counts
// the writes of its own connection, so the same pipeline (one connection)
// first writes P replicated: the replication stream is ordered, and a
// replica that has that write has the grant made before it. An error
// counts as no acknowledgement: the grant is made either way.
func (s *Store) waitReplica(ctx context.Context, node *redis.Client, r replication) bool {
	if !r.known || r.replicas == 0 {
		return true
	}
	// At most a second, and within the read timeout and the round's
	// deadline, so the reply is read before the client gives up on it
	// (WAIT 1 0 would block for ever).
	timeout := time.Second
	if rt := node.Options().ReadTimeout; rt > 0 {
		timeout = min(timeout, rt/2)
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)/2)
	}
	timeout = max(timeout, time.Millisecond)
	var wait *redis.Cmd
	_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.p+"replicated", time.Now().UnixMilli(), 0)
		wait = p.Do(ctx, "WAIT", 1, timeout.Milliseconds())
		return nil
	})
	if err != nil {
		return false
	}
	n, err := wait.Int64()
	return err == nil && n >= 1
}
