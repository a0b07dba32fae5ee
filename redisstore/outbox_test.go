package redisstore_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/outbox"
	"github.com/tocsin/tocsin/ownership"
)

// receivers are the filters the outbox tests run with: everything; major
// and worse; only api; PagerDuty-like (open, reopen, resolve and impact
// changes).
func receivers() []outbox.Filter {
	all := append(slices.Clone(outbox.IncidentKinds()), outbox.Reminder)
	return []outbox.Filter{
		{Receiver: "all", MinImpact: incident.ImpactNone, Kinds: all},
		{Receiver: "major", MinImpact: incident.ImpactMajor, Kinds: all},
		{Receiver: "api-only", MinImpact: incident.ImpactNone, Components: []string{"api"}, Kinds: all},
		{Receiver: "pd", MinImpact: incident.ImpactNone, Kinds: []outbox.Kind{outbox.Opened, outbox.Reopened, outbox.Resolved},
			ImpactChanges: true},
	}
}

// drain reads every entry for receiver r (as consumer c) and acknowledges
// them; it returns "kind:incident" for those queued for r.
func (e *env) drain(r string) []string {
	e.t.Helper()
	if err := e.store.EnsureGroups(e.ctx, []string{r}); err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for {
		es, err := e.store.ReadOutbox(e.ctx, r, "c1", 100)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		for _, en := range es {
			if slices.Contains(en.To, r) {
				id := ""
				if en.Event.Incident != nil {
					id = en.Event.Incident.ID
				}
				out = append(out, string(en.Event.Kind)+":"+id)
			}
			if err := e.store.AckOutbox(e.ctx, r, en.ID); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	runOnBackends(t, []storeCase{
		{"events go with their transitions, filtered", func(t *testing.T, e *env) {
			e.store.SetReceivers(receivers())
			for _, r := range []string{"all", "major", "api-only", "pd"} {
				if err := e.store.EnsureGroups(e.ctx, []string{r}); err != nil {
					t.Fatal(err)
				}
			}
			e.observe(0, "web", degraded, "a")                // opened, minor
			e.observe(time.Minute, "web", major, "x")         // updated, impact minor -> critical
			e.observe(2*time.Minute, "api", partial, "x")     // api joins
			e.observe(3*time.Minute, "web", operational, "x") // updated
			e.observe(4*time.Minute, "api", operational, "x") // monitoring
			e.tick(10 * time.Minute)                          // resolved
			for r, want := range map[string][]string{
				"all":      {"opened:a", "updated:a", "joined:a", "updated:a", "monitoring:a", "resolved:a"},
				"major":    {"updated:a", "joined:a", "updated:a", "monitoring:a", "resolved:a"},
				"api-only": {"joined:a", "updated:a", "monitoring:a", "resolved:a"},
				"pd":       {"opened:a", "updated:a", "resolved:a"},
			} {
				if got := e.drain(r); !slices.Equal(got, want) {
					t.Errorf("%s got %v, want %v", r, got, want)
				}
			}
			// deliver_notifications: every update was queued for someone.
			for _, u := range e.incident("a").Updates {
				if !u.Notified {
					t.Errorf("update %s not marked notified", u.ID)
				}
			}
		}},
		{"an event carries the incident before and after, and the update", func(t *testing.T, e *env) {
			e.store.SetReceivers(receivers())
			if err := e.store.EnsureGroups(e.ctx, []string{"all"}); err != nil {
				t.Fatal(err)
			}
			e.observe(0, "web", degraded, "a")
			e.observe(time.Minute, "web", major, "x")
			es, err := e.store.ReadOutbox(e.ctx, "all", "c1", 10)
			if err != nil || len(es) != 2 {
				t.Fatalf("ReadOutbox = %+v, %v", es, err)
			}
			ev := es[1].Event
			if ev.Kind != outbox.Updated || ev.Incident.ID != "a" || ev.Incident.Impact != incident.ImpactCritical ||
				ev.Prev == nil || ev.Prev.Impact != incident.ImpactMinor || ev.Update == nil ||
				ev.Update.ID != "au2" || !strings.Contains(ev.Update.Body, "major outage") ||
				len(ev.Update.Affected) != 1 || ev.Incident.Components["web"] != string(major) || ev.At == 0 {
				t.Errorf("event %+v (incident %+v, prev %+v, update %+v)", ev, ev.Incident, ev.Prev, ev.Update)
			}
			if k := es[1].Key(); k != "a:au2" {
				t.Errorf("idempotency key %q, want a:au2", k)
			}
		}},
		{"no receiver: nothing queued, not notified", func(t *testing.T, e *env) {
			e.observe(0, "web", major, "a")
			if got := e.drain("all"); len(got) != 0 {
				t.Errorf("queued %v with no receivers", got)
			}
			if e.incident("a").Updates[0].Notified {
				t.Error("an update queued for nobody is marked notified")
			}
		}},
		{"a fenced write queues nothing", func(t *testing.T, e *env) {
			e.store.SetReceivers(receivers())
			f := e.fence("web")
			claim(t, e.store, "r2", "web")
			if _, err := e.store.Observe(e.ctx, obsAs(f, e.policy, 0, "web", major, "a")); !errors.Is(err, ownership.ErrFenced) {
				t.Fatalf("Observe: %v", err)
			}
			if got := e.drain("all"); len(got) != 0 {
				t.Errorf("a fenced write queued %v", got)
			}
		}},
		{"people's actions", func(t *testing.T, e *env) {
			e.store.SetReceivers(receivers())
			e.drain("all")
			if _, err := e.store.CreateIncident(e.ctx, incident.ManualIncident{ID: "m", Name: "Checkout", Body: "Looking.",
				Components: map[string]incident.ComponentStatus{"api": major}, At: at(0)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.Rename(e.ctx, "m", "Checkout down", at(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.AddUpdate(e.ctx, "m", incident.HumanUpdate{Status: incident.Resolved, Body: "Fixed.", At: at(2 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.AddUpdate(e.ctx, "m", incident.HumanUpdate{Status: incident.Investigating, Body: "Back.", At: at(3 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			want := []string{"opened:m", "renamed:m", "resolved:m", "reopened:m"}
			if got := e.drain("all"); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		}},
		{"claim, backlog and trim", func(t *testing.T, e *env) {
			e.store.SetReceivers(receivers())
			if err := e.store.EnsureGroups(e.ctx, []string{"all", "pd"}); err != nil {
				t.Fatal(err)
			}
			e.observe(0, "web", major, "a")
			e.observe(time.Minute, "web", operational, "x")
			// c1 reads both for "all", then dies; c2 takes them over.
			es, err := e.store.ReadOutbox(e.ctx, "all", "c1", 10)
			if err != nil || len(es) != 2 {
				t.Fatalf("read %+v, %v", es, err)
			}
			claimed, err := e.store.ClaimOutbox(e.ctx, "all", "c2")
			if err != nil || len(claimed) != 2 || claimed[0].ID != es[0].ID {
				t.Fatalf("ClaimOutbox = %+v, %v", claimed, err)
			}
			b, err := e.store.OutboxBacklog(e.ctx)
			if err != nil || b["all"] != 2 || b["pd"] != 2 {
				t.Fatalf("backlog %v, %v; want 2 pending for all, 2 unread for pd", b, err)
			}
			if err := e.store.AckOutbox(e.ctx, "all", claimed[0].ID, claimed[1].ID); err != nil {
				t.Fatal(err)
			}
			e.drain("pd")
			b, err = e.store.OutboxBacklog(e.ctx)
			if err != nil || b["all"] != 0 || b["pd"] != 0 {
				t.Fatalf("backlog after delivery %v, %v", b, err)
			}
			// Acknowledged by every group: trimmed (but the newest, kept as a mark).
			if n := e.client.XLen(e.ctx, e.prefix+"{st}:outbox").Val(); n > 1 {
				t.Errorf("%d entries left after every group acknowledged", n)
			}
			if err := e.store.DropGroups(e.ctx, []string{"all"}); err != nil {
				t.Fatal(err)
			}
			if b, _ := e.store.OutboxBacklog(e.ctx); len(b) != 1 {
				t.Errorf("groups after dropping pd: %v", b)
			}
		}},
		{"reminders, for the receiver's owner", func(t *testing.T, e *env) {
			e.store.SetReceivers(receivers())
			e.drain("all")
			e.observe(0, "web", major, "a")
			f := claim(t, e.store, e.member, "notify:all")["notify:all"].Fence
			if n, err := e.store.Remind(e.ctx, "all", f, time.Hour); err != nil || n != 0 {
				t.Errorf("a reminder an hour early: %d, %v", n, err)
			}
			// Due once a millisecond of Redis' clock has passed.
			deadline := time.Now().Add(5 * time.Second)
			for {
				n, err := e.store.Remind(e.ctx, "all", f, time.Millisecond)
				if err != nil || n > 1 {
					t.Fatalf("Remind = %d, %v", n, err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no reminder")
				}
			}
			claim(t, e.store, "r2", "notify:all")
			if _, err := e.store.Remind(e.ctx, "all", f, time.Millisecond); !errors.Is(err, ownership.ErrFenced) {
				t.Errorf("Remind by a former owner: %v, want ErrFenced", err)
			}
			if got := e.drain("all"); !slices.Equal(got, []string{"opened:a", "reminder:a"}) {
				t.Errorf("got %v", got)
			}
		}},
		{"a non-incident event is queued once", func(t *testing.T, e *env) {
			e.drain("all")
			ev := outbox.Event{Kind: outbox.MaintenanceStarted, Subject: "db", Body: "Database upgrade"}
			for i := range 3 {
				queued, err := e.store.QueueEvent(e.ctx, "maint:db:1", time.Minute, ev, []string{"all"})
				if err != nil || queued != (i == 0) {
					t.Fatalf("QueueEvent %d = %v, %v", i, queued, err)
				}
			}
			if got := e.drain("all"); !slices.Equal(got, []string{"maintenance_started:"}) {
				t.Errorf("got %v", got)
			}
		}},
	})
}
