package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/ownertest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/ownership"
	"github.com/tocsin/tocsin/redisstore"
)

const (
	operational = detector.Operational
	maintenance = detector.UnderMaintenance
	degraded    = detector.DegradedPerformance
	partial     = detector.PartialOutage
	major       = detector.MajorOutage
)

// base is the injected "now" every scenario counts from.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

var names = map[string]string{"web": "Web App", "api": "API", "mail": "Email", "db": "Database"}

func defaultPolicy() incident.Policy {
	return incident.Policy{
		// Most cases predate incidents.group_by "relation": they show the
		// lifecycle under "window"; relation_test.go shows the default.
		GroupBy:      incident.GroupByWindow,
		GroupWindow:  15 * time.Minute,
		ResolveAfter: 5 * time.Minute,
		ReopenWindow: 30 * time.Minute,
		Retention:    24 * time.Hour,
	}
}

// backend is a Redis implementation the same tests run against.
type backend struct {
	name   string
	client redis.UniversalClient
}

// backends starts a real redis-server, a three-primary Redis Cluster and a
// miniredis, shared by the subtests of t; each subtest works under its own
// key prefix. On the Cluster every script must keep to the {st} slot.
func backends(t *testing.T) []backend {
	t.Helper()
	srv := redistest.Start(t)
	cluster := redistest.StartCluster(t, 3)
	mr := miniredis.RunT(t)
	mc := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
		WriteTimeout: 2 * time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = mc.Close() })
	return []backend{{"redis", srv.Client(t)}, {"cluster", cluster.Client(t)}, {"miniredis", mc}}
}

// allKeys is KEYS on every primary of a Cluster, on the one server else.
func allKeys(ctx context.Context, c redis.UniversalClient, pattern string) ([]string, error) {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Keys(ctx, pattern).Result()
	}
	var mu sync.Mutex
	var out []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		k, err := m.Keys(ctx, pattern).Result()
		mu.Lock()
		out = append(out, k...)
		mu.Unlock()
		return err
	})
	return out, err
}

var prefixSeq atomic.Int64

// env is one test's store plus helpers that fail the test on store errors.
// It is a live member of the ownership membership ("r1", with a lease
// long enough for any test) and claims each component it observes, so its
// writes carry a current fence.
type env struct {
	t      *testing.T
	ctx    context.Context
	client redis.UniversalClient
	prefix string
	store  *redisstore.Store
	policy incident.Policy
	member string
	mu     sync.Mutex // guards fences: tests observe from several goroutines
	fences map[string]ownership.Fence
}

func newEnv(t *testing.T, client redis.UniversalClient) *env {
	prefix := fmt.Sprintf("t%d:", prefixSeq.Add(1))
	return &env{
		t: t, ctx: t.Context(), client: client, prefix: prefix,
		store: redisstore.New(client, prefix), policy: defaultPolicy(),
		member: "r1", fences: map[string]ownership.Fence{},
	}
}

// fence returns the env's grant of comp, claiming it first if need be.
func (e *env) fence(comp string) ownership.Fence {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := e.fences[comp]; ok {
		return f
	}
	for c, g := range claim(e.t, e.store, e.member, comp) {
		e.fences[c] = g.Fence
	}
	return e.fences[comp]
}

// claim makes member a live member and claims comps for it.
func claim(t *testing.T, s *redisstore.Store, member string, comps ...string) map[string]ownership.Grant {
	t.Helper()
	return ownertest.Claim(t, s, member, comps...)
}

// obs builds the observation that component comp is status at base+off.
func (e *env) obs(off time.Duration, comp string, status incident.ComponentStatus, newID string) incident.Observation {
	e.t.Helper()
	return obsAs(e.fence(comp), e.policy, off, comp, status, newID)
}

// obsAs is the observation that comp is status at base+off, written with
// fence f (claimed by nobody here).
func obsAs(f ownership.Fence, p incident.Policy, off time.Duration, comp string, status incident.ComponentStatus, newID string) incident.Observation {
	return incident.Observation{
		Fence:         f,
		Component:     comp,
		ComponentName: names[comp],
		Status:        status,
		At:            at(off),
		Body:          fmt.Sprintf("%s is %s.", names[comp], status.Label()),
		NewID:         newID,
		Policy:        p,
	}
}

func (e *env) observe(off time.Duration, comp string, status incident.ComponentStatus, newID string) incident.Transition {
	e.t.Helper()
	tr, err := e.store.Observe(e.ctx, e.obs(off, comp, status, newID))
	if err != nil {
		e.t.Fatalf("Observe(%s, %s=%s): %v", off, comp, status, err)
	}
	return tr
}

