package redistest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/internal/redistest"
)

// failoverTimeout leaves room for a second election round: Sentinel waits
// twice failover-timeout before retrying a split vote.
const failoverTimeout = 60 * time.Second

// eventually calls f until it returns nil and fails t with f's last error
// after timeout: clients find out about a failover in their own time.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSentinelFailoverOnKill(t *testing.T) {
	t.Parallel()
	g := redistest.StartSentinel(t)
	want := "redis+sentinel://" + strings.Join(g.SentinelAddrs(), ",") + "/tocsin-test/0"
	if g.URL() != want || len(g.SentinelAddrs()) != 3 {
		t.Errorf("URL() = %q, want %q with 3 sentinels", g.URL(), want)
	}
	servers := g.Servers()
	old := g.Primary(t)
	if old != servers[0] && old != servers[1] {
		t.Fatalf("Primary() = %s, not one of the data nodes", old.Addr())
	}

	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    g.MasterName(),
		SentinelAddrs: g.SentinelAddrs(),
		DialTimeout:   time.Second,
		ReadTimeout:   2 * time.Second,
		WriteTimeout:  2 * time.Second,
	})
	t.Cleanup(func() { _ = fc.Close() })
	ctx := t.Context()
	if err := fc.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatalf("SET before failover: %v", err)
	}
	// Replication is asynchronous: make sure the replica has the key
	// before its only other copy is killed.
	if n, err := fc.Wait(ctx, 1, 10*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want the replica to acknowledge", n, err)
	}

	old.Kill()
	primary := g.WaitFailover(t, old, failoverTimeout)
	if primary != servers[1] {
		t.Fatalf("WaitFailover() = %s, want the former replica %s", primary.Addr(), servers[1].Addr())
	}
	eventually(t, 30*time.Second, func() error {
		v, err := fc.Get(ctx, "before").Result()
		if err != nil {
			return fmt.Errorf("GET before after failover: %w", err)
		}
		if v != "1" {
			return fmt.Errorf("GET before after failover = %q, want 1", v)
		}
		return nil
	})
	for i := range 10 {
		if err := fc.Set(ctx, fmt.Sprint("after", i), i, 0).Err(); err != nil {
			t.Fatalf("SET after failover: %v", err)
		}
	}
	if n, err := primary.Client(t).Exists(ctx, "before", "after0", "after9").Result(); err != nil || n != 3 {
		t.Errorf("EXISTS on the new primary = %d, %v; want 3", n, err)
	}
}

func TestSentinelDemotesPausedPrimary(t *testing.T) {
	t.Parallel()
	g := redistest.StartSentinel(t)
	old := g.Primary(t)
	// Frozen until the failover is over: longer than down-after and the
	// failover itself.
	old.Pause()
	primary := g.WaitFailover(t, old, failoverTimeout)
	old.Resume()
	if got := g.Primary(t); got != primary {
		t.Errorf("Primary() after failover = %s, want %s", got.Addr(), primary.Addr())
	}

	c := old.Client(t)
	// Sentinel leaves a returning primary a few seconds before demoting it.
	eventually(t, failoverTimeout, func() error {
		role, err := c.Do(t.Context(), "role").Slice()
		if err != nil {
			return err
		}
		if len(role) < 3 || role[0] != "slave" || fmt.Sprint(role[2]) != fmt.Sprint(primary.Port()) {
			return fmt.Errorf("ROLE of the old primary = %v, want slave of port %d", role, primary.Port())
		}
		return nil
	})
}

// The failovers above rest on these.
func TestServerKillPauseResume(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client(t)
	ping := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		return c.Ping(ctx).Err()
	}

	srv.Pause()
	if ping(500*time.Millisecond) == nil {
		t.Fatal("PING of a paused server succeeded")
	}
	srv.Resume()
	eventually(t, 10*time.Second, func() error { return ping(time.Second) })

	srv.Kill()
	if ping(time.Second) == nil {
		t.Fatal("PING after Kill succeeded")
	}
	srv.Stop() // nothing left to stop
	srv.Restart(t)
	if err := ping(5 * time.Second); err != nil {
		t.Fatalf("PING after Kill and Restart: %v", err)
	}
}
