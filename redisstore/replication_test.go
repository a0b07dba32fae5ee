package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
)

// TestLeaseSeesNewPrimary: a Redis that restarts keeps its data (AOF) but
// gets a new replication ID, as a promoted replica does. The next lease
// round says so (the member then writes its state again), counts it, and
// raises the token counter to Redis' clock, so no token issued before is
// issued again.
func TestLeaseSeesNewPrimary(t *testing.T) {
	t.Parallel()
	rds := redistest.StartDurable(t)
	client := rds.Client(t)
	reg := prometheus.NewRegistry()
	store, err := redisstore.NewInstrumented(client, "fo:", reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: -1})
	rep = lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web"}})
	if rep.Failover || len(rep.Granted) != 1 {
		t.Fatalf("first rounds: %+v", rep)
	}
	// Lower the counter, as a failover to a replica that missed the last
	// grants would leave it.
	fence := store.Prefix() + "fence"
	before, err := client.Get(ctx, fence).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Set(ctx, fence, strconv.FormatInt(before-1000, 10), 0).Err(); err != nil {
		t.Fatal(err)
	}

	rds.Restart(t)
	// The client reconnects on its own; the first rounds may still fail.
	var after ownership.LeaseReply
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		after, err = store.Lease(ctx, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web"}, TTL: time.Hour})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lease round on the restarted Redis: %v", err)
		}
	}
	if !after.Failover || !after.Created.Equal(rep.Created) {
		t.Errorf("round after the restart: failover %v, created %v (was %v); want a failover and the data kept", after.Failover, after.Created, rep.Created)
	}
	now, err := client.Get(ctx, fence).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if now < after.Now.UnixMilli()*1000 || now <= before {
		t.Errorf("token counter %d after the failover, want at least Redis' clock × 1000 (%d) and above the %d issued before", now, after.Now.UnixMilli()*1000, before)
	}
	if got := metricValue(t, reg, "tocsin_store_failovers_total"); got != 1 {
		t.Errorf("tocsin_store_failovers_total = %v, want 1", got)
	}
	// The next round on the same primary is no failover.
	if r := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: after.Epoch}); r.Failover {
		t.Error("a second round on the same primary reported a failover")
	}
	if got := metricValue(t, reg, "tocsin_store_connected_replicas"); got != 0 {
		t.Errorf("tocsin_store_connected_replicas = %v, want 0", got)
	}
}

// TestLeaseOnEmbeddedStore: miniredis has no INFO replication; the rounds
// work and never report a failover.
func TestLeaseOnEmbeddedStore(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	store := redisstore.New(client, "emb:")
	rep := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: -1})
	for range 3 {
		rep = lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web"}})
		if rep.Failover || len(rep.Granted) != 1 {
			t.Fatalf("round on miniredis: %+v", rep)
		}
	}
}

// metricValue is the value of one unlabelled counter or gauge on reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		have = append(have, mf.GetName())
	}
	t.Fatalf("no metric %s among %s", name, strings.Join(have, " "))
	return 0
}

// TestLeaseWaitsForTheReplica: on a primary with a replica (the Sentinel
// harness), a round that grants a component returns only once the replica
// has the grant. With the replica frozen the wait times out, is counted,
// and the grant is used anyway.
func TestLeaseWaitsForTheReplica(t *testing.T) {
	t.Parallel()
	g := redistest.StartSentinel(t)
	client := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: g.MasterName(), SentinelAddrs: g.SentinelAddrs(),
		DialTimeout: time.Second, ReadTimeout: 4 * time.Second, WriteTimeout: 4 * time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	reg := prometheus.NewRegistry()
	store, err := redisstore.NewInstrumented(client, "wait:", reg)
	if err != nil {
		t.Fatal(err)
	}
	primary := g.Primary(t)
	var replica *redistest.Server
	for _, s := range g.Servers() {
		if s != primary {
			replica = s
		}
	}
	rc := replica.Client(t)
	ctx := context.Background()

	rep := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: -1})
	rep = lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web"}})
	// Unless the wait timed out (a starved replica), the replica has the
	// grant the moment the round returns.
	if metricValue(t, reg, "tocsin_store_unreplicated_grants_total") == 0 {
		owner, err := rc.HGet(ctx, store.Prefix()+"owners", "web").Result()
		if err != nil || owner != fmt.Sprintf("a %d", rep.Granted[0].Fence.Token) {
			t.Fatalf("the replica right after the acknowledged grant: owners[web] = %q, %v; want the grant", owner, err)
		}
	} else {
		t.Log("the replica did not acknowledge within the wait; its copy is not checked")
	}
	if n := metricValue(t, reg, "tocsin_store_connected_replicas"); n != 1 {
		t.Errorf("tocsin_store_connected_replicas = %v, want 1", n)
	}
	before := metricValue(t, reg, "tocsin_store_unreplicated_grants_total")

	replica.Pause()
	rep = lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web", "api"}})
	replica.Resume()
	if len(rep.Granted) != 2 {
		t.Fatalf("round with the replica frozen: %+v, want both grants", rep)
	}
	if n := metricValue(t, reg, "tocsin_store_unreplicated_grants_total"); n != before+1 {
		t.Errorf("tocsin_store_unreplicated_grants_total = %v after a wait that timed out, want %v", n, before+1)
	}
}