// observeDetail is observe with the checks behind the status named.
func (e *env) observeDetail(off time.Duration, comp string, status incident.ComponentStatus, detail, newID string) incident.Transition {
	e.t.Helper()
	return e.observeWith(off, comp, status, newID, func(o *incident.Observation) { o.Detail = detail })
}

// observeChild is observe for a component whose parents (depends_on) are
// not operational.
func (e *env) observeChild(off time.Duration, comp string, status incident.ComponentStatus, newID string, parents ...string) incident.Transition {
	e.t.Helper()
	return e.observeWith(off, comp, status, newID, func(o *incident.Observation) { o.Parents = parents })
}

// observeWith is observe with the observation adjusted by edit.
func (e *env) observeWith(off time.Duration, comp string, status incident.ComponentStatus, newID string, edit func(*incident.Observation)) incident.Transition {
	e.t.Helper()
	o := e.obs(off, comp, status, newID)
	edit(&o)
	tr, err := e.store.Observe(e.ctx, o)
	if err != nil {
		e.t.Fatalf("Observe(%s, %s=%s %+v): %v", off, comp, status, o, err)
	}
	return tr
}

func (e *env) tick(off time.Duration) []incident.Transition {
	e.t.Helper()
	trs, err := e.store.Tick(e.ctx, e.tickReq(off, "This incident has been resolved."))
	if err != nil {
		e.t.Fatalf("Tick(%s): %v", off, err)
	}
	return trs
}

// tickReq is a Tick at base+off by the env's member.
func (e *env) tickReq(off time.Duration, body string) incident.TickRequest {
	e.mu.Lock()
	if len(e.fences) == 0 {
		claim(e.t, e.store, e.member) // joins the membership
	}
	e.mu.Unlock()
	return incident.TickRequest{Now: at(off), Policy: e.policy, ResolvedBody: body, Member: e.member}
}

func (e *env) load(limit int) incident.State {
	e.t.Helper()
	st, err := e.store.Load(e.ctx, limit)
	if err != nil {
		e.t.Fatalf("Load(%d): %v", limit, err)
	}
	return st
}

func (e *env) version() int64 {
	e.t.Helper()
	v, err := e.store.Version(e.ctx)
	if err != nil {
		e.t.Fatalf("Version: %v", err)
	}
	return v
}

// incident returns incident id from a Load, failing if it is not there.
func (e *env) incident(id string) incident.Incident {
	e.t.Helper()
	for _, inc := range e.load(1000).Incidents {
		if inc.ID == id {
			return inc
		}
	}
	e.t.Fatalf("incident %s not in Load", id)
	return incident.Incident{}
}

// ids lists the incident ids of a state, in its order.
func ids(st incident.State) string {
	var s []string
	for _, inc := range st.Incidents {
		s = append(s, inc.ID)
	}
	return strings.Join(s, ",")
}

// editIncident rewrites the stored JSON of an incident, as a person acting
// through the API would.
func (e *env) editIncident(id string, edit func(m map[string]any)) {
	e.t.Helper()
	key := e.prefix + "{st}:incident:" + id
	raw, err := e.client.Get(e.ctx, key).Result()
	if err != nil {
		e.t.Fatalf("GET %s: %v", key, err)
	}
	d := json.NewDecoder(strings.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		e.t.Fatalf("decode %s: %v", key, err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.client.Set(e.ctx, key, b, 0).Err(); err != nil {
		e.t.Fatalf("SET %s: %v", key, err)
	}
}

func expect(t *testing.T, got incident.Transition, action incident.Action, id string, impact incident.Impact) {
	t.Helper()
	want := incident.Transition{Action: action, IncidentID: id, Impact: impact}
	if got != want {
		t.Fatalf("transition = %+v, want %+v", got, want)
	}
}

func expectTicks(t *testing.T, got []incident.Transition, want ...incident.Transition) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Tick = %+v, want %+v", got, want)
	}
}

func resolved(id string, impact incident.Impact) incident.Transition {
	return incident.Transition{Action: incident.ActionResolved, IncidentID: id, Impact: impact}
}

func lastUpdate(inc incident.Incident) incident.Update { return inc.Updates[len(inc.Updates)-1] }

// storeCase is one case of a store table.
type storeCase = struct {
	name string
	run  func(t *testing.T, e *env)
}

// runOnBackends runs every case on every backend (real Redis and miniredis),
// each on a fresh prefix.
func runOnBackends(t *testing.T, cases []storeCase) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, newEnv(t, b.client))
				})
			}
		})
	}
}
