package ownership

import (
	"context"
	"time"
)

// LeaseRequest is one round of a member's lease: renew (or join), claim the
// components rendezvous hashing assigns to it and release the others.
type LeaseRequest struct {
	Member string
	TTL    time.Duration
	// Epoch is the membership epoch Claim was computed for; claims are
	// taken only if it is still current. -1 claims nothing.
	Epoch   int64
	Claim   []string
	Release []string
	// Leave gives up the lease and the components in Release (shutdown).
	Leave bool
}

// Grant is a component's ownership as a lease round left it.
type Grant struct {
	Component string
	Fence     Fence
	// Prev is the member that held the component before this grant ("" if
	// none): the member itself when the grant is one it already held.
	Prev string
}

// LeaseReply is the membership as Redis saw it in the round.
type LeaseReply struct {
	// Epoch changes whenever the set of live members does; EpochAt is when
	// it last changed, by Redis' clock.
	Epoch   int64
	EpochAt time.Time
	// Now is Redis' clock during the round.
	Now time.Time
	// Created is when the store was first written: a change means Redis
	// lost its data.
	Created time.Time
	// Failover: the round ran on another primary than the last one (a
	// failover, or a restart): writes acknowledged before may be lost,
	// which the member treats as Redis losing its data.
	Failover bool
	// ClaimsDeferred: the store took no claim this round (it could not
	// tell whether the primary changed); the member claims them again.
	ClaimsDeferred bool
	// Expires is when the member's lease ends unless renewed (zero after a
	// Leave).
	Expires time.Time
	// Members are the live members, sorted.
	Members []string
	// Granted holds one grant per claimed component, if the claims were
	// taken.
	Granted []Grant
}

// Leaser runs lease rounds atomically; redisstore.Store is one.
type Leaser interface {
	Lease(ctx context.Context, r LeaseRequest) (LeaseReply, error)
}
