package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/outbox"
	"github.com/tocsin/tocsin/ownership"
)

// The outbox is one stream, P outbox: observe.lua, tick.lua and human.lua
// append an entry (field e: the event as JSON, field to: the receivers it
// is for, space-separated) in the same script as the change it reports
// (lib.lua, notify). Each receiver reads it through a consumer group of
// its own, outbox:<receiver>, created at the stream's start, so a group
// sees every entry still in the stream; entries not for it are
// acknowledged unread. The stream is trimmed below the oldest entry any
// group has not acknowledged.

// filterArg is an outbox.Filter as the scripts take it (A.receivers).
type filterArg struct {
	Name       string          `json:"n"`
	MinImpact  int             `json:"i"`
	Components []string        `json:"c,omitempty"`
	Kinds      map[string]bool `json:"k"`
	Impact     bool            `json:"ic,omitempty"`
}

// SetReceivers sets the receivers' filters every later script applies
// (the config in force). Until it is called, no event is queued.
func (s *Store) SetReceivers(fs []outbox.Filter) {
	args := make([]filterArg, 0, len(fs))
	for _, f := range fs {
		a := filterArg{Name: f.Receiver, Components: f.Components, Kinds: map[string]bool{}, Impact: f.ImpactChanges}
		for i, imp := range incident.Impacts() {
			if imp == f.MinImpact {
				a.MinImpact = i
			}
		}
		for _, k := range f.Kinds {
			a.Kinds[string(k)] = true
		}
		args = append(args, a)
	}
	s.receivers.Store(&args)
}

// receiverArgs returns the filters for a script's arguments.
func (s *Store) receiverArgs() []filterArg {
	if p := s.receivers.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Store) groupOf(receiver string) string { return "outbox:" + receiver }

// EnsureGroups creates the consumer group of each receiver that has none
// yet, at the stream's start. It is idempotent.
func (s *Store) EnsureGroups(ctx context.Context, receivers []string) (err error) {
	defer func() { err = s.count("outbox", err) }()
	for _, r := range receivers {
		err := s.client.XGroupCreateMkStream(ctx, s.p+"outbox", s.groupOf(r), "0").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("redisstore: create outbox group of %q: %w", r, err)
		}
	}
	return nil
}

// DropGroups destroys the consumer groups of receivers not in keep (they
// left the config), so that they no longer hold the stream's trimming back.
func (s *Store) DropGroups(ctx context.Context, keep []string) (err error) {
	defer func() { err = s.count("outbox", err) }()
	groups, err := s.client.XInfoGroups(ctx, s.p+"outbox").Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil
		}
		return fmt.Errorf("redisstore: outbox groups: %w", err)
	}
	kept := map[string]bool{}
	for _, r := range keep {
		kept[s.groupOf(r)] = true
	}
	for _, g := range groups {
		if strings.HasPrefix(g.Name, "outbox:") && !kept[g.Name] {
			if err := s.client.XGroupDestroy(ctx, s.p+"outbox", g.Name).Err(); err != nil {
				return fmt.Errorf("redisstore: drop outbox group %q: %w", g.Name, err)
			}
		}
	}
	return nil
}

// ReadOutbox returns up to count entries the receiver's group has not
// handed out yet, to consumer (a replica), oldest first; they stay pending
// for it until acknowledged.
func (s *Store) ReadOutbox(ctx context.Context, receiver, consumer string, count int) (_ []outbox.Entry, err error) {
	defer func() { err = s.count("outbox", err) }()
	res, err := s.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: s.groupOf(receiver), Consumer: consumer, Streams: []string{s.p + "outbox", ">"}, Count: int64(count), Block: -1,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: read outbox of %q: %w", receiver, err)
	}
	var out []outbox.Entry
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, decodeEntry(m))
		}
	}
	return out, nil
}

// ClaimOutbox takes over every entry pending in the receiver's group (handed
// to a replica that died, or to this one before a restart) for consumer,
// oldest first.
func (s *Store) ClaimOutbox(ctx context.Context, receiver, consumer string) (_ []outbox.Entry, err error) {
	defer func() { err = s.count("outbox", err) }()
	var out []outbox.Entry
	start := "0-0"
	for {
		msgs, next, err := s.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: s.p + "outbox", Group: s.groupOf(receiver), Consumer: consumer, MinIdle: 0, Start: start, Count: 100,
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("redisstore: claim outbox of %q: %w", receiver, err)
		}
		for _, m := range msgs {
			out = append(out, decodeEntry(m))
		}
		if next == "0-0" || next == "" || len(msgs) == 0 {
			return out, nil
		}
		start = next
	}
}

