// Package redisstore implements incident.Store on Redis.
//
// Every transition is one Lua script (observe.lua, tick.lua), atomic and
// idempotent, so any number of replicas can share one Redis; Load is one
// read-only script that returns a consistent snapshot. All keys share the
// {st} hash tag and so one Redis Cluster slot. The key layout is documented
// in docs/architecture.md.
//
// The same scripts run on Redis and on miniredis, which backs the embedded
// store.
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/incident"
)

// SchemaVersion is the layout version the scripts write to <prefix>{st}:schema
// and refuse to work on any other.
const SchemaVersion = "1"

// MaxUpdates is how many updates an incident keeps: the first and the latest
// MaxUpdates-1.
const MaxUpdates = 100

// maxDeletePerTick bounds the retention work of one Tick.
const maxDeletePerTick = 100

var (
	//go:embed lib.lua
	libLua string
	//go:embed observe.lua
	observeLua string
	//go:embed tick.lua
	tickLua string
	//go:embed load.lua
	loadLua string
)

var _ incident.Store = (*Store)(nil)

// Store is an incident.Store on Redis. It is safe for concurrent use.
type Store struct {
	client         redis.UniversalClient
	keys           []string // KEYS[] of every script, see lib.lua
	incidentPrefix string
	observe        *redis.Script
	tick           *redis.Script
	load           *redis.Script
}

// New returns a Store keeping its keys under prefix (e.g. "tocsin:") in
// client's database. client should have dial, read and write timeouts.
func New(client redis.UniversalClient, prefix string) *Store {
	k := func(name string) string { return prefix + "{st}:" + name }
	return &Store{
		client: client,
		keys: []string{
			k("schema"), k("version"), k("components"), k("open"),
			k("incidents"), k("monitoring"), k("resolved"),
		},
		incidentPrefix: k("incident:"),
		observe:        redis.NewScript(libLua + observeLua),
		tick:           redis.NewScript(libLua + tickLua),
		load:           redis.NewScript(libLua + loadLua),
	}
}

// Observe records a component status and applies the incident lifecycle in
// one atomic script. Replaying an observation returns ActionNone.
func (s *Store) Observe(ctx context.Context, o incident.Observation) (incident.Transition, error) {
	if err := validate(o); err != nil {
		return incident.Transition{}, fmt.Errorf("redisstore: observe %s: %w", o.Component, err)
	}
	started := o.StartedAt
	if started.IsZero() || started.After(o.At) {
		started = o.At
	}
	name := o.ComponentName
	if name == "" {
		name = o.Component
	}
	newID := o.NewID
	if newID == "" {
		newID = incident.NewID()
	}
	res, err := s.observe.Run(ctx, s.client, s.keys,
		s.incidentPrefix, o.Component, name, string(o.Status),
		o.At.UnixMilli(), started.UnixMilli(), o.Body, newID,
		windowMS(o.Policy.GroupWindow), windowMS(o.Policy.ReopenWindow), o.Detail,
		strings.Join(o.Parents, ","),
	).StringSlice()
	if err != nil {
		return incident.Transition{}, fmt.Errorf("redisstore: observe %s: %w", o.Component, err)
	}
	trs, err := transitions(res)
	if err != nil || len(trs) != 1 {
		return incident.Transition{}, fmt.Errorf("redisstore: observe %s: unexpected reply %q", o.Component, res)
	}
	return trs[0], nil
}

// Tick resolves incidents that have been monitoring for p.ResolveAfter and
// deletes up to 100 incidents resolved more than p.Retention ago, in one
// atomic script. It is idempotent and safe to run from every replica.
func (s *Store) Tick(ctx context.Context, now time.Time, p incident.Policy, resolvedBody string) ([]incident.Transition, error) {
	res, err := s.tick.Run(ctx, s.client, s.keys,
		s.incidentPrefix, now.UnixMilli(), windowMS(p.ResolveAfter), windowMS(p.Retention),
		resolvedBody, maxDeletePerTick,
	).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: tick: %w", err)
	}
	trs, err := transitions(res)
	if err != nil {
		return nil, fmt.Errorf("redisstore: tick: %w", err)
	}
	return trs, nil
}

// Version returns the counter every transition increments; 0 before the
// first one.
func (s *Store) Version(ctx context.Context) (int64, error) {
	v, err := s.client.Get(ctx, s.keys[1]).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redisstore: version: %w", err)
	}
	return v, nil
}

// Load reads all component statuses, the open incidents and the limit most
// recent incidents in one read-only script, newest first.
func (s *Store) Load(ctx context.Context, limit int) (incident.State, error) {
	raw, err := s.load.RunRO(ctx, s.client, s.keys, s.incidentPrefix, max(limit, 0)).Text()
	if err != nil {
		return incident.State{}, fmt.Errorf("redisstore: load: %w", err)
	}
	st, err := decodeState([]byte(raw))
	if err != nil {
		return incident.State{}, fmt.Errorf("redisstore: load: %w", err)
	}
	return st, nil
}

func validate(o incident.Observation) error {
	switch {
	case o.Component == "":
		return errors.New("empty component id")
	case !o.Status.Valid():
		return fmt.Errorf("invalid status %q", o.Status)
	case o.At.IsZero():
		return errors.New("zero observation time")
	}
	for _, p := range o.Parents {
		// The script receives the parents comma-joined.
		if p == "" || strings.Contains(p, ",") {
			return fmt.Errorf("invalid parent id %q", p)
		}
	}
	return nil
}

// windowMS converts a policy duration to milliseconds; negative means 0.
func windowMS(d time.Duration) int64 { return max(d.Milliseconds(), 0) }

// transitions decodes a script's flat {action, id, impact, ...} reply.
func transitions(res []string) ([]incident.Transition, error) {
	if len(res)%3 != 0 {
		return nil, fmt.Errorf("unexpected reply %q", res)
	}
	trs := make([]incident.Transition, 0, len(res)/3)
	for i := 0; i < len(res); i += 3 {
		trs = append(trs, incident.Transition{
			Action:     incident.Action(res[i]),
			IncidentID: res[i+1],
			Impact:     incident.Impact(res[i+2]),
		})
	}
	return trs, nil
}
