// Package heartbeat takes the beats that jobs push for heartbeat checks
// (POST /api/v1/heartbeats/{check}, /fail, /start) and keeps them in Redis,
// so that any replica can take a beat and any can evaluate the check. The
// evaluation itself is probe.Heartbeat; Store implements its
// probe.BeatReader.
//
// The key layout is documented in docs/architecture.md ("Heartbeat keys").
package heartbeat

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/probe"
)

// Kind is the kind of a beat, as Healthchecks.io has them.
type Kind string

// The kinds of beat. Each is also the name of the hash field that holds the
// time of the latest beat of that kind.
const (
	// Success: a run finished well (POST /api/v1/heartbeats/{check}).
	Success Kind = "success"
	// Fail: a run reported failure (…/fail).
	Fail Kind = "fail"
	// Start: a run began (…/start); it must report back within the grace.
	Start Kind = "start"
)

// Hash fields besides the kinds.
const fieldFirstSeen = "first_seen"

//go:embed beat.lua
var beatLua string

var _ probe.BeatReader = (*Store)(nil)

// Store keeps heartbeat checks' beats in Redis. Each check is one hash,
// <prefix>{hb}:<check>, with the unix-millisecond times first_seen, success,
// fail and start. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string // <prefix>{hb}:
	beat   *redis.Script
}

// NewStore returns a Store keeping its keys under prefix (the incident
// store's, e.g. "tocsin:") in client's database. client should have dial,
// read and write timeouts.
func NewStore(client redis.UniversalClient, prefix string) *Store {
	return &Store{client: client, prefix: prefix + "{hb}:", beat: redis.NewScript(beatLua)}
}

// key is the hash of one check. All heartbeat keys share the {hb} hash tag:
// one Redis Cluster slot, like the incident keys' {st}.
func (s *Store) key(check string) string { return s.prefix + check }

// Beat records a beat of kind at time at, and first_seen if the check has
// none yet, in one atomic script. A time older than the stored one of the
// same kind is ignored: times only move forward.
func (s *Store) Beat(ctx context.Context, check string, kind Kind, at time.Time) error {
	switch kind {
	case Success, Fail, Start:
	default:
		return fmt.Errorf("heartbeat: beat %q: unknown kind %q", check, kind)
	}
	if err := s.beat.Run(ctx, s.client, []string{s.key(check)}, string(kind), at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("heartbeat: beat %q (%s): %w", check, kind, err)
	}
	return nil
}

// Touch sets the check's first_seen to at unless it has one. Call it when a
// heartbeat check is configured, so that a job that never beats is missed
// period + grace later rather than never.
func (s *Store) Touch(ctx context.Context, check string, at time.Time) error {
	if err := s.client.HSetNX(ctx, s.key(check), fieldFirstSeen, at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("heartbeat: touch %q: %w", check, err)
	}
	return nil
}

// Forget deletes a check's beats, for a check removed from the config (a
// check added again later under the same name then starts afresh).
func (s *Store) Forget(ctx context.Context, check string) error {
	if err := s.client.Del(ctx, s.key(check)).Err(); err != nil {
		return fmt.Errorf("heartbeat: forget %q: %w", check, err)
	}
	return nil
}

// Beats reads a check's stored times; a field that is absent is a zero time.
// It implements probe.BeatReader.
func (s *Store) Beats(ctx context.Context, check string) (probe.Beats, error) {
	m, err := s.client.HGetAll(ctx, s.key(check)).Result()
	if err != nil {
		return probe.Beats{}, fmt.Errorf("heartbeat: read beats of %q: %w", check, err)
	}
	var b probe.Beats
	for field, dst := range map[string]*time.Time{
		fieldFirstSeen:  &b.FirstSeen,
		string(Success): &b.LastSuccess,
		string(Fail):    &b.LastFail,
		string(Start):   &b.LastStart,
	} {
		v, ok := m[field]
		if !ok {
			continue
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return probe.Beats{}, fmt.Errorf("heartbeat: read beats of %q: field %s: not unix milliseconds", check, field)
		}
		*dst = time.UnixMilli(ms).UTC()
	}
	return b, nil
}
