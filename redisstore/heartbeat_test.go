package redisstore_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/heartbeat"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
)

func TestHeartbeatStore(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := redisstore.New(be.client, "tocsin:")

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
			raw, err := be.client.HGetAll(ctx, "tocsin:{st}:hb:job").Result()
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

			be.client.HSet(ctx, "tocsin:{st}:hb:bad", "success", "yesterday")
			if _, err := s.Beats(ctx, "bad"); err == nil || err.Error() != `redisstore: read beats of "bad": field success: not unix milliseconds` {
				t.Errorf("malformed field: %v", err)
			}
		})
	}
}

func ms(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }

// TestStoreConcurrentBeats: beats racing from many replicas leave the latest
// time of each kind, and first_seen is the earliest write's.
func TestHeartbeatConcurrentBeats(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := redisstore.New(be.client, "tocsin:")
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
func TestHeartbeatOneCommand(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := redisstore.New(srv.Client(t), "tocsin:")
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

func TestHeartbeatStoreDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := redisstore.New(srv.Client(t), "tocsin:")
	srv.Stop()
	if err := s.Beat(t.Context(), "job", heartbeat.Success, at(0)); err == nil || !strings.HasPrefix(err.Error(), `redisstore: beat "job" (success): `) {
		t.Errorf("Beat with Redis down: %v", err)
	}
	if _, err := s.Beats(t.Context(), "job"); err == nil {
		t.Error("Beats with Redis down succeeded")
	}
	if err := s.Touch(t.Context(), "job", at(0)); err == nil {
		t.Error("Touch with Redis down succeeded")
	}
}

// TestHeartbeatReadsSchema1Keys: beats a schema-1 replica still takes
// during a rolling upgrade (its key, <prefix>{hb}:<check>) count: each time
// is the later of both places, first_seen the earlier; Forget drops both.
func TestHeartbeatReadsSchema1Keys(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := redisstore.New(be.client, "tocsin:")
			if err := s.Beat(ctx, "job", heartbeat.Success, at(time.Minute)); err != nil {
				t.Fatal(err)
			}
			be.client.HSet(ctx, "tocsin:{hb}:job", "first_seen", ms(at(-time.Hour)), "success", ms(at(2*time.Minute)),
				"fail", ms(at(30*time.Second)))
			want := probe.Beats{FirstSeen: at(-time.Hour), LastSuccess: at(2 * time.Minute), LastFail: at(30 * time.Second)}
			if b, err := s.Beats(ctx, "job"); err != nil || b != want {
				t.Errorf("Beats = %+v, %v; want %+v", b, err, want)
			}
			if err := s.Forget(ctx, "job"); err != nil {
				t.Fatal(err)
			}
			if n := be.client.Exists(ctx, "tocsin:{hb}:job", "tocsin:{st}:hb:job").Val(); n != 0 {
				t.Errorf("%d keys left after Forget", n)
			}
		})
	}
}

// TestHeartbeatLog: a /log keeps the latest message; one of the same
// millisecond replaces it, an older one does not; and it starts no clock:
// a check that only ever logged has no first_seen.
func TestHeartbeatLog(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := redisstore.New(be.client, "log:")
			for _, l := range []struct {
				at  time.Time
				msg string
			}{{at(time.Minute), "first"}, {at(time.Minute), "same millisecond"}, {at(30 * time.Second), "older"}} {
				if err := s.Log(ctx, "job", l.at, l.msg); err != nil {
					t.Fatal(err)
				}
			}
			want := probe.Beats{LastLog: at(time.Minute), LogMessage: "same millisecond"}
			if b, err := s.Beats(ctx, "job"); err != nil || b != want {
				t.Errorf("Beats = %+v, %v; want %+v", b, err, want)
			}
		})
	}
}
