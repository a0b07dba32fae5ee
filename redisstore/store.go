// Package redisstore is tocsin's one Redis package. It owns every key, the
// hash tag that keeps them in one Redis Cluster slot, every Lua script and
// the prelude they share (lib.lua: the schema guard, the fence guard, Redis'
// clock), and implements the stores the rest of tocsin declares: incidents
// (incident.Store, incident.HumanStore), ownership leases, published check
// states, uptime buckets and heartbeat beats.
//
// Every write is one script: atomic, one round trip, its keys in KEYS[],
// its arguments one JSON object (named, not positional), its reply small.
// Writes made on behalf of a component carry the owner's fence and are
// rejected inside the script when it is stale. The same scripts run on
// Redis and on miniredis, which backs the embedded store.
//
// The key layout is documented in docs/architecture.md.
package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/ownership"
)

// SchemaVersion is the layout version the scripts write to <prefix>{st}:schema.
// They accept data of the versions in compatibleSchemas (and stamp it with
// SchemaVersion on their first write) and refuse any other.
const SchemaVersion = "2"

// compatibleSchemas are older layouts this one reads and writes as they are:
// schema 1 differs only in keys schema 2 adds and in the heartbeat hashes,
// which are read from both places (see heartbeat.go).
var compatibleSchemas = []string{"1"}

// HashTag is in every key tocsin writes, so all of them live in one Redis
// Cluster slot and any script may touch any of them.
const HashTag = "{st}"

// MaxUpdates is how many updates an incident keeps: the first and the latest
// MaxUpdates-1.
const MaxUpdates = 100

// fixedKeys are the keys every script receives, in this order, as KEYS[1..];
// lib.lua names them K.<name>. Keys per incident, check or month are built
// from them or passed after them.
var fixedKeys = []string{
	"schema", "version", "updated", "created",
	"components", "open", "incidents", "monitoring", "resolved",
	"members", "epoch", "owners", "fence",
	"checks", "checks:seq", "checks:changed", "checks:updated", "probestate",
	"outbox", "primary", "replicated", "verdicts",
}

// Store is every tocsin store on one Redis keyspace. It is safe for
// concurrent use; each replica has its own.
type Store struct {
	client redis.UniversalClient
	p      string   // <prefix>{st}:
	keys   []string // fixedKeys under p
	s      scripts
	m      *metrics // nil: not counted
	// receivers are the notification filters the scripts apply.
	receivers atomic.Pointer[[]filterArg]
	// primary is the primary the last lease round ran on (replication.go).
	primary primaryTracker
}

// New returns a Store keeping its keys under prefix (e.g. "tocsin:") in
// client's database. client should have dial, read and write timeouts and
// ContextTimeoutEnabled.
func New(client redis.UniversalClient, prefix string) *Store {
	p := prefix + HashTag + ":"
	keys := make([]string, len(fixedKeys))
	for i, k := range fixedKeys {
		keys[i] = p + k
	}
	return &Store{client: client, p: p, keys: keys, s: newScripts()}
}

// Client is the Redis client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Prefix is the prefix of every key: <prefix>{st}:.
func (s *Store) Prefix() string { return s.p }

// run runs a script with the fixed keys, then extra, and args encoded as
// its one JSON argument (ARGV[2]; ARGV[1] is the key prefix).
func (s *Store) run(ctx context.Context, sc *redis.Script, extra []string, args any) *redis.Cmd {
	return sc.Run(ctx, s.client, s.withKeys(extra), s.p, mustJSON(args))
}

// runRO is run for a read-only script (EVALSHA_RO: a replica may serve it).
func (s *Store) runRO(ctx context.Context, sc *redis.Script, extra []string, args any) *redis.Cmd {
	return sc.RunRO(ctx, s.client, s.withKeys(extra), s.p, mustJSON(args))
}

func (s *Store) withKeys(extra []string) []string {
	if len(extra) == 0 {
		return s.keys
	}
	return append(append(make([]string, 0, len(s.keys)+len(extra)), s.keys...), extra...)
}

// mustJSON encodes a script's arguments: plain structs of strings, numbers
// and slices, which always encode.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("redisstore: encode script arguments: %v", err))
	}
	return string(b)
}

// fenceArg is a fence as the scripts take it.
type fenceArg struct {
	Member string `json:"m"`
	Token  int64  `json:"k,string"`
}

func toFenceArg(f ownership.Fence) fenceArg { return fenceArg{f.Member, f.Token} }

// fencedReply is the reply of a script that rejected a stale fence.
const fencedReply = "fenced"

// luaHeader defines, for every script, the prefix P, the named arguments A,
// the fixed keys K and the tables generated from Go's definitions (one
// definition per fact).
func luaHeader() string {
	var b strings.Builder
	b.WriteString("local P, A = ARGV[1], cjson.decode(ARGV[2])\nlocal K = {")
	for i, k := range fixedKeys {
		fmt.Fprintf(&b, "[%q] = KEYS[%d], ", k, i+1)
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "local SCHEMA = %q\nlocal SCHEMA_COMPATIBLE = {[%q] = true", SchemaVersion, SchemaVersion)
	for _, v := range compatibleSchemas {
		fmt.Fprintf(&b, ", [%q] = true", v)
	}
	fmt.Fprintf(&b, "}\nlocal MAX_UPDATES = %d\nlocal FENCED = %q\nlocal IMPACT_OF, HEALTHY = {", MaxUpdates, fencedReply)
	var healthy []string
	for _, st := range detector.ComponentStatuses() {
		if imp := incident.ImpactOf(st); imp != incident.ImpactNone {
			fmt.Fprintf(&b, "%s = %q, ", st, imp)
		} else {
			healthy = append(healthy, string(st))
		}
	}
	b.WriteString("}, {")
	for _, st := range healthy {
		fmt.Fprintf(&b, "%s = true, ", st)
	}
	b.WriteString("}\nlocal IMPACT_RANK = {")
	for i, imp := range incident.Impacts() {
		fmt.Fprintf(&b, "%s = %d, ", imp, i)
	}
	b.WriteString("}\n")
	return b.String()
}
