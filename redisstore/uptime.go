package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/uptime"
)

// The uptime buckets are one hash per component or check and month:
//
//	P uptime:c:<component>:<yyyy-mm>  <dd>:<status> -> milliseconds
//	P uptime:k:<check>:<yyyy-mm>      <dd>:<status> -> results
//
// Each hash expires uptime.Days+2 days after its month ends, so history is
// bounded without any sweeping, and a removed component's buckets go by
// themselves.

// writerKeyTTL is how long a writer's last sequence number is kept: a
// resend after longer (Redis away that long, right after a batch landed
// without its reply) could count that batch twice.
const writerKeyTTL = 24 * time.Hour

func (s *Store) uptimeKey(kind uptime.Kind, id, month string) string {
	return s.p + "uptime:" + string(kind) + ":" + id + ":" + month
}

// uptimeHash is one hash of an uptime batch, as uptime.lua takes it.
type uptimeHash struct {
	Component string `json:"c"`
	ExpireAt  int64  `json:"x"`
	Fields    []any  `json:"f"`
	// Status is set on a component's hash: its fields are "DD:status".
	Status bool `json:"s,omitempty"`
}

// WriteUptime adds a batch in one script run, at most once per (writer,
// seq): a batch resent after an error whose first attempt did land (a lost
// reply) is not counted again. seq must increase with every new batch of a
// writer; resend a failed batch with its own seq, not merged with newer
// counts. Buckets of a component the writer's grant no longer covers are
// dropped and counted in Fenced; hashes holding another type are skipped.
func (s *Store) WriteUptime(ctx context.Context, w uptime.Write) (_ uptime.WriteResult, err error) {
	defer func() { err = s.count("uptime_write", err) }()
	if len(w.Batch) == 0 {
		return uptime.WriteResult{}, nil
	}
	hashes := map[string]*uptimeHash{}
	keys := []string{s.p + "uptime:writer:" + w.Writer}
	for k, v := range w.Batch {
		at, ok := monthExpiry(k.Date)
		if !ok {
			continue // never produced by a Recorder
		}
		comp := k.ID
		if k.Kind == uptime.KindCheck {
			comp = w.CheckComponent[k.ID]
		}
		key := s.uptimeKey(k.Kind, k.ID, k.Date[:7])
		h := hashes[key]
		if h == nil {
			h = &uptimeHash{Component: comp, ExpireAt: at.Unix(), Status: k.Kind == uptime.KindComponent}
			hashes[key] = h
			keys = append(keys, key)
		}
		h.Fields = append(h.Fields, k.Date[8:]+":"+k.Status, v)
	}
	args := struct {
		Seq    uint64            `json:"seq"`
		TTL    int64             `json:"ttl"`
		Member string            `json:"member"`
		Grants map[string]string `json:"grants"`
		Hashes []*uptimeHash     `json:"hashes"`
	}{Seq: w.Seq, TTL: int64(writerKeyTTL / time.Second), Member: w.Member, Grants: tokenStrings(w.Tokens)}
	for _, key := range keys[1:] {
		args.Hashes = append(args.Hashes, hashes[key])
	}
	res, err := s.run(ctx, s.s.uptime, keys, args).Int64Slice()
	if err != nil {
		return uptime.WriteResult{}, fmt.Errorf("redisstore: write uptime: %w", err)
	}
	if len(res) != 4 {
		return uptime.WriteResult{}, fmt.Errorf("redisstore: write uptime: unexpected reply %v", res)
	}
	s.countFenced("uptime_write", int(res[2]))
	return uptime.WriteResult{Skipped: int(res[1]), Fenced: int(res[2]), OtherVantage: int(res[3])}, nil
}

// tokenStrings encodes tokens as the scripts compare them: as strings.
func tokenStrings(tokens map[string]int64) map[string]string {
	out := make(map[string]string, len(tokens))
	for c, k := range tokens {
		out[c] = strconv.FormatInt(k, 10)
	}
	return out
}

