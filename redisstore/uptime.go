package uptime

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// Store keeps the buckets in Redis, one hash per component or check and
// month:
//
//	<prefix>{st}:uptime:c:<component>:<yyyy-mm>  <dd>:<status> -> milliseconds
//	<prefix>{st}:uptime:k:<check>:<yyyy-mm>      <dd>:<status> -> results
//
// Each hash expires Days+2 days after its month ends, so history is bounded
// without any sweeping, and a removed component's buckets go by themselves.
// The {st} hash tag keeps them in the incident store's cluster slot.
type Store struct {
	client redis.UniversalClient
	prefix string
	write  *redis.Script
}

//go:embed write.lua
var writeLua string

// writerKeyTTL is how long a writer's last sequence number is kept: a
// resend after longer (Redis away that long, right after a batch landed
// without its reply) could count that batch twice.
const writerKeyTTL = 24 * time.Hour

// NewStore returns a Store under prefix (e.g. "tocsin:").
func NewStore(client redis.UniversalClient, prefix string) *Store {
	return &Store{client: client, prefix: prefix + "{st}:uptime:", write: redis.NewScript(writeLua)}
}

func (s *Store) key(kind Kind, id, month string) string {
	return s.prefix + string(kind) + ":" + id + ":" + month
}

// Write adds a batch in one script run, at most once per (writer, seq): a
// batch resent after an error whose first attempt did land (a lost reply)
// is not counted again. seq must increase with every new batch of a
// writer; resend a failed batch with its own seq, not merged with newer
// counts. It returns how many hashes were skipped because they hold
// another type.
func (s *Store) Write(ctx context.Context, writer string, seq uint64, b Batch) (skipped int, err error) {
	if len(b) == 0 {
		return 0, nil
	}
	type hash struct {
		expireAt int64
		fields   []any
	}
	hashes := map[string]*hash{}
	var keys []string
	for k, v := range b {
		at, ok := monthExpiry(k.Date)
		if !ok {
			continue // never produced by a Recorder
		}
		key := s.key(k.Kind, k.ID, k.Date[:7])
		h := hashes[key]
		if h == nil {
			h = &hash{expireAt: at.Unix()}
			hashes[key] = h
			keys = append(keys, key)
		}
		h.fields = append(h.fields, k.Date[8:]+":"+k.Status, v)
	}
	args := []any{seq, int64(writerKeyTTL / time.Second)}
	for _, key := range keys {
		h := hashes[key]
		args = append(args, h.expireAt, len(h.fields)/2)
		args = append(args, h.fields...)
	}
	res, err := s.write.Run(ctx, s.client, append([]string{s.prefix + "writer:" + writer}, keys...), args...).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("uptime: write: %w", err)
	}
	if len(res) == 2 {
		skipped = int(res[1])
	}
	return skipped, nil
}

// monthExpiry is when the hash of date's month may go: Days+2 days after the
// month ends, in UTC (a day of slack for any time zone).
func monthExpiry(date string) (time.Time, bool) {
	t, err := time.Parse(dateLayout, date)
	if err != nil {
		return time.Time{}, false
	}
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return first.AddDate(0, 1, Days+2), true
}

// Components reads the last days days (ending today in loc) of every
// component in ids, oldest first; a day without data has an empty map.
func (s *Store) Components(ctx context.Context, ids []string, days int, now time.Time, loc *time.Location) (map[string][]ComponentDay, error) {
	raw, dates, err := s.read(ctx, KindComponent, ids, days, now, loc)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]ComponentDay, len(ids))
	for _, id := range ids {
		ds := make([]ComponentDay, len(dates))
		for i, d := range dates {
			ds[i] = ComponentDay{Date: d, Millis: map[detector.ComponentStatus]int64{}}
			for st, v := range raw[id][d.Format(dateLayout)] {
				if cs := detector.ComponentStatus(st); cs.Valid() && v > 0 {
					ds[i].Millis[cs] = v
				}
			}
		}
		out[id] = ds
	}
	return out, nil
}

// Checks is Components for checks: results per status per day.
func (s *Store) Checks(ctx context.Context, names []string, days int, now time.Time, loc *time.Location) (map[string][]CheckDay, error) {
	raw, dates, err := s.read(ctx, KindCheck, names, days, now, loc)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]CheckDay, len(names))
	for _, name := range names {
		ds := make([]CheckDay, len(dates))
		for i, d := range dates {
			ds[i] = CheckDay{Date: d, Counts: map[probe.Status]int64{}}
			for st, v := range raw[name][d.Format(dateLayout)] {
				if ps := probe.Status(st); (ps == probe.StatusUp || ps == probe.StatusDegraded || ps == probe.StatusDown) && v > 0 {
					ds[i].Counts[ps] = v
				}
			}
		}
		out[name] = ds
	}
	return out, nil
}

// read fetches every month hash the range touches, pipelined, and returns
// id -> date -> status -> value.
func (s *Store) read(ctx context.Context, kind Kind, ids []string, days int, now time.Time, loc *time.Location) (map[string]map[string]map[string]int64, []time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	dates := Range(now, days, loc)
	var months []string
	for _, d := range dates {
		if m := d.Format("2006-01"); len(months) == 0 || months[len(months)-1] != m {
			months = append(months, m)
		}
	}
	type req struct {
		id, month string
		cmd       *redis.MapStringStringCmd
	}
	reqs := make([]req, 0, len(ids)*len(months))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			for _, m := range months {
				reqs = append(reqs, req{id, m, p.HGetAll(ctx, s.key(kind, id, m))})
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("uptime: read: %w", err)
	}
	out := make(map[string]map[string]map[string]int64, len(ids))
	for _, r := range reqs {
		byDate := out[r.id]
		if byDate == nil {
			byDate = map[string]map[string]int64{}
			out[r.id] = byDate
		}
		for field, val := range r.cmd.Val() {
			day, st, ok := strings.Cut(field, ":")
			n, err := strconv.ParseInt(val, 10, 64)
			if !ok || err != nil || len(day) != 2 {
				continue // not ours: ignore rather than fail the page
			}
			date := r.month + "-" + day
			if byDate[date] == nil {
				byDate[date] = map[string]int64{}
			}
			byDate[date][st] = n
		}
	}
	return out, dates, nil
}

// Reader reads component histories; *Store is one.
type Reader interface {
	Components(ctx context.Context, ids []string, days int, now time.Time, loc *time.Location) (map[string][]ComponentDay, error)
}
