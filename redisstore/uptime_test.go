package uptime

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
)

// TestStore runs the same writes and reads on a real redis-server and on the
// embedded store.
func TestStore(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) redis.UniversalClient{
		"redis-server": func(t *testing.T) redis.UniversalClient { return redistest.Start(t).Client(t) },
		"miniredis": func(t *testing.T) redis.UniversalClient {
			mr := miniredis.RunT(t)
			c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
	}
	for name, client := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := client(t)
			s := NewStore(rdb, "t:")
			// Recent days: hashes of months long gone expire at once.
			now := time.Now().UTC()
			day := func(n int) string { return now.AddDate(0, 0, -n).Format(dateLayout) }
			// The last day of the previous month, within the 40 days read.
			prevMonth := Midnight(now, time.UTC).AddDate(0, 0, 1-now.Day()-1)
			prevAgo := int(Midnight(now, time.UTC).Sub(prevMonth).Hours() / 24)
			b := Batch{
				{KindComponent, "web", day(0), "operational"}:                       60000,
				{KindComponent, "web", day(0), "major_outage"}:                      20000,
				{KindComponent, "web", prevMonth.Format(dateLayout), "operational"}: 5000,
				{KindComponent, "api", day(1), "operational"}:                       1000,
				{KindCheck, "home", day(0), "up"}:                                   10,
				{KindCheck, "home", day(0), "down"}:                                 2,
			}
			for seq := range uint64(2) { // two batches add up
				if _, err := s.Write(ctx, "w1", seq+1, b); err != nil {
					t.Fatal(err)
				}
			}
			// A resend of a batch that landed (its reply was lost) and an
			// older one change nothing.
			for _, seq := range []uint64{2, 1} {
				if _, err := s.Write(ctx, "w1", seq, b); err != nil {
					t.Fatal(err)
				}
			}
			comps, err := s.Components(ctx, []string{"web", "api", "gone"}, 40, now, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			web := comps["web"]
			if len(web) != 40 || web[39].Date.Format(dateLayout) != day(0) || web[0].Date.Format(dateLayout) != day(39) {
				t.Fatalf("web days %+v", web)
			}
			if got := web[39].Millis[detector.MajorOutage]; got != 40000 {
				t.Errorf("web today major_outage = %d, want 40000", got)
			}
			if got := web[39-prevAgo].Millis[detector.Operational]; got != 10000 {
				t.Errorf("web %s operational = %d (from the previous month's hash), want 10000", prevMonth, got)
			}
			if r, ok := web[39].Uptime(); !ok || r != 0.75 {
				t.Errorf("web today uptime %v %v, want 0.75", r, ok)
			}
			if comps["gone"][39].Observed() {
				t.Errorf("a component never written has data: %+v", comps["gone"])
			}
			checks, err := s.Checks(ctx, []string{"home"}, 1, now, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if c := checks["home"][0].Counts; c[probe.StatusUp] != 20 || c[probe.StatusDown] != 4 {
				t.Errorf("check counts %v", c)
			}
			// Every hash expires on its own: history is bounded.
			keys, err := rdb.Keys(ctx, "t:{st}:uptime:[ck]:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) < 3 || len(keys) > 4 {
				t.Errorf("keys %v, want one per id and month", keys)
			}
			for _, k := range keys {
				if ttl := rdb.ExpireTime(ctx, k).Val(); ttl <= 0 {
					t.Errorf("%s has no expiry", k)
				}
			}
		})
	}
}

// TestStoreWriteFailsWhole: with Redis gone a write fails and the batch
// can be returned to the recorder intact.
func TestStoreWriteFailsWhole(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := NewStore(rdb, "t:")
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Write(ctx, "w1", 1, Batch{{KindCheck, "home", "2026-03-02", "up"}: 1}); err == nil {
		t.Fatal("write to a stopped Redis succeeded")
	}
	if _, err := s.Components(ctx, []string{"web"}, 3, time.Now(), time.UTC); err == nil {
		t.Fatal("read from a stopped Redis succeeded")
	}
}

// TestStoreSkipsForeignKeys: a hash key that holds another type (written
// by someone else) is skipped; the rest of the batch lands, once.
func TestStoreSkipsForeignKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	s := NewStore(rdb, "t:")
	today := time.Now().UTC().Format(dateLayout)
	if err := rdb.Set(ctx, "t:{st}:uptime:k:broken:"+today[:7], "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b := Batch{{KindCheck, "broken", today, "up"}: 1, {KindCheck, "home", today, "up"}: 1}
	for range 2 {
		if _, err := s.Write(ctx, "w1", 1, b); err != nil {
			t.Fatal(err)
		}
	}
	checks, err := s.Checks(ctx, []string{"home"}, 1, time.Now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := checks["home"][0].Counts[probe.StatusUp]; got != 1 {
		t.Errorf("home up = %d, want 1", got)
	}
	if skipped, _ := s.Write(ctx, "w1", 2, b); skipped != 1 {
		t.Errorf("skipped = %d, want 1", skipped)
	}
}
