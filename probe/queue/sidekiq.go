package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// maxSidekiqProcesses bounds the Sidekiq processes read to count consumers.
const maxSidekiqProcesses = 500

// sidekiqSource reads a Sidekiq queue the way Sidekiq's own API does
// (Sidekiq::Queue#size and #latency, Sidekiq::ProcessSet), straight from
// its Redis keys.
type sidekiqSource struct {
	*redisSource
	queue string // the queue name; its list is "queue:<name>"
}

func newSidekiqSource(c config.QueueCheck, o probe.Options) (QueueSource, error) {
	s, err := newRedisSource(c, o)
	if err != nil {
		return nil, err
	}
	return sidekiqSource{redisSource: s, queue: c.Key}, nil
}

// Read returns the queue's size (LLEN queue:<name>, 0 when the key is
// missing: an empty queue), the age of its oldest job, the number of live,
// not quiet Sidekiq processes that work the queue as Consumers, and the
// sizes of the retry and dead sets as Extra.
//
// Sidekiq LPUSHes jobs, so the oldest is the last element; its age is now
// minus its enqueued_at (or created_at), as Queue#latency computes it. An
// empty queue is 0 old; a job without either time leaves the age unknown.
func (s sidekiqSource) Read(ctx context.Context) (QueueSample, error) {
	now := s.now()
	key := "queue:" + s.queue
	var size, retry, dead *redis.IntCmd
	var tail, procs *redis.StringSliceCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		size = p.LLen(ctx, key)
		tail = p.LRange(ctx, key, -1, -1)
		retry = p.ZCard(ctx, "retry")
		dead = p.ZCard(ctx, "dead")
		procs = p.SMembers(ctx, "processes")
		return nil
	})
	if err != nil {
		return QueueSample{}, s.pipelineFailure(err, []keyedCmd{
			{size, key, "a list"}, {tail, key, "a list"},
			{retry, "retry", "a sorted set"}, {dead, "dead", "a sorted set"},
			{procs, "processes", "a set"},
		})
	}
	sample := QueueSample{
		Depth: float64(size.Val()),
		Extra: map[string]float64{"retry": float64(retry.Val()), "dead": float64(dead.Val())},
	}
	if jobs := tail.Val(); len(jobs) == 0 {
		sample.OldestAge = new(time.Duration)
	} else {
		at, ok, err := sidekiqEnqueuedAt([]byte(jobs[0]))
		if err != nil {
			return QueueSample{}, sourceErr(probe.ReasonProtocol, "oldest job in %q: %v", key, err)
		}
		if ok {
			age := max(0, now.Sub(at))
			sample.OldestAge = &age
		}
	}
	n, err := s.consumers(ctx, procs.Val())
	if err != nil {
		return QueueSample{}, err
	}
	sample.Consumers = &n
	return sample, nil
}

// keyedCmd is a pipelined command and the key it read, for its error.
type keyedCmd struct {
	cmd  redis.Cmder
	key  string
	what string // what the key should hold: "a list"
}

// pipelineFailure reports the first failed command of a pipeline.
func (s *redisSource) pipelineFailure(err error, cmds []keyedCmd) error {
	for _, c := range cmds {
		if cerr := c.cmd.Err(); cerr != nil {
			return s.failKey(cerr, c.key, c.what)
		}
	}
	return s.fail(err, "")
}

// consumers counts the Sidekiq processes that are alive (their hash, which
// expires a minute after the last heartbeat, still exists), not quiet
// (a quiet process fetches no more jobs) and work this queue. A process
// whose info cannot be read is not counted.
func (s sidekiqSource) consumers(ctx context.Context, identities []string) (int, error) {
	if len(identities) == 0 {
		return 0, nil
	}
	slices.Sort(identities)
	identities = identities[:min(len(identities), maxSidekiqProcesses)]
	cmds := make([]*redis.SliceCmd, len(identities))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range identities {
			cmds[i] = p.HMGet(ctx, id, "info", "quiet")
		}
		return nil
	})
	if err != nil {
		return 0, s.fail(err, "a hash")
	}
	n := 0
	for _, c := range cmds {
		v := c.Val()
		info, _ := v[0].(string)
		quiet, _ := v[1].(string)
		if info != "" && quiet != "true" && sidekiqWorks(info, s.queue) {
			n++
		}
	}
	return n, nil
}

// sidekiqWorks reports whether a process's info JSON lists queue.
func sidekiqWorks(info, queue string) bool {
	var p struct {
		Queues []string `json:"queues"`
	}
	return json.Unmarshal([]byte(info), &p) == nil && slices.Contains(p.Queues, queue)
}

// sidekiqEnqueuedAt reads when a job was enqueued from its JSON payload:
// enqueued_at, else created_at (as Sidekiq's latency does); false if it has
// neither. Sidekiq up to 7 writes float seconds since the epoch, Sidekiq 8
// integer milliseconds: a value above 1e12 is milliseconds (1e12 seconds is
// 33,000 years away). A number in a string, as some middleware writes, is
// accepted too.
func sidekiqEnqueuedAt(payload []byte) (time.Time, bool, error) {
	var job map[string]json.RawMessage
	if err := json.Unmarshal(payload, &job); err != nil || job == nil {
		return time.Time{}, false, errors.New("not a JSON object")
	}
	for _, field := range []string{"enqueued_at", "created_at"} {
		raw, ok := job[field]
		if !ok || string(raw) == "null" {
			continue
		}
		t, err := sidekiqTime(raw)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s: %w", field, err)
		}
		return t, true, nil
	}
	return time.Time{}, false, nil
}

// sidekiqTime reads a timestamp in seconds or milliseconds since the epoch.
func sidekiqTime(raw json.RawMessage) (time.Time, error) {
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return time.Time{}, errors.New("not a number")
		}
		if v, err = strconv.ParseFloat(s, 64); err != nil {
			return time.Time{}, errors.New("not a number")
		}
	}
	const maxMillis = 9e12 // the year 2255: later overflows time.Unix's nanoseconds
	if math.IsNaN(v) || v <= 0 || v > maxMillis {
		return time.Time{}, errors.New("out of range")
	}
	if v > 1e12 {
		return time.Unix(0, int64(v*float64(time.Millisecond))), nil
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}