// failOnce makes the next command of one name fail, as a timeout or a
// primary still loading its data would, before it reaches Redis.
type failOnce struct {
	name string
	arm  atomic.Bool
}

func (f *failOnce) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failOnce) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), f.name) && f.arm.CompareAndSwap(true, false) {
			cmd.SetErr(errors.New("LOADING Redis is loading the dataset in memory"))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}
func (f *failOnce) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestLeaseFailoverToldOnce: a round that sees a new primary but then
// fails (the script refused while the primary loads its data) does not
// lose the news: the next round that succeeds reports the failover. And a
// round whose INFO fails takes no claim (it cannot tell whether the fence
// counter saw a new primary) but renews, and says the claims wait.
func TestLeaseFailoverToldOnce(t *testing.T) {
	t.Parallel()
	rds := redistest.StartDurable(t)
	client := rds.Client(t)
	evalFails, infoFails := &failOnce{name: "evalsha"}, &failOnce{name: "info"}
	client.AddHook(evalFails)
	client.AddHook(infoFails)
	store := redisstore.New(client, "told:")
	ctx := context.Background()
	rep := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: -1})

	infoFails.arm.Store(true)
	r := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web"}})
	if !r.ClaimsDeferred || len(r.Granted) != 0 || r.Expires.Before(rep.Expires) || r.Expires.Sub(r.Now) != time.Hour {
		t.Fatalf("round with INFO failing: %+v, want the lease renewed and the claim deferred", r)
	}
	r = lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web"}})
	if r.ClaimsDeferred || len(r.Granted) != 1 {
		t.Fatalf("next round: %+v, want the claim granted", r)
	}

	rds.Restart(t)
	evalFails.arm.Store(true)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := store.Lease(ctx, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, TTL: time.Hour})
		if err == nil {
			if evalFails.arm.Load() || !r.Failover {
				t.Fatalf("first round to succeed after the restart: failover %v (script failure armed %v), want the failover told", r.Failover, evalFails.arm.Load())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lease round on the restarted Redis: %v", err)
		}
	}
	if r := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch}); r.Failover {
		t.Error("the failover was told twice")
	}
}

// TestLeaseWithoutINFO: an ACL user without @dangerous (no INFO) takes
// leases and claims as before; only failovers go unseen.
func TestLeaseWithoutINFO(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	ctx := context.Background()
	if err := rds.Client(t).Do(ctx, "ACL", "SETUSER", "tocsin", "on", ">pw", "~*", "+@all", "-@dangerous").Err(); err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{Addr: rds.Addr(), Username: "tocsin", Password: "pw"})
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Info(ctx, "replication").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("INFO as the restricted user: %v, want NOPERM", err)
	}
	store := redisstore.New(client, "acl:")
	rep := lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: -1})
	for range 2 {
		rep = lease(t, store, ownership.LeaseRequest{Member: "a", Epoch: rep.Epoch, Claim: []string{"web"}})
		if len(rep.Granted) != 1 || rep.ClaimsDeferred || rep.Failover {
			t.Fatalf("round without INFO: %+v, want the claim granted", rep)
		}
	}
}