// AckOutbox acknowledges entries for the receiver: delivered, not for it,
// or given up on.
func (s *Store) AckOutbox(ctx context.Context, receiver string, ids ...string) (err error) {
	defer func() { err = s.count("outbox", err) }()
	if len(ids) == 0 {
		return nil
	}
	if err := s.client.XAck(ctx, s.p+"outbox", s.groupOf(receiver), ids...).Err(); err != nil {
		return fmt.Errorf("redisstore: acknowledge outbox of %q: %w", receiver, err)
	}
	return nil
}

// decodeEntry reads a stream entry; one that is not ours decodes to an
// entry for nobody, acknowledged unread.
func decodeEntry(m redis.XMessage) outbox.Entry {
	e := outbox.Entry{ID: m.ID}
	to, _ := m.Values["to"].(string)
	e.To = strings.Fields(to)
	raw, _ := m.Values["e"].(string)
	if err := json.Unmarshal([]byte(raw), &e.Event); err != nil {
		e.To = nil
	}
	return e
}

// outboxArgs are outbox.lua's arguments.
type outboxArgs struct {
	Op     string `json:"op"`
	Member string `json:"member,omitempty"`
	// remind
	Receiver string   `json:"receiver,omitempty"`
	Fence    fenceArg `json:"fence"`
	Every    int64    `json:"every,omitempty"`
	// event
	Marker string          `json:"marker,omitempty"`
	TTL    int64           `json:"ttl,omitempty"`
	Event  json.RawMessage `json:"event,omitempty"`
	To     []string        `json:"to,omitempty"`
	// backlog
	Cap       int         `json:"cap,omitempty"`
	Receivers []filterArg `json:"receivers,omitempty"`
}

// Remind queues a reminder for receiver of every open incident it takes
// that it was told nothing about for every, on behalf of the receiver's
// owner (fence: its grant of the pseudo-component notify:<receiver>). It
// returns how many it queued.
func (s *Store) Remind(ctx context.Context, receiver string, fence ownership.Fence, every time.Duration) (n int, err error) {
	defer func() { err = s.count("outbox", err) }()
	res, err := s.run(ctx, s.s.outbox, nil, outboxArgs{Op: "remind", Receiver: receiver,
		Fence: toFenceArg(fence), Every: every.Milliseconds(), Receivers: s.receiverArgs()}).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisstore: remind %q: %w", receiver, err)
	}
	if res < 0 {
		return 0, fmt.Errorf("redisstore: remind %q: %w", receiver, ownership.ErrFenced)
	}
	return int(res), nil
}

// QueueEvent queues a non-incident event (a maintenance window's phase, a
// check warning) for receivers once: only the first replica to queue an
// event of marker (within ttl) does. It reports whether it queued.
func (s *Store) QueueEvent(ctx context.Context, marker string, ttl time.Duration, ev outbox.Event, to []string) (queued bool, err error) {
	defer func() { err = s.count("outbox", err) }()
	if len(to) == 0 {
		return false, nil
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return false, fmt.Errorf("redisstore: queue event: %w", err)
	}
	res, err := s.run(ctx, s.s.outbox, nil, outboxArgs{Op: "event", Marker: marker, TTL: ttl.Milliseconds(),
		Event: raw, To: to}).Int64()
	if err != nil {
		return false, fmt.Errorf("redisstore: queue event: %w", err)
	}
	return res == 1, nil
}

// OutboxBacklog returns, for each receiver's group, how many entries it
// has not acknowledged (pending, and not yet read, counted up to a cap),
// and trims the stream below the oldest entry any group still needs. Every
// replica computes the same from Redis.
func (s *Store) OutboxBacklog(ctx context.Context) (_ map[string]int64, err error) {
	defer func() { err = s.count("outbox", err) }()
	res, err := s.run(ctx, s.s.outbox, nil, outboxArgs{Op: "backlog", Cap: 100000}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: outbox backlog: %w", err)
	}
	out := map[string]int64{}
	for i := 0; i+1 < len(res); i += 2 {
		var n int64
		if _, err := fmt.Sscan(res[i+1], &n); err != nil {
			return nil, fmt.Errorf("redisstore: outbox backlog: unexpected reply %q", res)
		}
		out[strings.TrimPrefix(res[i], "outbox:")] = n
	}
	return out, nil
}
