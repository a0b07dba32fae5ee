package heartbeat_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/heartbeat"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
)

// t0 is the injected time the tests count from.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// backend is a Redis the store tests run against: a real redis-server, and
// miniredis, which backs the embedded store.
type backend struct {
	name   string
	client redis.UniversalClient
}

func backends(t *testing.T) []backend {
	t.Helper()
	mr := miniredis.RunT(t)
	mc := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
		WriteTimeout: 2 * time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = mc.Close() })
	return []backend{{"redis", redistest.Start(t).Client(t)}, {"miniredis", mc}}
}

func TestStore(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := heartbeat.NewStore(be.client, "tocsin:")

			b, err := s.Beats(ctx, "job")
			if err != nil || b != (probe.Beats{}) {
				t.Fatalf("Beats of an unknown check = %+v, %v; want zero", b, err)
			}
			if err := s.Touch(ctx, "job", at(0)); err != nil {
				t.Fatal(err)
			}
			if err := s.Touch(ctx, "job", at(time.Hour)); err != nil { // keeps the first
				t.Fatal(err)
			}
			steps := []struct {
				kind heartbeat.Kind
				at   time.Time
			}{
				{heartbeat.Start, at(time.Minute)},
				{heartbeat.Success, at(2 * time.Minute)},
				{heartbeat.Fail, at(3 * time.Minute)},
				{heartbeat.Success, at(90 * time.Second)}, // late, older: ignored
				{heartbeat.Success, at(4*time.Minute + 250*time.Millisecond)},
			}
			for _, st := range steps {
				if err := s.Beat(ctx, "job", st.kind, st.at); err != nil {
					t.Fatalf("Beat(%s, %s): %v", st.kind, st.at, err)
				}
			}
			want := probe.Beats{
				FirstSeen:   at(0),
				LastStart:   at(time.Minute),
				LastFail:    at(3 * time.Minute),
				LastSuccess: at(4*time.Minute + 250*time.Millisecond),
			}
			if b, err = s.Beats(ctx, "job"); err != nil || b != want {
				t.Errorf("Beats = %+v, %v\nwant %+v", b, err, want)
			}

			// The documented layout: one hash, unix ms.
			raw, err := be.client.HGetAll(ctx, "tocsin:{hb}:job").Result()
			wantRaw := map[string]string{
				"first_seen": ms(at(0)), "start": ms(at(time.Minute)),
				"fail": ms(at(3 * time.Minute)), "success": ms(at(4*time.Minute + 250*time.Millisecond)),
			}
			if err != nil || !reflect.DeepEqual(raw, wantRaw) {
				t.Errorf("HGETALL = %v, %v; want %v", raw, err, wantRaw)
			}

			// A first beat sets first_seen too.
			if err := s.Beat(ctx, "other", heartbeat.Fail, at(time.Second)); err != nil {
				t.Fatal(err)
			}
			if b, _ := s.Beats(ctx, "other"); b != (probe.Beats{FirstSeen: at(time.Second), LastFail: at(time.Second)}) {
				t.Errorf("first beat: %+v", b)
			}

			if err := s.Beat(ctx, "job", "finish", at(0)); err == nil || !strings.Contains(err.Error(), `unknown kind "finish"`) {
				t.Errorf("unknown kind: %v", err)
			}

			if err := s.Forget(ctx, "job"); err != nil {
				t.Fatal(err)
			}
			if b, err := s.Beats(ctx, "job"); err != nil || b != (probe.Beats{}) {
				t.Errorf("after Forget: %+v, %v", b, err)
			}

			be.client.HSet(ctx, "tocsin:{hb}:bad", "success", "yesterday")
			if _, err := s.Beats(ctx, "bad"); err == nil || err.Error() != `heartbeat: read beats of "bad": field success: not unix milliseconds` {
				t.Errorf("malformed field: %v", err)
			}
		})
	}
}

func ms(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }

// TestStoreConcurrentBeats: beats racing from many replicas leave the latest
// time of each kind, and first_seen is the earliest write's.
func TestStoreConcurrentBeats(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := heartbeat.NewStore(be.client, "tocsin:")
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					for _, k := range []heartbeat.Kind{heartbeat.Success, heartbeat.Fail, heartbeat.Start} {
						if err := s.Beat(t.Context(), "job", k, at(time.Duration(i)*time.Second)); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			b, err := s.Beats(t.Context(), "job")
			last := at(49 * time.Second)
			if err != nil || b.LastSuccess != last || b.LastFail != last || b.LastStart != last || b.FirstSeen.IsZero() {
				t.Errorf("Beats = %+v, %v; want every kind at %s", b, err, last)
			}
		})
	}
}

// TestStoreOneCommand: a beat is one script run (one round trip, atomic),
// whatever it changes.
func TestStoreOneCommand(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := heartbeat.NewStore(srv.Client(t), "tocsin:")
	if err := s.Beat(t.Context(), "job", heartbeat.Success, at(0)); err != nil { // loads the script
		t.Fatal(err)
	}
	before := srv.CommandStats(t)
	for i := range 3 {
		if err := s.Beat(t.Context(), "job", heartbeat.Start, at(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	after := srv.CommandStats(t)
	if got := after["evalsha"] - before["evalsha"]; got != 3 {
		t.Errorf("EVALSHA calls = %d, want 3 (one per beat)", got)
	}
	if got := after["eval"] - before["eval"]; got != 0 {
		t.Errorf("EVAL calls = %d, want 0", got)
	}
}

func TestStoreDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := heartbeat.NewStore(srv.Client(t), "tocsin:")
	srv.Stop()
	if err := s.Beat(t.Context(), "job", heartbeat.Success, at(0)); err == nil || !strings.HasPrefix(err.Error(), `heartbeat: beat "job" (success): `) {
		t.Errorf("Beat with Redis down: %v", err)
	}
	if _, err := s.Beats(t.Context(), "job"); err == nil {
		t.Error("Beats with Redis down succeeded")
	}
	if err := s.Touch(t.Context(), "job", at(0)); err == nil {
		t.Error("Touch with Redis down succeeded")
	}
}
