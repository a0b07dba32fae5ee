package ownership_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
)

// replica is one Manager and what OnChange told it.
type replica struct {
	m      *ownership.Manager
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	changes []ownership.Change
}

func (r *replica) onChange(_ context.Context, ch ownership.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, ch)
}

func (r *replica) seen(pred func(ownership.Change) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.changes, pred)
}

// seenBy polls seen until pred holds or deadline passes: a round updates
// Owned before it tells OnChange, so settled can return first.
func (r *replica) seenBy(deadline time.Time, pred func(ownership.Change) bool) bool {
	for !r.seen(pred) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func (r *replica) stop() { r.cancel(); <-r.done }

type cluster struct {
	t      *testing.T
	mr     *miniredis.Miniredis
	store  *redisstore.Store
	leaser ownership.Leaser // the store, or a wrapper of it
	comps  []string
	ttl    time.Duration
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second,
		WriteTimeout: time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	c := &cluster{t: t, mr: mr, store: redisstore.New(client, "t:"), ttl: 500 * time.Millisecond}
	for i := range n {
		c.comps = append(c.comps, fmt.Sprintf("c%02d", i))
	}
	return c
}

func (c *cluster) start(member string) *replica {
	c.t.Helper()
	r := &replica{done: make(chan struct{})}
	var leaser ownership.Leaser = c.store
	if c.leaser != nil {
		leaser = c.leaser
	}
	m, err := ownership.New(ownership.Options{Leaser: leaser, Member: member, TTL: c.ttl,
		Components: func() []string { return c.comps }, OnChange: r.onChange, Registry: prometheus.NewRegistry()})
	if err != nil {
		c.t.Fatal(err)
	}
	r.m = m
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { defer close(r.done); _ = m.Run(ctx) }()
	c.t.Cleanup(r.stop)
	return r
}

// settled waits until the replicas own every component exactly once, each
// its rendezvous share among them.
func (c *cluster) settled(rs ...*replica) {
	c.t.Helper()
	members := make([]string, len(rs))
	for i, r := range rs {
		members[i] = r.m.Member()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		owners := map[string][]string{}
		for _, r := range rs {
			for comp := range r.m.Owned() {
				owners[comp] = append(owners[comp], r.m.Member())
			}
		}
		ok := len(owners) == len(c.comps)
		for _, comp := range c.comps {
			if got := owners[comp]; len(got) != 1 || got[0] != ownership.Owner(comp, members) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("not settled among %v: owners %v", members, owners)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestManagersShareTheComponents(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 30)
	a, b, d := c.start("a"), c.start("b"), c.start("d")
	c.settled(a, b, d)
	for _, r := range []*replica{a, b, d} {
		if n := len(r.m.Owned()); n == 0 || n == len(c.comps) {
			t.Errorf("%s owns %d of %d components", r.m.Member(), n, len(c.comps))
		}
	}

	// A replica that leaves hands its components over at the others' next
	// round, not after the lease.
	had := slices.Collect(maps.Keys(d.m.Owned()))
	d.stop()
	if err := d.m.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	left := time.Now()
	c.settled(a, b)
	if took := time.Since(left); took >= c.ttl {
		t.Errorf("take-over after a leave took %s, not less than the lease (%s)", took, c.ttl)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, comp := range had {
		owner := a
		if _, ok := b.m.Owned()[comp]; ok {
			owner = b
		}
		if !owner.seenBy(deadline, func(ch ownership.Change) bool {
			return slices.ContainsFunc(ch.Acquired, func(acq ownership.Acquired) bool {
				return acq.Component == comp && !acq.Continue && acq.Prev == ""
			})
		}) {
			t.Errorf("%s took %s without being told to read its state", owner.m.Member(), comp)
		}
	}
}

func TestManagerTakesOverADeadReplica(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 20)
	a, b := c.start("a"), c.start("b")
	c.settled(a, b)
	had := b.m.Owned()
	b.stop() // dies: no leave, its lease runs out
	c.settled(a)
	deadline := time.Now().Add(5 * time.Second)
	for comp := range had {
		if !a.seenBy(deadline, func(ch ownership.Change) bool {
			return slices.ContainsFunc(ch.Acquired, func(acq ownership.Acquired) bool {
				return acq.Component == comp && acq.Prev == "b" && !acq.Continue
			})
		}) {
			t.Errorf("a took %s without knowing it came from b", comp)
		}
	}
}

func TestManagerReclaimsAfterRedisLostItsData(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 10)
	a := c.start("a")
	c.settled(a)
	before := a.m.Owned()
	c.mr.FlushAll()
	deadline := time.Now().Add(10 * time.Second)
	for !a.seen(func(ch ownership.Change) bool { return ch.Reset }) {
		if time.Now().After(deadline) {
			t.Fatal("the reset was not reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		renewed := 0
		for comp, f := range a.m.Owned() {
			if f != before[comp] {
				renewed++
			}
		}
		if renewed == len(c.comps) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d grants renewed after the reset", renewed, len(c.comps))
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.settled(a)
	deadline = time.Now().Add(5 * time.Second)
	for comp := range a.m.Owned() {
		if !a.seenBy(deadline, func(ch ownership.Change) bool {
			return slices.ContainsFunc(ch.Acquired, func(acq ownership.Acquired) bool { return acq.Component == comp && acq.Continue })
		}) {
			t.Errorf("%s re-claimed without keeping this replica's state", comp)
		}
	}
}

// failoverLeaser reports the next round as one on a new primary when
// failover is set, as redisstore does when INFO replication shows a new
// replication ID.
type failoverLeaser struct {
	ownership.Leaser
	failover atomic.Bool
}

func (l *failoverLeaser) Lease(ctx context.Context, r ownership.LeaseRequest) (ownership.LeaseReply, error) {
	rep, err := l.Leaser.Lease(ctx, r)
	if err == nil && l.failover.CompareAndSwap(true, false) {
		rep.Failover = true
	}
	return rep, err
}

// TestManagerResetsAfterAFailover: a round on a new primary, which may
// lack the last writes, is handled as Redis losing its data: the change
// says Reset, so the replica writes everything it owns again.
func TestManagerResetsAfterAFailover(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 10)
	fl := &failoverLeaser{Leaser: c.store}
	c.leaser = fl
	a := c.start("a")
	c.settled(a)
	if a.seen(func(ch ownership.Change) bool { return ch.Reset }) {
		t.Fatal("a reset before any failover")
	}
	fl.failover.Store(true)
	if !a.seenBy(time.Now().Add(10*time.Second), func(ch ownership.Change) bool { return ch.Reset }) {
		t.Fatal("the failover was not reported as a reset")
	}
	c.settled(a)
}

func TestManagerFencedDropsAndReclaims(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	a := c.start("a")
	c.settled(a)
	f := a.m.Owned()["c00"]
	a.m.Fenced("c00", f)
	deadline := time.Now().Add(10 * time.Second)
	for !a.seen(func(ch ownership.Change) bool {
		return slices.Contains(ch.Lost, "c00") && slices.ContainsFunc(ch.Acquired, func(acq ownership.Acquired) bool {
			return acq.Component == "c00" && !acq.Continue
		})
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("c00 not dropped and claimed again: %+v", a.changes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.settled(a)
}

func TestOwnerIsStableAndSpread(t *testing.T) {
	t.Parallel()
	members := []string{"a", "b", "c"}
	counts := map[string]int{}
	for i := range 3000 {
		comp := fmt.Sprintf("component-%d", i)
		o := ownership.Owner(comp, members)
		counts[o]++
		if o != ownership.Owner(comp, []string{"c", "a", "b"}) {
			t.Fatalf("owner of %s depends on the members' order", comp)
		}
		// Removing another member never moves a component.
		for _, gone := range members {
			if gone == o {
				continue
			}
			rest := slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == gone })
			if ownership.Owner(comp, rest) != o {
				t.Fatalf("removing %s moved %s off %s", gone, comp, o)
			}
		}
	}
	for _, m := range members {
		if counts[m] < 800 || counts[m] > 1200 {
			t.Errorf("%s owns %d of 3000", m, counts[m])
		}
	}
}
