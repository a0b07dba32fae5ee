package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/heartbeat"
	"github.com/tocsin/tocsin/probe"
)

// The beats of a heartbeat check are one hash, P hb:<check>, with the unix
// millisecond times first_seen, success, fail and start. Schema 1 kept them
// under a hash tag of their own, <prefix>{hb}:<check>: Beats reads both and
// takes the later of each time, so beats taken by a schema-1 replica during
// a rolling upgrade still count; Forget deletes both. Beats are taken by
// whichever replica a job reaches, not on behalf of an owner: they carry no
// fence, and a time only moves forward.

// fieldFirstSeen is the hash field besides the kinds' (heartbeat.Kind).
const fieldFirstSeen = "first_seen"

var (
	_ probe.BeatReader = (*Store)(nil)
	_ heartbeat.Beater = (*Store)(nil)
)

func (s *Store) beatKey(check string) string { return s.p + "hb:" + check }

// legacyBeatKey is schema 1's key of a check's beats.
func (s *Store) legacyBeatKey(check string) string {
	return s.p[:len(s.p)-len(HashTag)-1] + "{hb}:" + check
}

// Beat records a beat of kind at time at, and first_seen if the check has
// none yet, in one atomic script. A time older than the stored one of the
// same kind is ignored: times only move forward.
func (s *Store) Beat(ctx context.Context, check string, kind heartbeat.Kind, at time.Time) (err error) {
	defer func() { err = s.count("beat", err) }()
	switch kind {
	case heartbeat.Success, heartbeat.Fail, heartbeat.Start:
	default:
		return fmt.Errorf("redisstore: beat %q: unknown kind %q", check, kind)
	}
	args := struct {
		Field string `json:"field"`
		At    int64  `json:"at"`
	}{string(kind), at.UnixMilli()}
	if err := s.run(ctx, s.s.beat, []string{s.beatKey(check)}, args).Err(); err != nil {
		return fmt.Errorf("redisstore: beat %q (%s): %w", check, kind, err)
	}
	return nil
}

// Touch sets the check's first_seen to at unless it has one. Call it when a
// heartbeat check is configured, so that a job that never beats is missed
// period + grace later rather than never.
func (s *Store) Touch(ctx context.Context, check string, at time.Time) error {
	if err := s.client.HSetNX(ctx, s.beatKey(check), fieldFirstSeen, at.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("redisstore: touch %q: %w", check, err)
	}
	return nil
}

// Forget deletes a check's beats, for a check removed from the config (a
// check added again later under the same name then starts afresh).
func (s *Store) Forget(ctx context.Context, check string) error {
	if err := s.client.Del(ctx, s.beatKey(check)).Err(); err != nil {
		return fmt.Errorf("redisstore: forget %q: %w", check, err)
	}
	if err := s.client.Del(ctx, s.legacyBeatKey(check)).Err(); err != nil {
		return fmt.Errorf("redisstore: forget %q: %w", check, err)
	}
	return nil
}

// fieldLogMessage holds the message of the latest log (heartbeat.Log).
const fieldLogMessage = "log_message"

// Log records the message a job sent to /log at time at, with the beat
// script: only the latest log is kept, and an older one never replaces
// it. It changes no state: the check's owners see it (tocsin check).
func (s *Store) Log(ctx context.Context, check string, at time.Time, message string) (err error) {
	defer func() { err = s.count("beat", err) }()
	args := struct {
		Field   string `json:"field"`
		At      int64  `json:"at"`
		Message string `json:"message"`
	}{string(heartbeat.Log), at.UnixMilli(), message}
	if err := s.run(ctx, s.s.beat, []string{s.beatKey(check)}, args).Err(); err != nil {
		return fmt.Errorf("redisstore: log %q: %w", check, err)
	}
	return nil
}

// Beats reads a check's stored times, the later of schema 2's and schema
// 1's for each; a field that is absent is a zero time. It implements
// probe.BeatReader.
func (s *Store) Beats(ctx context.Context, check string) (_ probe.Beats, err error) {
	defer func() { err = s.count("beat", err) }()
	var cur, legacy *redis.MapStringStringCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		cur = p.HGetAll(ctx, s.beatKey(check))
		legacy = p.HGetAll(ctx, s.legacyBeatKey(check))
		return nil
	})
	if err != nil {
		return probe.Beats{}, fmt.Errorf("redisstore: read beats of %q: %w", check, err)
	}
	var b probe.Beats
	for _, m := range []map[string]string{legacy.Val(), cur.Val()} {
		for field, dst := range map[string]*time.Time{
			fieldFirstSeen:            &b.FirstSeen,
			string(heartbeat.Success): &b.LastSuccess,
			string(heartbeat.Fail):    &b.LastFail,
			string(heartbeat.Start):   &b.LastStart,
			string(heartbeat.Log):     &b.LastLog,
		} {
			v, ok := m[field]
			if !ok {
				continue
			}
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return probe.Beats{}, fmt.Errorf("redisstore: read beats of %q: field %s: not unix milliseconds", check, field)
			}
			t := time.UnixMilli(ms).UTC()
			// first_seen is the earliest; the beats the latest.
			if dst.IsZero() || (field == fieldFirstSeen && t.Before(*dst)) || (field != fieldFirstSeen && t.After(*dst)) {
				*dst = t
			}
		}
	}
	b.LogMessage = cur.Val()[fieldLogMessage]
	return b, nil
}
