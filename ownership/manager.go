// Package ownership shares the components among the live replicas. Each
// replica holds a membership lease in Redis and renews it several times per
// lease; each component has one owner at a time, chosen by rendezvous
// hashing over the live members, so a replica joining or leaving moves only
// its share. Every grant carries a fencing token that only grows; the store
// rejects a write whose token is stale (redisstore, lib.lua). Correctness
// rests on the fence, judged by Redis' clock inside one script, not on the
// replicas agreeing on anything.
package ownership

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Manager.
type Options struct {
	Leaser Leaser
	// Member is this replica's id: unique among the replicas, no spaces.
	Member string
	// TTL is the lease: a replica that has not renewed for this long is
	// gone, and its components are taken over.
	TTL time.Duration
	// Components returns the ids of the components in the config in force.
	Components func() []string
	// OnChange is told, from the manager's goroutine and in order, what
	// this replica gained and lost. It may read the store; it should not
	// take long (the lease is renewed after it returns).
	OnChange func(ctx context.Context, ch Change)
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// Change is what one lease round changed for this replica.
type Change struct {
	// Acquired are components this replica owns from now on.
	Acquired []Acquired
	// Lost are components it no longer owns: stop probing them.
	Lost []string
	// Reset is true when the store lost its data (it was emptied or
	// restarted without it) or may have lost writes (a failover, a
	// restart): everything must be written again.
	Reset bool
	// VantagesChanged is true when a vantage gained its first live member
	// or lost its last (vantage.go): the verdicts the store combines count
	// other vantages now.
	VantagesChanged bool
}

// Acquired is one new grant.
type Acquired struct {
	Grant
	// Continue is true when this replica's own state of the component is
	// the latest there is: it held the component until now (only the
	// token changed, or the store lost its data). Otherwise the state
	// must be read from what the last owner published.
	Continue bool
}

// Manager runs this replica's lease rounds.
type Manager struct {
	o      Options
	renew  time.Duration
	settle time.Duration
	m      *metrics
	poke   chan struct{}

	mu    sync.Mutex
	owned map[string]Fence
	// full asks the next round to claim the whole share, including what
	// this replica believes it holds (after a membership change, a reset
	// or a fenced write).
	full    bool
	members []string
	// renewed is when a lease round last succeeded (local clock).
	renewed time.Time
	// dropped are components Fenced took away, for the next OnChange.
	dropped []string

	// Loop-only state.
	vantages   map[string]bool // with a live member, as the last round saw
	epoch      int64
	epochAt    time.Time
	created    time.Time
	resetHeld  map[string]bool // held when the store lost its data
	unsettled  time.Time       // local time the epoch was first seen unsettled
	lastFailed bool
}

// RenewEvery is how often a lease round runs for a lease of ttl: a fifth
// of it, at most a second, so a lost replica is noticed within a second of
// its lease ending.
func RenewEvery(ttl time.Duration) time.Duration {
	return min(max(ttl/5, 10*time.Millisecond), time.Second)
}

// New returns a Manager; call Run.
func New(o Options) (*Manager, error) {
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnChange == nil {
		o.OnChange = func(context.Context, Change) {}
	}
	renew := RenewEvery(o.TTL)
	return &Manager{o: o, renew: renew, settle: renew, m: m, poke: make(chan struct{}, 1),
		owned: map[string]Fence{}, epoch: -1}, nil
}

// Member is this replica's id.
func (m *Manager) Member() string { return m.o.Member }

// Owned returns a copy of this replica's grants by component.
func (m *Manager) Owned() map[string]Fence {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Fence, len(m.owned))
	for c, f := range m.owned {
		out[c] = f
	}
	return out
}

// Members returns the live members as the last round saw them.
func (m *Manager) Members() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.members)
}

// LastRenewal is when a lease round last succeeded: Redis was reachable
// and writable then (zero if never).
func (m *Manager) LastRenewal() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.renewed
}

// RenewEvery is how often this manager runs a lease round.
func (m *Manager) RenewEvery() time.Duration { return m.renew }

// Fenced reports that the store rejected a write for component with f:
// the grant is gone. The component is dropped now (its loss reaches
// OnChange in the next round) and claimed again if it is still this
// replica's share.
func (m *Manager) Fenced(component string, f Fence) {
	m.mu.Lock()
	if cur, ok := m.owned[component]; ok && cur == f {
		delete(m.owned, component)
		m.dropped = append(m.dropped, component)
		m.full = true
	}
	m.mu.Unlock()
	m.m.fenced.Inc()
	m.Refresh()
}

// Refresh runs a round soon: the config changed, or a write was fenced.
func (m *Manager) Refresh() {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}

// Run renews the lease every RenewEvery(TTL) until ctx is done. It does not
// leave: call Leave once this replica's last writes are done.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.renew)
	defer t.Stop()
	for {
		m.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.poke:
		}
	}
}

// Leave gives up the lease and every component, so that the other
// replicas take over at their next round instead of after the lease.
func (m *Manager) Leave(ctx context.Context) error {
	m.mu.Lock()
	release := make([]string, 0, len(m.owned))
	for c := range m.owned {
		release = append(release, c)
	}
	clear(m.owned)
	m.mu.Unlock()
	slices.Sort(release)
	_, err := m.o.Leaser.Lease(ctx, LeaseRequest{Member: m.o.Member, Leave: true, Epoch: -1, Release: release})
	m.m.owned.Set(0)
	return err
}