// monthExpiry is when the hash of date's month may go: Days+2 days after the
// month ends, in UTC (a day of slack for any time zone).
func monthExpiry(date string) (time.Time, bool) {
	t, err := time.Parse(uptime.DateLayout, date)
	if err != nil {
		return time.Time{}, false
	}
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return first.AddDate(0, 1, uptime.Days+2), true
}

// ComponentUptime reads the last days days (ending today in loc) of every
// component in ids, oldest first; a day without data has an empty map.
func (s *Store) ComponentUptime(ctx context.Context, ids []string, days int, now time.Time, loc *time.Location) (map[string][]uptime.ComponentDay, error) {
	raw, dates, err := s.readUptime(ctx, uptime.KindComponent, ids, days, now, loc)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]uptime.ComponentDay, len(ids))
	for _, id := range ids {
		ds := make([]uptime.ComponentDay, len(dates))
		for i, d := range dates {
			ds[i] = uptime.ComponentDay{Date: d}
			for st, v := range raw[id][d.Format(uptime.DateLayout)] {
				if v > 0 {
					ds[i].Millis.Set(detector.ComponentStatus(st), v)
				}
			}
		}
		out[id] = ds
	}
	return out, nil
}

// CheckUptime is ComponentUptime for checks: results per status per day.
func (s *Store) CheckUptime(ctx context.Context, names []string, days int, now time.Time, loc *time.Location) (map[string][]uptime.CheckDay, error) {
	raw, dates, err := s.readUptime(ctx, uptime.KindCheck, names, days, now, loc)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]uptime.CheckDay, len(names))
	for _, name := range names {
		ds := make([]uptime.CheckDay, len(dates))
		for i, d := range dates {
			ds[i] = uptime.CheckDay{Date: d, Counts: map[probe.Status]int64{}}
			for st, v := range raw[name][d.Format(uptime.DateLayout)] {
				if ps := probe.Status(st); (ps == probe.StatusUp || ps == probe.StatusDegraded || ps == probe.StatusDown) && v > 0 {
					ds[i].Counts[ps] = v
				}
			}
		}
		out[name] = ds
	}
	return out, nil
}

