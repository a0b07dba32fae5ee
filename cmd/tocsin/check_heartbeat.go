package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

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
func checkHeartbeat(ctx context.Context, cfg *config.Config, c config.Check, sc *scrubber, w io.Writer) error {
	if cfg.Redis.URL == "" {
		return printUnknown(w, c, "a pushed check cannot be judged offline: with the embedded store (redis.url is empty) "+
			"its heartbeats live only in the running daemon; ask it: GET /api/v1/checks/"+c.Name)
	}
	client, closeRedis, err := openRedis(ctx, cfg.Redis, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer closeRedis()
	store := redisstore.New(client, cfg.Redis.KeyPrefix)
	started := time.Now()
	rctx, cancel := context.WithTimeout(ctx, cfg.Redis.Timeout)
	defer cancel()
	b, err := store.Beats(rctx, c.Name)
	took := time.Since(started)
	if err != nil {
		return printUnknown(w, c, sc.scrub("a pushed check cannot be judged offline, and its heartbeats cannot be read from redis.url: "+err.Error()))
	}
	if b == (probe.Beats{}) {
		return printUnknown(w, c, fmt.Sprintf("redis.url holds no record of this check (key prefix %q): "+
			"no daemon has monitored it there, so there is nothing to judge", cfg.Redis.KeyPrefix))
	}
	now := time.Now()
	p, err := probe.NewHeartbeat(c.Name, *c.Heartbeat, probe.Options{Beats: storedBeats(b), Now: func() time.Time { return now }})
	if err != nil {
		return fmt.Errorf("check %s: %w", c.Name, err)
	}
	r := p.Probe(rctx)
	r.Duration = took
	r.Message = sc.scrub(r.Message)
	printResult(w, c, r)
	fmt.Fprintf(w, "source:   the beats in redis.url (key prefix %q), judged as the daemon's probe does\n", cfg.Redis.KeyPrefix)
	for _, t := range []struct {
		label string
		at    time.Time
	}{{"success:", b.LastSuccess}, {"fail:", b.LastFail}, {"start:", b.LastStart}, {"watched:", b.FirstSeen}} {
		fmt.Fprintf(w, "%-10s%s\n", t.label, ago(t.at, now))
	}
	if st, err := store.LoadChecks(rctx, []string{c.Name}); err == nil {
		if s, ok := st[c.Name]; ok && !s.State.Since.IsZero() {
			fmt.Fprintf(w, "daemon:   %s since %s (its confirmed state, thresholds applied)\n",
				s.State.Status, s.State.Since.UTC().Format(time.RFC3339))
		}
	}
	if r.Status == probe.StatusDown {
		return errFailed
	}
	return nil
}

// printUnknown prints a check that cannot be judged and returns errUnknown.
func printUnknown(w io.Writer, c config.Check, why string) error {
	fmt.Fprintf(w, "check:    %s (%s, component %s)\n", c.Name, c.Type, c.Component)
	fmt.Fprintln(w, "status:   unknown")
	fmt.Fprintf(w, "message:  %s\n", why)
	return errUnknown
}

// ago describes a stored time relative to now: "12s ago (2026-…Z)", or
// "never" for a zero time.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s ago (%s)", now.Sub(t).Round(time.Second), t.UTC().Format(time.RFC3339))
}

// storedBeats hands the beats already read to the heartbeat prober, so that
// it judges exactly the evidence checked above.
type storedBeats probe.Beats

func (b storedBeats) Beats(context.Context, string) (probe.Beats, error) { return probe.Beats(b), nil }
