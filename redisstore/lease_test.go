package redisstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
)

// lease runs one lease round, failing the test on an error.
func lease(t *testing.T, s *redisstore.Store, r ownership.LeaseRequest) ownership.LeaseReply {
	t.Helper()
	if r.TTL == 0 {
		r.TTL = time.Hour
	}
	rep, err := s.Lease(t.Context(), r)
	if err != nil {
		t.Fatalf("Lease(%+v): %v", r, err)
	}
	return rep
}

// waitExpired polls (Redis' clock decides) until member is no longer live.
func waitExpired(t *testing.T, s *redisstore.Store, observer, member string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rep := lease(t, s, ownership.LeaseRequest{Member: observer, Epoch: -1})
		if !slices.Contains(rep.Members, member) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s still live", member)
}

func TestLease(t *testing.T) {
	t.Parallel()
	runOnBackends(t, []storeCase{
		{"join, epoch, claims at the current epoch only", func(t *testing.T, e *env) {
			rep := lease(t, e.store, ownership.LeaseRequest{Member: "a", Epoch: -1})
			// A new keyspace's epochs start at Redis' clock (ms): one seen
			// before Redis lost its data is never current again.
			first := rep.Epoch
			if first < rep.Now.UnixMilli() || !slices.Equal(rep.Members, []string{"a"}) || rep.Created.IsZero() || rep.Now.IsZero() {
				t.Fatalf("first round %+v", rep)
			}
			if rep.Expires.Sub(rep.Now) != time.Hour {
				t.Errorf("lease ends %v after now, want the TTL", rep.Expires.Sub(rep.Now))
			}
			// A claim computed for the first epoch while b joins in the
			// same round is not taken: b's join changed the membership.
			rep = lease(t, e.store, ownership.LeaseRequest{Member: "b", Epoch: first, Claim: []string{"web"}})
			if rep.Epoch != first+1 || len(rep.Granted) != 0 {
				t.Fatalf("claim at a stale epoch: %+v", rep)
			}
			rep = lease(t, e.store, ownership.LeaseRequest{Member: "b", Epoch: first + 1, Claim: []string{"web"}})
			if len(rep.Granted) != 1 || rep.Granted[0].Prev != "" || rep.Granted[0].Fence.Member != "b" {
				t.Fatalf("claim at the current epoch: %+v", rep)
			}
			again := lease(t, e.store, ownership.LeaseRequest{Member: "b", Epoch: first + 1, Claim: []string{"web"}})
			if again.Granted[0].Fence != rep.Granted[0].Fence || again.Granted[0].Prev != "b" {
				t.Errorf("claiming what it holds changed the grant: %+v then %+v", rep.Granted, again.Granted)
			}
		}},
		{"a claim takes a component from a live holder, whose writes are fenced", func(t *testing.T, e *env) {
			fa := claim(t, e.store, "a", "web")["web"].Fence
			gb := claim(t, e.store, "b", "web")["web"]
			if gb.Prev != "a" || gb.Fence.Token <= fa.Token {
				t.Fatalf("take-over grant %+v after %+v: want prev a and a larger token", gb, fa)
			}
			o := obsAs(fa, e.policy, 0, "web", major, "x")
			if _, err := e.store.Observe(e.ctx, o); !errors.Is(err, ownership.ErrFenced) {
				t.Fatalf("Observe with the old holder's fence: %v, want ErrFenced", err)
			}
			o.Fence = gb.Fence
			if tr, err := e.store.Observe(e.ctx, o); err != nil || tr.Action != incident.ActionOpened {
				t.Fatalf("Observe with the new fence: %+v, %v", tr, err)
			}
			if st := e.load(10); len(st.Incidents) != 1 {
				t.Errorf("incidents %+v", st.Incidents)
			}
		}},
		{"release and leave", func(t *testing.T, e *env) {
			fa := claim(t, e.store, "a", "web", "api")
			rep := lease(t, e.store, ownership.LeaseRequest{Member: "b", Epoch: -1})
			// b cannot release what a holds.
			rep = lease(t, e.store, ownership.LeaseRequest{Member: "b", Epoch: rep.Epoch, Release: []string{"web"}})
			o := obsAs(fa["web"].Fence, e.policy, 0, "web", major, "x")
			if _, err := e.store.Observe(e.ctx, o); err != nil {
				t.Fatalf("a's grant after b released it: %v", err)
			}
			before := lease(t, e.store, ownership.LeaseRequest{Member: "b", Epoch: rep.Epoch}).Epoch
			left := lease(t, e.store, ownership.LeaseRequest{Member: "a", Leave: true, Epoch: -1, Release: []string{"web", "api"}})
			if slices.Contains(left.Members, "a") || left.Epoch != before+1 || !left.Expires.IsZero() {
				t.Fatalf("after a left: %+v (epoch before %d)", left, before)
			}
			o.Status = detector.Operational
			if _, err := e.store.Observe(e.ctx, o); !errors.Is(err, ownership.ErrFenced) {
				t.Errorf("a wrote after leaving: %v", err)
			}
			g := claim(t, e.store, "b", "web")["web"]
			if g.Prev != "" {
				t.Errorf("a released web, yet b's grant names prev %q", g.Prev)
			}
		}},
		{"an expired lease fences every write and tick", func(t *testing.T, e *env) {
			f := claim(t, e.store, "a", "web")["web"].Fence
			lease(t, e.store, ownership.LeaseRequest{Member: "a", TTL: 50 * time.Millisecond, Epoch: -1})
			waitExpired(t, e.store, "b", "a")
			o := obsAs(f, e.policy, 0, "web", major, "x") // the grant is still recorded, but its member is gone
			if _, err := e.store.Observe(e.ctx, o); !errors.Is(err, ownership.ErrFenced) {
				t.Errorf("Observe of an expired member: %v, want ErrFenced", err)
			}
			tr := incident.TickRequest{Now: at(0), Policy: e.policy, Member: "a"}
			if _, err := e.store.Tick(e.ctx, tr); !errors.Is(err, ownership.ErrFenced) {
				t.Errorf("Tick of an expired member: %v, want ErrFenced", err)
			}
			if st := e.load(10); len(st.Incidents) != 0 || st.Version != 0 {
				t.Errorf("an expired member changed the state: %+v", st)
			}
		}},
		{"retiring a component another live member holds is fenced", func(t *testing.T, e *env) {
			claim(t, e.store, "a", "web")
			ret := incident.Observation{Component: "web", Status: detector.Operational, At: at(0), Retire: true,
				Fence: ownership.Fence{Member: "b"}, Policy: e.policy}
			lease(t, e.store, ownership.LeaseRequest{Member: "b", Epoch: -1})
			if _, err := e.store.Observe(e.ctx, ret); !errors.Is(err, ownership.ErrFenced) {
				t.Errorf("retire while a holds web: %v, want ErrFenced", err)
			}
			lease(t, e.store, ownership.LeaseRequest{Member: "a", Leave: true, Epoch: -1})
			if _, err := e.store.Observe(e.ctx, ret); err != nil {
				t.Errorf("retire of a component nobody holds: %v", err)
			}
		}},
		{"a parent owned by another replica counts", func(t *testing.T, e *env) {
			// a owns the database and its incident; b owns the web app,
			// which depends on it: b's observation joins a's incident,
			// judged by what Redis holds, whatever b knows.
			fa := claim(t, e.store, "a", "db")["db"].Fence
			fb := claim(t, e.store, "b", "web")["web"].Fence
			tr, err := e.store.Observe(e.ctx, obsAs(fa, e.policy, 0, "db", major, "p"))
			if err != nil || tr.Action != incident.ActionOpened {
				t.Fatalf("parent: %+v, %v", tr, err)
			}
			child := obsAs(fb, e.policy, 30*time.Minute, "web", major, "c") // past the group window
			child.Parents = []string{"db"}
			if tr, err := e.store.Observe(e.ctx, child); err != nil || tr.Action != incident.ActionJoined || tr.IncidentID != "p" {
				t.Fatalf("child: %+v, %v; want it to join the parent's incident", tr, err)
			}
		}},
		{"tokens only grow", func(t *testing.T, e *env) {
			var last int64
			for i, m := range []string{"a", "b", "a", "c", "b"} {
				g := claim(t, e.store, m, "web")["web"].Fence
				if g.Token <= last {
					t.Fatalf("grant %d token %d after %d", i, g.Token, last)
				}
				last = g.Token
			}
		}},
	})
}

func TestLeaseRefusesBadMembers(t *testing.T) {
	t.Parallel()
	s := redisstore.New(nil, "t:") // never reaches Redis
	for _, m := range []string{"", "a b", "tab\there"} {
		if _, err := s.Lease(t.Context(), ownership.LeaseRequest{Member: m, TTL: time.Second}); err == nil {
			t.Errorf("member %q accepted", m)
		}
	}
	if _, err := s.Lease(t.Context(), ownership.LeaseRequest{Member: "a"}); err == nil {
		t.Error("a zero TTL accepted")
	}
}
