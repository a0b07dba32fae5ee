package redisstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
	"github.com/tocsin/tocsin/uptime"
)

// uptimeWrite is a batch of w1 on behalf of the env's grants; check "home"
// belongs to "web".
func (e *env) uptimeWrite(seq uint64, b uptime.Batch) uptime.Write {
	e.t.Helper()
	tokens := map[string]int64{}
	for _, c := range []string{"web", "api"} {
		tokens[c] = e.fence(c).Token
	}
	return uptime.Write{Writer: "w1", Seq: seq, Batch: b, Member: e.member, Tokens: tokens,
		CheckComponent: map[string]string{"home": "web", "broken": "web"}}
}

// TestUptime runs the same writes and reads on a real redis-server and on
// the embedded store.
func TestUptime(t *testing.T) {
	t.Parallel()
	runOnBackends(t, []storeCase{{"write and read", func(t *testing.T, e *env) {
		ctx := e.ctx
		s := e.store
		// Recent days: hashes of months long gone expire at once.
		now := time.Now().UTC()
		day := func(n int) string { return now.AddDate(0, 0, -n).Format(uptime.DateLayout) }
		// The last day of the previous month, within the 40 days read.
		prevMonth := uptime.Midnight(now, time.UTC).AddDate(0, 0, 1-now.Day()-1)
		prevAgo := int(uptime.Midnight(now, time.UTC).Sub(prevMonth).Hours() / 24)
		b := uptime.Batch{
			{Kind: uptime.KindComponent, ID: "web", Date: day(0), Status: "operational"}:                              60000,
			{Kind: uptime.KindComponent, ID: "web", Date: day(0), Status: "major_outage"}:                             20000,
			{Kind: uptime.KindComponent, ID: "web", Date: prevMonth.Format(uptime.DateLayout), Status: "operational"}: 5000,
			{Kind: uptime.KindComponent, ID: "api", Date: day(1), Status: "operational"}:                              1000,
			{Kind: uptime.KindCheck, ID: "home", Date: day(0), Status: "up"}:                                          10,
			{Kind: uptime.KindCheck, ID: "home", Date: day(0), Status: "down"}:                                        2,
		}
		for seq := range uint64(2) { // two batches add up
			if _, err := s.WriteUptime(ctx, e.uptimeWrite(seq+1, b)); err != nil {
				t.Fatal(err)
			}
		}
		// A resend of a batch that landed (its reply was lost) and an
		// older one change nothing.
		for _, seq := range []uint64{2, 1} {
			if _, err := s.WriteUptime(ctx, e.uptimeWrite(seq, b)); err != nil {
				t.Fatal(err)
			}
		}
		comps, err := s.ComponentUptime(ctx, []string{"web", "api", "gone"}, 40, now, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		web := comps["web"]
		if len(web) != 40 || web[39].Date.Format(uptime.DateLayout) != day(0) || web[0].Date.Format(uptime.DateLayout) != day(39) {
			t.Fatalf("web days %+v", web)
		}
		if got := web[39].Millis.Of(detector.MajorOutage); got != 40000 {
			t.Errorf("web today major_outage = %d, want 40000", got)
		}
		if got := web[39-prevAgo].Millis.Of(detector.Operational); got != 10000 {
			t.Errorf("web %s operational = %d (from the previous month's hash), want 10000", prevMonth, got)
		}
		if r, ok := web[39].Uptime(); !ok || r != 0.75 {
			t.Errorf("web today uptime %v %v, want 0.75", r, ok)
		}
		if comps["gone"][39].Observed() {
			t.Errorf("a component never written has data: %+v", comps["gone"])
		}
		checks, err := s.CheckUptime(ctx, []string{"home"}, 1, now, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if c := checks["home"][0].Counts; c[probe.StatusUp] != 20 || c[probe.StatusDown] != 4 {
			t.Errorf("check counts %v", c)
		}
		// Every hash expires on its own: history is bounded.
		keys, err := allKeys(ctx, e.client, e.prefix+"{st}:uptime:[ck]:*")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) < 3 || len(keys) > 4 {
			t.Errorf("keys %v, want one per id and month", keys)
		}
		for _, k := range keys {
			if ttl := e.client.ExpireTime(ctx, k).Val(); ttl <= 0 {
				t.Errorf("%s has no expiry", k)
			}
		}
	}}, {"fenced", func(t *testing.T, e *env) {
		// Another replica takes web over: w1's web buckets (and its
		// check's) are dropped and counted; api's land.
		today := time.Now().UTC().Format(uptime.DateLayout)
		w := e.uptimeWrite(1, uptime.Batch{
			{Kind: uptime.KindComponent, ID: "web", Date: today, Status: "operational"}: 1000,
			{Kind: uptime.KindCheck, ID: "home", Date: today, Status: "up"}:             1,
			{Kind: uptime.KindComponent, ID: "api", Date: today, Status: "operational"}: 1000,
		})
		claim(t, e.store, "r2", "web")
		res, err := e.store.WriteUptime(e.ctx, w)
		if err != nil || res.Fenced != 2 {
			t.Fatalf("WriteUptime = %+v, %v; want 2 hashes fenced", res, err)
		}
		comps, err := e.store.ComponentUptime(e.ctx, []string{"web", "api"}, 1, time.Now(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if comps["web"][0].Observed() || comps["api"][0].Millis.Of(detector.Operational) != 1000 {
			t.Errorf("after a fenced write: web %+v, api %+v", comps["web"][0], comps["api"][0])
		}
	}}, {"import", func(t *testing.T, e *env) {
		today := time.Now().UTC().Format(uptime.DateLayout)
		b := uptime.Batch{{Kind: uptime.KindComponent, ID: "web", Date: today, Status: "operational"}: 500}
		if err := e.store.ImportUptime(e.ctx, b); err != nil {
			t.Fatal(err)
		}
		comps, err := e.store.ComponentUptime(e.ctx, []string{"web"}, 1, time.Now(), time.UTC)
		if err != nil || comps["web"][0].Millis.Of(detector.Operational) != 500 {
			t.Errorf("imported: %+v, %v", comps["web"], err)
		}
	}}})
}

// TestUptimeWriteFailsWhole: with Redis gone a write fails and the batch
// can be returned to the recorder intact.
func TestUptimeWriteFailsWhole(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := redisstore.New(srv.Client(t), "t:")
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w := uptime.Write{Writer: "w1", Seq: 1, Member: "r1", Tokens: map[string]int64{"web": 1},
		Batch: uptime.Batch{{Kind: uptime.KindCheck, ID: "home", Date: "2026-03-02", Status: "up"}: 1}}
	if _, err := s.WriteUptime(ctx, w); err == nil {
		t.Fatal("write to a stopped Redis succeeded")
	}
	if _, err := s.ComponentUptime(ctx, []string{"web"}, 3, time.Now(), time.UTC); err == nil {
		t.Fatal("read from a stopped Redis succeeded")
	}
}

// TestUptimeSkipsForeignKeys: a hash key that holds another type (written
// by someone else) is skipped; the rest of the batch lands, once.
func TestUptimeSkipsForeignKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	e := newEnv(t, srv.Client(t))
	today := time.Now().UTC().Format(uptime.DateLayout)
	if err := e.client.Set(e.ctx, e.prefix+"{st}:uptime:k:broken:"+today[:7], "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b := uptime.Batch{{Kind: uptime.KindCheck, ID: "broken", Date: today, Status: "up"}: 1,
		{Kind: uptime.KindCheck, ID: "home", Date: today, Status: "up"}: 1}
	for range 2 {
		if _, err := e.store.WriteUptime(e.ctx, e.uptimeWrite(1, b)); err != nil {
			t.Fatal(err)
		}
	}
	checks, err := e.store.CheckUptime(e.ctx, []string{"home"}, 1, time.Now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := checks["home"][0].Counts[probe.StatusUp]; got != 1 {
		t.Errorf("home up = %d, want 1", got)
	}
	if res, _ := e.store.WriteUptime(e.ctx, e.uptimeWrite(2, b)); res.Skipped != 1 {
		t.Errorf("skipped = %d, want 1", res.Skipped)
	}
}

var _ ownership.Leaser = (*redisstore.Store)(nil)

// TestUptimeShared: replicas asking for the same slot get the same
// history, though a writer adds to the buckets between their reads; the
// next slot reads afresh.
func TestUptimeShared(t *testing.T) {
	t.Parallel()
	runOnBackends(t, []storeCase{{"one read per slot", func(t *testing.T, e *env) {
		other := redisstore.New(e.client, e.prefix) // another replica
		now := time.Now().UTC()
		today := now.Format(uptime.DateLayout)
		add := func(seq uint64, ms int64) {
			b := uptime.Batch{{Kind: uptime.KindComponent, ID: "web", Date: today, Status: "major_outage"}: ms}
			if _, err := e.store.WriteUptime(e.ctx, e.uptimeWrite(seq, b)); err != nil {
				t.Fatal(err)
			}
		}
		add(1, 1000)
		slot := now.Truncate(time.Minute)
		a, err := e.store.ComponentUptimeAt(e.ctx, slot, []string{"web", "api"}, 3, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		add(2, 500) // lands between the two replicas' reads
		b, err := other.ComponentUptimeAt(e.ctx, slot, []string{"web", "api"}, 3, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		// Only days with data: today's for web, none for api.
		if !reflect.DeepEqual(a, b) || len(a["web"]) != 1 || a["web"][0].Millis.Of(detector.MajorOutage) != 1000 || len(a["api"]) != 0 {
			t.Fatalf("same slot, different histories:\n%+v\n%+v", a, b)
		}
		c, err := other.ComponentUptimeAt(e.ctx, slot.Add(time.Minute), []string{"web", "api"}, 3, time.UTC)
		if err != nil || len(c["web"]) != 1 || c["web"][0].Millis.Of(detector.MajorOutage) != 1500 {
			t.Errorf("the next slot: %+v, %v; want the new counts", c["web"], err)
		}
		if d := c["web"][0].Date; !d.Equal(uptime.Midnight(now, time.UTC)) {
			t.Errorf("date %v, want today's midnight", d)
		}
	}}})
}
