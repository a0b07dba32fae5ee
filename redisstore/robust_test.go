package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
)

// TestConcurrentReplicas applies the same observation from 8 goroutines, each
// with its own NewID, as 8 replicas would: exactly one incident opens.
func TestConcurrentReplicas(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for round := range 5 {
				e := newEnv(t, b.client)
				const n = 8
				trs := make([]incident.Transition, n)
				errs := make([]error, n)
				// Each goroutine has its own Store, as each replica has.
				stores := make([]*redisstore.Store, n)
				for i := range stores {
					stores[i] = redisstore.New(b.client, e.prefix)
				}
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						<-start
						trs[i], errs[i] = stores[i].Observe(e.ctx, e.obs(0, "web", major, fmt.Sprintf("r%d", i)))
					})
				}
				close(start)
				wg.Wait()

				openedID := ""
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("round %d: Observe %d: %v", round, i, errs[i])
					}
					switch trs[i].Action {
					case incident.ActionOpened:
						if openedID != "" {
							t.Fatalf("round %d: two incidents opened: %s and %s", round, openedID, trs[i].IncidentID)
						}
						openedID = trs[i].IncidentID
					case incident.ActionNone:
					default:
						t.Fatalf("round %d: transition %+v", round, trs[i])
					}
				}
				if st := e.load(10); openedID == "" || ids(st) != openedID || st.Version != 1 {
					t.Fatalf("round %d: opened %q, incidents %q, version %d", round, openedID, ids(st), st.Version)
				}

				// The same for the resolution: 8 concurrent ticks resolve once.
				e.observe(time.Minute, "web", operational, "x")
				var mu sync.Mutex
				var resolved []incident.Transition
				for range n {
					wg.Go(func() {
						trs, err := e.store.Tick(e.ctx, e.tickReq(10*time.Minute, "Resolved."))
						if err != nil {
							t.Errorf("Tick: %v", err)
						}
						mu.Lock()
						resolved = append(resolved, trs...)
						mu.Unlock()
					})
				}
				wg.Wait()
				if len(resolved) != 1 || resolved[0].IncidentID != openedID {
					t.Fatalf("round %d: concurrent ticks resolved %+v", round, resolved)
				}
			}
		})
	}
}

func TestSchemaMismatch(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b.client)
			e.fence("web") // granted before a newer tocsin took the keyspace over
			if err := e.client.Set(e.ctx, e.prefix+"{st}:schema", "3", 0).Err(); err != nil {
				t.Fatal(err)
			}
			const want = "tocsin schema mismatch: have 3 want 2"
			_, err := e.store.Observe(e.ctx, e.obs(0, "web", major, "a"))
			if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "redisstore: observe web: ") {
				t.Errorf("Observe err = %v, want %q", err, want)
			}
			var rerr redis.Error
			if !errors.As(err, &rerr) {
				t.Errorf("Observe err %T does not wrap a redis.Error", err)
			}
			if _, err := e.store.Tick(e.ctx, e.tickReq(0, "")); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Tick err = %v, want %q", err, want)
			}
			if _, err := e.store.Load(e.ctx, 10); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load err = %v, want %q", err, want)
			}
			if _, err := e.store.Lease(e.ctx, ownership.LeaseRequest{Member: "r1", TTL: time.Minute, Epoch: -1}); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Lease err = %v, want %q", err, want)
			}
			if n := e.client.Exists(e.ctx, e.prefix+"{st}:components", e.prefix+"{st}:version").Val(); n != 0 {
				t.Errorf("a script wrote despite the mismatch")
			}

			// A fresh store stamps the schema on its first write.
			e = newEnv(t, b.client)
			e.observe(0, "web", major, "a")
			if got := e.client.Get(e.ctx, e.prefix+"{st}:schema").Val(); got != redisstore.SchemaVersion {
				t.Errorf("schema = %q, want %q", got, redisstore.SchemaVersion)
			}

			// Data of schema 1 is read and written as it is, and stamped
			// with schema 2 by the first write: from then on, schema-1
			// replicas (whose scripts want exactly 1) are refused.
			e = newEnv(t, b.client)
			if err := e.client.Set(e.ctx, e.prefix+"{st}:schema", "1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)
			if got := e.client.Get(e.ctx, e.prefix+"{st}:schema").Val(); got != redisstore.SchemaVersion {
				t.Errorf("schema after a write on schema 1 data = %q, want %q", got, redisstore.SchemaVersion)
			}
		})
	}
}

