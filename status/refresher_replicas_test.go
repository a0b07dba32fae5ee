package status

import (
	"bytes"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
)

// replica is one tocsin replica's read model: its own Refresher and
// Server over a shared store, with a local clock of its own.
type replica struct {
	server *Server
	r      *Refresher
	clock  atomic.Int64 // unix nanoseconds
}

func newReplica(store *fakeStore, cfg *config.Config, now time.Time, storeClock bool) *replica {
	rp := &replica{server: NewServer(ServerOptions{})}
	rp.clock.Store(now.UnixNano())
	rp.r = NewRefresher(RefresherOptions{Store: store, Config: func() *config.Config { return cfg }, Server: rp.server,
		Interval: time.Hour, StoreClock: storeClock,
		Now: func() time.Time { return time.Unix(0, rp.clock.Load()).UTC() }})
	return rp
}

// TestReplicasServeIdenticalBodies: two replicas whose clocks are seconds
// apart, reading one store, serve byte-identical /api/v1/checks and
// summary.json with the same ETags: every time shown comes from the
// store. A change gives both new bodies, alike again; a rebuild that
// finds nothing new keeps them.
func TestReplicasServeIdenticalBodies(t *testing.T) {
	t.Parallel()
	for _, storeClock := range []bool{false, true} {
		name := "local clocks"
		if storeClock {
			name = "store clock"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			store := newFakeStore(operationalState())
			store.publish(append(testChecks(detector.Up), smtpCheck(detector.Up)))
			a := newReplica(store, cfg, t0.Add(3*time.Second), storeClock)
			b := newReplica(store, cfg, t0.Add(11*time.Second), storeClock)
			ctx := t.Context()
			for _, rp := range []*replica{a, b} {
				if err := rp.r.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
			}
			first := sameBodies(t, "at start", a, b)

			// One replica polls 7s later than the other, after the owner
			// published a result and an incident was opened.
			store.advance(20 * time.Second)
			store.publish(testChecks(detector.Degraded))
			store.set(incidentState())
			a.clock.Add(int64(25 * time.Second))
			b.clock.Add(int64(32 * time.Second))
			for _, rp := range []*replica{a, b} {
				if err := rp.r.cycle(ctx, false); err != nil {
					t.Fatal(err)
				}
			}
			changed := sameBodies(t, "after a change", a, b)
			data, _, _ := a.server.Snapshot().Body(pathChecks)
			var doc struct {
				GeneratedAt time.Time `json:"generated_at"`
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if published := t0.Add(20 * time.Second); !doc.GeneratedAt.Equal(published) {
				t.Errorf("checks generated_at %v, want when the store last changed: %v", doc.GeneratedAt, published)
			}
			for path, etag := range changed {
				if etag == first[path] {
					t.Errorf("%s kept its ETag %s across a change", path, etag)
				}
			}

			// Nothing new, the clocks and the store's move on: a rebuild
			// (forced, as after a Trigger) changes no body, on either
			// replica.
			store.advance(10 * time.Second)
			a.clock.Add(int64(10 * time.Second))
			b.clock.Add(int64(13 * time.Second))
			for _, rp := range []*replica{a, b} {
				if err := rp.r.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for path, etag := range sameBodies(t, "after a quiet poll", a, b) {
				if etag != changed[path] {
					t.Errorf("%s: ETag %s after a poll that found nothing new, want %s", path, etag, changed[path])
				}
			}
		})
	}
}

// sameBodies fails the test unless a and b serve the same bytes and
// ETags at /api/v1/checks and summary.json; it returns the ETags.
func sameBodies(t *testing.T, when string, a, b *replica) map[string]string {
	t.Helper()
	etags := map[string]string{}
	for _, path := range []string{pathChecks, pathSummary} {
		da, ea, okA := a.server.Snapshot().Body(path)
		db, eb, okB := b.server.Snapshot().Body(path)
		if !okA || !okB {
			t.Fatalf("%s: no body for %s", when, path)
		}
		if !bytes.Equal(da, db) || ea != eb {
			t.Errorf("%s: the replicas serve %s differently:\n%s (ETag %s)\n%s (ETag %s)", when, path, da, ea, db, eb)
		}
		etags[path] = ea
	}
	return etags
}

// TestRefresherStoreClock: with StoreClock, a replica whose own clock is
// an hour slow judges time-dependent output (a maintenance window that
// has just begun) by the store's clock; without it, by its own.
func TestRefresherStoreClock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		storeClock bool
		built      time.Time
		want       Indicator
	}{
		{"store clock", true, t0, IndicatorMaintenance},
		{"own clock", false, t0.Add(-time.Hour), IndicatorNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Maintenance = []config.Maintenance{{Name: "DB upgrade", Components: []string{"db"},
				Start: t0.Add(-time.Second), End: t0.Add(time.Hour)}}
			store := newFakeStore(operationalState()) // its clock reads t0
			rp := newReplica(store, cfg, t0.Add(-time.Hour), tc.storeClock)
			if err := rp.r.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			snap := rp.server.Snapshot()
			if !snap.Built.Equal(tc.built) || snap.Indicator != tc.want {
				t.Errorf("built at %v with indicator %s; want %v and %s", snap.Built, snap.Indicator, tc.built,
					tc.want)
			}
			// The correction holds between polls and follows the store's
			// clock, not this replica's.
			store.advance(2 * time.Hour)
			rp.clock.Add(int64(time.Minute))
			if err := rp.r.cycle(t.Context(), false); err != nil {
				t.Fatal(err)
			}
			want := tc.built.Add(time.Minute)
			if tc.storeClock {
				want = t0.Add(2 * time.Hour)
			}
			if got := rp.server.Snapshot().Built; !got.Equal(want) {
				t.Errorf("after the clocks moved: built at %v, want %v", got, want)
			}
		})
	}
}
