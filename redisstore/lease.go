package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/ownership"
)

var _ ownership.Leaser = (*Store)(nil)

// leaseArgs are lease.lua's arguments.
type leaseArgs struct {
	Member  string   `json:"member"`
	TTL     int64    `json:"ttl"`
	Epoch   int64    `json:"epoch"`
	Claim   []string `json:"claim,omitempty"`
	Release []string `json:"release,omitempty"`
	Leave   bool     `json:"leave,omitempty"`
	// Primary is the primary's replication ID, "" when unknown.
	Primary string `json:"primary,omitempty"`
}

// Lease runs one round of a member's lease in one atomic script: expire
// the members whose lease ended (by Redis' clock), renew or join, and take
// the claims if r.Epoch is still the membership epoch. See lease.lua.
func (s *Store) Lease(ctx context.Context, r ownership.LeaseRequest) (_ ownership.LeaseReply, err error) {
	defer func() { err = s.count("lease", err) }()
	if r.Member == "" || strings.ContainsAny(r.Member, " \t\n") {
		return ownership.LeaseReply{}, fmt.Errorf("redisstore: lease: member %q: must be non-empty without spaces", r.Member)
	}
	if r.TTL < time.Millisecond && !r.Leave {
		return ownership.LeaseReply{}, errors.New("redisstore: lease: ttl must be at least 1ms")
	}
	args := leaseArgs{
		Member: r.Member, TTL: r.TTL.Milliseconds(), Epoch: r.Epoch,
		Claim: r.Claim, Release: r.Release, Leave: r.Leave,
	}
	// The primary's replication first (replication.go). A leave needs
	// none. When it cannot be read this time, the round renews and
	// releases but takes no claim: a grant must not come before the fence
	// counter has seen a new primary.
	var node *redis.Client
	var repl replication
	deferred := false
	if !r.Leave {
		node, repl, err = s.replicationNow(ctx)
		if err != nil {
			node, args.Claim, deferred = nil, nil, len(r.Claim) > 0
		}
	}
	failover, detected := s.primary.seen(repl)
	s.observeReplication(repl, detected)
	args.Primary = repl.replID
	res, err := s.run(ctx, s.s.lease, nil, args).StringSlice()
	if err != nil {
		return ownership.LeaseReply{}, fmt.Errorf("redisstore: lease %s: %w", r.Member, err)
	}
	rep, err := decodeLease(res, r.Member)
	if err != nil {
		return ownership.LeaseReply{}, fmt.Errorf("redisstore: lease %s: %w", r.Member, err)
	}
	// Told once the round succeeded: a failover seen by a round that then
	// failed is told by the next one.
	rep.Failover, rep.ClaimsDeferred = failover, deferred
	s.primary.told(failover)
	if node != nil && newGrant(rep, r.Member) && !s.waitReplica(ctx, node, repl) && s.m != nil {
		s.m.unreplicated.Inc()
	}
	return rep, nil
}

// newGrant reports whether the round granted a component the member did
// not hold.
func newGrant(rep ownership.LeaseReply, member string) bool {
	for _, g := range rep.Granted {
		if g.Prev != member {
			return true
		}
	}
	return false
}

func decodeLease(res []string, member string) (ownership.LeaseReply, error) {
	bad := fmt.Errorf("unexpected reply %q", res)
	if len(res) < 6 {
		return ownership.LeaseReply{}, bad
	}
	var n [6]int64
	for i := range n {
		v, err := strconv.ParseFloat(res[i], 64)
		if err != nil {
			return ownership.LeaseReply{}, bad
		}
		n[i] = int64(v)
	}
	rep := ownership.LeaseReply{
		Epoch: n[0], EpochAt: msTime(n[1]), Now: msTime(n[2]), Created: msTime(n[3]), Expires: msTime(n[4]),
	}
	members := int(n[5])
	rest := res[6:]
	if members < 0 || members > len(rest) || (len(rest)-members)%4 != 0 {
		return ownership.LeaseReply{}, bad
	}
	rep.Members = rest[:members]
	for g := rest[members:]; len(g) > 0; g = g[4:] {
		k, err := strconv.ParseInt(g[1], 10, 64)
		if err != nil {
			return ownership.LeaseReply{}, bad
		}
		rep.Granted = append(rep.Granted, ownership.Grant{
			Component: g[0], Fence: ownership.Fence{Member: member, Token: k}, Prev: g[2],
		})
	}
	return rep, nil
}

// msTime is a unix-millisecond time; 0 is the zero time.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
