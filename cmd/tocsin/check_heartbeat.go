package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/redisstore"
)

// checkHeartbeat judges a heartbeat check from the beats the daemon stored.
// A pushed check has nothing to probe: its only evidence is what its jobs
// sent to the daemon, kept in the configured Redis. With the embedded store
// (redis.url empty) that lives inside the running daemon, out of reach; if
// Redis cannot be read, or holds no record of the check, there is no
// evidence either. Those cases print status unknown and return errUnknown
// (exit 3), never up: the prober would say "waiting for the first
// heartbeat" from an empty store whatever the daemon received.
func checkHeartbeat(ctx context.Context, cfg *config.Config, c config.Check, sc *scrubber) *checkReport {
	if e, err := cfg.Redis.Endpoint(); err == nil && e.Mode == config.RedisModeEmbedded {
		return unknownReport(c, "a pushed check cannot be judged offline: with the embedded store (redis.url is empty) "+
			"its heartbeats live only in the running daemon; ask it: GET /api/v1/checks/"+c.Name)
	}
	client, closeRedis, err := openRedis(ctx, cfg.Redis, slog.New(slog.DiscardHandler))
	if err != nil {
		return unknownReport(c, sc.scrub("a pushed check cannot be judged offline, and redis.url cannot be opened: "+err.Error()))
	}
	defer closeRedis()
	store := redisstore.New(client, cfg.Redis.KeyPrefix)
	started := time.Now()
	rctx, cancel := context.WithTimeout(ctx, cfg.Redis.Timeout)
	defer cancel()
	b, err := store.Beats(rctx, c.Name)
	took := time.Since(started)
	if err != nil {
		return unknownReport(c, sc.scrub("a pushed check cannot be judged offline, and its heartbeats cannot be read from redis.url: "+err.Error()))
	}
	if b == (probe.Beats{}) {
		return unknownReport(c, fmt.Sprintf("redis.url holds no record of this check (key prefix %q): "+
			"no daemon has monitored it there, so there is nothing to judge", cfg.Redis.KeyPrefix))
	}
	now := time.Now()
	p, err := probe.NewHeartbeat(c.Name, *c.Heartbeat, probe.Options{Beats: storedBeats(b), Now: func() time.Time { return now }})
	if err != nil {
		return unknownReport(c, sc.scrub(fmt.Sprintf("check %s: %v", c.Name, err)))
	}
	r := p.Probe(rctx)
	r.Duration = took
	rep := newReport(c, r, sc)
	rep.Heartbeat = &heartbeatReport{
		Source:      fmt.Sprintf("the beats in redis.url (key prefix %q), judged as the daemon's probe does", cfg.Redis.KeyPrefix),
		LastSuccess: utc(b.LastSuccess), LastFail: utc(b.LastFail), LastStart: utc(b.LastStart), FirstSeen: utc(b.FirstSeen),
		LastLog: utc(b.LastLog), LogMessage: sc.scrub(b.LogMessage),
		now: now,
	}
	// With vantages every vantage's owner judges the beats and publishes
	// its state (checkstate.Field): they agree, so the first found does.
	fields := []string{c.Name}
	for _, v := range cfg.Vantages {
		fields = append(fields, checkstate.Field(c.Name, v))
	}
	if st, err := store.LoadChecks(rctx, fields); err == nil {
		for _, f := range fields {
			if s, ok := st[f]; ok && !s.State.Since.IsZero() {
				rep.Heartbeat.DaemonStatus, rep.Heartbeat.DaemonSince = string(s.State.Status), utc(s.State.Since)
				break
			}
		}
	}
	return rep
}

// storedBeats hands the beats already read to the heartbeat prober, so that
// it judges exactly the evidence checked above.
type storedBeats probe.Beats

func (b storedBeats) Beats(context.Context, string) (probe.Beats, error) { return probe.Beats(b), nil }