// readUptime fetches every month hash the range touches, pipelined, and
// returns id -> date -> status -> value.
func (s *Store) readUptime(ctx context.Context, kind uptime.Kind, ids []string, days int, now time.Time, loc *time.Location) (_ map[string]map[string]map[string]int64, _ []time.Time, err error) {
	defer func() { err = s.count("uptime_read", err) }()
	if loc == nil {
		loc = time.UTC
	}
	dates := uptime.Range(now, days, loc)
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
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			for _, m := range months {
				reqs = append(reqs, req{id, m, p.HGetAll(ctx, s.uptimeKey(kind, id, m))})
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("redisstore: read uptime: %w", err)
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

// ImportUptime adds buckets as they are, outside any ownership: history
// brought from elsewhere (the demo's made-up days). A replica never writes
// its own measurements this way; they go through WriteUptime, fenced.
func (s *Store) ImportUptime(ctx context.Context, b uptime.Batch) error {
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, v := range b {
			at, ok := monthExpiry(k.Date)
			if !ok {
				continue
			}
			key := s.uptimeKey(k.Kind, k.ID, k.Date[:7])
			p.HIncrBy(ctx, key, k.Date[8:]+":"+k.Status, v)
			p.ExpireAt(ctx, key, at)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: import uptime: %w", err)
	}
	return nil
}

// uptimeViewTTL is how long a shared read of the histories is kept: a few
// slots, so that a replica whose clock or poll lags still finds it.
const uptimeViewTTL = 3 * time.Minute

// uptimeView is a shared read of component histories, compact: the dates
// read, and per component flat triplets (date index, status rank, ms).
type uptimeView struct {
	Dates []string           `json:"d"`
	Comps map[string][]int64 `json:"c"`
}

// ComponentUptimeAt is ComponentUptime as of slot (a time every replica
// computes alike from Redis' clock): the first replica to ask for a slot
// reads the buckets and stores what it read, and every other replica that
// asks for the same slot, ids, days and zone gets exactly that, so that all
// of them show the same bars, byte for byte, though writers keep adding
// to the buckets between their reads.
func (s *Store) ComponentUptimeAt(ctx context.Context, slot time.Time, ids []string, days int, loc *time.Location) (_ map[string][]uptime.ComponentDay, err error) {
	defer func() { err = s.count("uptime_read", err) }()
	if loc == nil {
		loc = time.UTC
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|", days, loc)
	for _, id := range ids {
		_, _ = h.Write([]byte(id))
		_, _ = h.Write([]byte{0})
	}
	key := s.p + "uptime:view:" + strconv.FormatInt(slot.UnixMilli(), 10) + ":" + strconv.FormatUint(h.Sum64(), 36)
	raw, err := s.client.Get(ctx, key).Bytes()
	if err == nil {
		return decodeUptimeView(raw, loc)
	}
	if !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: read shared uptime: %w", err)
	}
	read, err := s.ComponentUptime(ctx, ids, days, slot, loc)
	if err != nil {
		return nil, err
	}
	enc, err := encodeUptimeView(read)
	if err != nil {
		return nil, fmt.Errorf("redisstore: share uptime: %w", err)
	}
	first, err := s.client.SetNX(ctx, key, enc, uptimeViewTTL).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: share uptime: %w", err)
	}
	if !first {
		// Another replica read this slot meanwhile: show what it stored.
		if enc, err = s.client.Get(ctx, key).Bytes(); err != nil {
			return nil, fmt.Errorf("redisstore: read shared uptime: %w", err)
		}
	}
	// What was stored, decoded, not what was read: the same value in
	// every replica, down to the time zone of the dates.
	return decodeUptimeView(enc, loc)
}

func encodeUptimeView(read map[string][]uptime.ComponentDay) ([]byte, error) {
	v := uptimeView{Comps: make(map[string][]int64, len(read))}
	for id, days := range read {
		if v.Dates == nil {
			for _, d := range days {
				v.Dates = append(v.Dates, d.Date.Format(uptime.DateLayout))
			}
		}
		flat := []int64{}
		for i, d := range days {
			d.Millis.Each(func(st detector.ComponentStatus, ms int64) {
				flat = append(flat, int64(i), int64(st.Rank()), ms)
			})
		}
		v.Comps[id] = flat
	}
	return json.Marshal(v)
}

func decodeUptimeView(raw []byte, loc *time.Location) (map[string][]uptime.ComponentDay, error) {
	var v uptimeView
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("redisstore: decode shared uptime: %w", err)
	}
	dates := make([]time.Time, len(v.Dates))
	for i, d := range v.Dates {
		t, err := time.ParseInLocation(uptime.DateLayout, d, loc)
		if err != nil {
			return nil, fmt.Errorf("redisstore: decode shared uptime: %w", err)
		}
		dates[i] = t
	}
	byRank := map[int64]detector.ComponentStatus{}
	for _, st := range detector.ComponentStatuses() {
		byRank[int64(st.Rank())] = st
	}
	// Only the days with data: the read model picks days by date, and a
	// young history or a component added lately has few (90 days of 5,000
	// components are 29 MB, docs/benchmarks.md).
	out := make(map[string][]uptime.ComponentDay, len(v.Comps))
	at := make([]int, len(dates)) // day index -> 1 + its place in days, per component
	var seen []int64              // the day indexes set in at
	for id, flat := range v.Comps {
		var days []uptime.ComponentDay
		for j := 0; j+2 < len(flat); j += 3 {
			i, st := flat[j], byRank[flat[j+1]]
			if i < 0 || int(i) >= len(dates) || st == "" {
				continue
			}
			if at[i] == 0 {
				days = append(days, uptime.ComponentDay{Date: dates[i]})
				at[i], seen = len(days), append(seen, i)
			}
			days[at[i]-1].Millis.Set(st, flat[j+2])
		}
		for _, i := range seen {
			at[i] = 0
		}
		out[id], seen = slices.Clip(days), seen[:0]
	}
	return out, nil
}