// TestRedisGoesAway stops Redis under a store: calls fail fast with an error,
// and work again once Redis is back.
func TestRedisGoesAway(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr(),
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           300 * time.Millisecond,
		WriteTimeout:          300 * time.Millisecond,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = client.Close() })
	e := newEnv(t, client)
	expect(t, e.observe(0, "web", major, "a"), opened, "a", incident.ImpactCritical)

	srv.Stop()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := e.store.Observe(ctx, e.obs(time.Minute, "web", operational, "b"))
	if err == nil {
		t.Fatal("Observe with Redis stopped succeeded")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Observe took %s to fail", elapsed)
	}
	var opErr *net.OpError
	if !strings.HasPrefix(err.Error(), "redisstore: observe web: ") || !errors.As(err, &opErr) {
		t.Errorf("Observe err = %v (%T), want a wrapped *net.OpError", err, errors.Unwrap(err))
	}
	if _, err := e.store.Tick(ctx, e.tickReq(time.Minute, "")); err == nil {
		t.Error("Tick with Redis stopped succeeded")
	}
	if _, err := e.store.Load(ctx, 10); err == nil {
		t.Error("Load with Redis stopped succeeded")
	}
	if _, err := e.store.Version(ctx); err == nil {
		t.Error("Version with Redis stopped succeeded")
	}

	// The restarted Redis is empty (nothing persisted) and loaded no scripts:
	// EVALSHA falls back to EVAL. The grants went with the data: a write
	// with the old fence is refused until the component is claimed again.
	srv.Restart(t)
	if _, err := e.store.Observe(e.ctx, e.obs(2*time.Minute, "web", major, "c")); !errors.Is(err, ownership.ErrFenced) {
		t.Fatalf("Observe with a grant Redis lost: %v, want ErrFenced", err)
	}
	clear(e.fences)
	expect(t, e.observe(2*time.Minute, "web", major, "c"), opened, "c", incident.ImpactCritical)
	if st := e.load(10); ids(st) != "c" {
		t.Errorf("incidents after restart = %q, want c", ids(st))
	}
}

// TestEnginesAgree drives Redis and miniredis through the same long random
// sequence and requires identical states: the scripts behave the same on
// Lua 5.1/cjson and gopher-lua/encoding/json.
func TestEnginesAgree(t *testing.T) {
	t.Parallel()
	bs := backends(t)
	envs := make([]*env, len(bs))
	for i, b := range bs {
		envs[i] = newEnv(t, b.client)
		envs[i].policy.GroupWindow = 3 * time.Minute
		envs[i].policy.Retention = 6 * time.Hour
		envs[i].policy.ReopenWindow = 10 * time.Minute
	}
	statuses := []incident.ComponentStatus{operational, operational, operational, operational, operational, maintenance, degraded, partial, major}
	comps := []string{"web", "api", "mail"}
	rng := rand.New(rand.NewPCG(1, 2))
	off := time.Duration(0)
	seen := map[incident.Action]int{}
	for i := range 600 {
		off += time.Duration(rng.IntN(120_000)) * time.Millisecond
		if rng.IntN(5) == 0 {
			var got [][]incident.Transition
			for _, e := range envs {
				got = append(got, e.tick(off))
			}
			for _, tr := range got[0] {
				seen[tr.Action]++
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Fatalf("step %d: Tick: %s %+v, %s %+v", i, bs[0].name, got[0], bs[1].name, got[1])
			}
			continue
		}
		comp, s := comps[rng.IntN(len(comps))], statuses[rng.IntN(len(statuses))]
		var got []incident.Transition
		for _, e := range envs {
			got = append(got, e.observe(off, comp, s, fmt.Sprintf("i%d", i)))
		}
		seen[got[0].Action]++
		if got[0] != got[1] {
			t.Fatalf("step %d: Observe %s=%s: %s %+v, %s %+v", i, comp, s, bs[0].name, got[0], bs[1].name, got[1])
		}
	}
	a, b := envs[0].load(1000), envs[1].load(1000)
	// Each server's clock stamped its own state.
	a.UpdatedAt, a.CreatedAt, b.UpdatedAt, b.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("states differ:\n%s: %+v\n%s: %+v", bs[0].name, a, bs[1].name, b)
	}
	for _, act := range []incident.Action{incident.ActionNone, incident.ActionComponent, incident.ActionOpened,
		incident.ActionJoined, incident.ActionUpdated, incident.ActionMonitoring, incident.ActionReopened,
		incident.ActionResolved} {
		if seen[act] == 0 {
			t.Errorf("the sequence never produced %s; seen %v", act, seen)
		}
	}
	t.Logf("%d incidents kept; actions %v", len(a.Incidents), seen)
}
