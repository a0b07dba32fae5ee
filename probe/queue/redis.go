package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// Timeouts of a queue source's Redis client. They are backstops: every
// command runs under the probe's context, whose deadline (the check's
// timeout) go-redis applies to dials, reads and writes
// (ContextTimeoutEnabled).
const (
	redisDialTimeout = 5 * time.Second
	redisIOTimeout   = 5 * time.Second
	// maxLagCount bounds the entries read to count a stream group's lag
	// when Redis does not report it (before 7.0, or after deletions).
	maxLagCount = 1000
)

// redisSource is what the Redis-backed queue sources share: a client of
// their own (closed by Close), the key and the clock ages are measured by.
type redisSource struct {
	client   *redis.Client
	key      string
	now      func() time.Time
	password string // scrubbed from every message, just in case
}

// Close closes the client's connections.
func (s *redisSource) Close() error { return s.client.Close() }

// newRedisSource builds the client for c.RedisURL (redis://, rediss:// or
// unix://). tls_config applies to rediss:// only.
func newRedisSource(c config.QueueCheck, o probe.Options) (*redisSource, error) {
	opts, err := redis.ParseURL(c.RedisURL.Reveal())
	if err != nil {
		// Its text may quote the URL, password and all.
		return nil, errors.New("queue.redis_url: invalid URL (want redis://, rediss:// or unix://)")
	}
	if c.Key == "" {
		return nil, errors.New("queue.key: required")
	}
	opts.DialTimeout = redisDialTimeout
	opts.ReadTimeout = redisIOTimeout
	opts.WriteTimeout = redisIOTimeout
	opts.ContextTimeoutEnabled = true
	opts.PoolSize = 2
	opts.MaxRetries = 2 // a pooled connection may have died since the last run
	// One dial per attempt: the next run is the retry, and a refused
	// connection should say so rather than spend the budget on backoff.
	opts.DialerRetries = 1
	opts.DisableIdentity = true
	if c.TLSConfig != (config.TLS{}) {
		if opts.TLSConfig == nil {
			return nil, errors.New("queue.tls_config: needs a rediss:// redis_url")
		}
		tc, err := probe.TLSConfigFor("queue.tls_config", c.TLSConfig, o.Now, o.Shared)
		if err != nil {
			return nil, err
		}
		if tc.ServerName == "" {
			tc = tc.Clone() // shared (Shared.tlsConfig): never written
			tc.ServerName = opts.TLSConfig.ServerName
		}
		opts.TLSConfig = tc
	}
	if o.SourceAddr != nil && opts.Network == "tcp" {
		// go-redis' own dialer (its timeout and keepalive), but from the
		// source address.
		d := *probe.NewDialer(o) // a copy: the dialer is shared (probe/shared.go)
		d.Timeout = opts.DialTimeout
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}
		tlsConfig := opts.TLSConfig
		opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if tlsConfig == nil {
				return d.DialContext(ctx, network, addr)
			}
			return (&tls.Dialer{NetDialer: &d, Config: tlsConfig}).DialContext(ctx, network, addr)
		}
	}
	return &redisSource{client: redis.NewClient(opts), key: c.Key, now: o.Now, password: opts.Password}, nil
}

// fail is failKey for the source's own key.
func (s *redisSource) fail(err error, what string) error { return s.failKey(err, s.key, what) }

// failKey turns a Redis error into a *SourceError, or returns a network
// error as it is for the prober to classify. what names what key should
// hold, for WRONGTYPE ("a list"). Server messages about authentication are
// not echoed, and the password is scrubbed from anything that is.
func (s *redisSource) failKey(err error, key, what string) error {
	var rerr redis.Error
	if !errors.As(err, &rerr) || errors.Is(err, redis.Nil) {
		return err
	}
	msg := rerr.Error()
	code, _, _ := strings.Cut(msg, " ")
	switch {
	case code == "WRONGPASS":
		return sourceErr(probe.ReasonAuth, "authentication failed: wrong user name or password (WRONGPASS)")
	case code == "NOAUTH":
		return sourceErr(probe.ReasonAuth, "authentication required (NOAUTH)")
	case code == "NOPERM":
		return sourceErr(probe.ReasonAuth, "permission denied (NOPERM)")
	case code == "WRONGTYPE":
		return sourceErr(probe.ReasonProtocol, "key %q is not %s (WRONGTYPE)", key, what)
	case strings.Contains(strings.ToUpper(msg), "AUTH") || strings.Contains(msg, "password"):
		// e.g. "ERR AUTH <password> called without any password configured"
		return sourceErr(probe.ReasonAuth, "authentication failed")
	}
	if s.password != "" {
		msg = strings.ReplaceAll(msg, s.password, "<redacted>")
	}
	return sourceErr(probe.ReasonProtocol, "redis: %s", msg)
}

// redisListSource reads a list's length (Resque, Celery, plain lists).
type redisListSource struct{ *redisSource }

func newRedisListSource(c config.QueueCheck, o probe.Options) (QueueSource, error) {
	s, err := newRedisSource(c, o)
	if err != nil {
		return nil, err
	}
	return redisListSource{s}, nil
}

// Read returns LLEN key. A missing key is an empty list (Redis deletes a
// list when its last element goes), so it reads as depth 0. The age of the
// oldest item is unknown: list items carry no time.
func (s redisListSource) Read(ctx context.Context) (QueueSample, error) {
	n, err := s.client.LLen(ctx, s.key).Result()
	if err != nil {
		return QueueSample{}, s.fail(err, "a list")
	}
	return QueueSample{Depth: float64(n)}, nil
}

// redisStreamSource reads a stream, or one consumer group's backlog of it.
type redisStreamSource struct {
	*redisSource
	group string
}

func newRedisStreamSource(c config.QueueCheck, o probe.Options) (QueueSource, error) {
	s, err := newRedisSource(c, o)
	if err != nil {
		return nil, err
	}
	return redisStreamSource{redisSource: s, group: c.Group}, nil
}

// Read reads the stream. Without a group the depth is XLEN and the oldest
// item is the stream's first entry. With a group, the depth is the group's
// backlog: lag (entries not yet delivered to it) plus pending (delivered,
// not yet acknowledged); Extra has both, Consumers is the group's consumer
// count, and the oldest item is the oldest pending entry or, with none
// pending, the first undelivered one. Ages come from entry IDs, which start
// with the time in milliseconds they were added at; an empty backlog is
// 0 old. A missing stream is empty without a group, and an error (protocol)
// with one: the group cannot exist.
func (s redisStreamSource) Read(ctx context.Context) (QueueSample, error) {
	now := s.now()
	if s.group == "" {
		return s.readStream(ctx, now)
	}
	return s.readGroup(ctx, now)
}

func (s redisStreamSource) readStream(ctx context.Context, now time.Time) (QueueSample, error) {
	var xlen *redis.IntCmd
	var first *redis.XMessageSliceCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		xlen = p.XLen(ctx, s.key)
		first = p.XRangeN(ctx, s.key, "-", "+", 1)
		return nil
	})
	if err != nil {
		return QueueSample{}, s.fail(err, "a stream")
	}
	age, err := s.entryAge(first.Val(), now)
	if err != nil {
		return QueueSample{}, err
	}
	return QueueSample{Depth: float64(xlen.Val()), OldestAge: &age}, nil
}

func (s redisStreamSource) readGroup(ctx context.Context, now time.Time) (QueueSample, error) {
	groups, err := s.client.XInfoGroups(ctx, s.key).Result()
	if err != nil {
		if strings.HasPrefix(err.Error(), "ERR no such key") {
			return QueueSample{}, sourceErr(probe.ReasonProtocol, "stream %q does not exist, so neither does group %q", s.key, s.group)
		}
		return QueueSample{}, s.fail(err, "a stream")
	}
	var g *redis.XInfoGroup
	for i := range groups {
		if groups[i].Name == s.group {
			g = &groups[i]
		}
	}
	if g == nil {
		return QueueSample{}, sourceErr(probe.ReasonProtocol, "stream %q has no consumer group %q", s.key, s.group)
	}
	lag, lagKnown := groupLag(*g)
	var pending *redis.XPendingCmd
	var undelivered *redis.XMessageSliceCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if g.Pending > 0 {
			pending = p.XPending(ctx, s.key, s.group)
		}
		count := int64(1)
		if !lagKnown {
			count = maxLagCount
		}
		undelivered = p.XRangeN(ctx, s.key, "("+g.LastDeliveredID, "+", count)
		return nil
	})
	if err != nil {
		return QueueSample{}, s.fail(err, "a stream")
	}
	if !lagKnown {
		lag = int64(len(undelivered.Val()))
	}
	age, err := s.groupAge(pending, undelivered.Val(), now)
	if err != nil {
		return QueueSample{}, err
	}
	consumers := int(g.Consumers)
	return QueueSample{
		Depth:     float64(lag + g.Pending),
		OldestAge: &age,
		Consumers: &consumers,
		Extra:     map[string]float64{"lag": float64(lag), "pending": float64(g.Pending)},
	}, nil
}

// groupLag is the lag Redis (7.0 and later) reports for a group; false when
// it has none: go-redis reads a null lag (Redis cannot tell after entries
// were deleted) as -1, and an absent one (before 7.0) as 0 with entries-read
// 0 although something was delivered. Then the caller counts.
func groupLag(g redis.XInfoGroup) (int64, bool) {
	absent := g.Lag == 0 && g.EntriesRead == 0 && g.LastDeliveredID != "0-0"
	if g.Lag < 0 || absent {
		return 0, false
	}
	return g.Lag, true
}

// groupAge is the age of the oldest pending entry, else of the first
// undelivered one, else 0.
func (s redisStreamSource) groupAge(pending *redis.XPendingCmd, undelivered []redis.XMessage, now time.Time) (time.Duration, error) {
	if pending != nil && pending.Val() != nil && pending.Val().Count > 0 {
		return s.idAge(pending.Val().Lower, now)
	}
	return s.entryAge(undelivered, now)
}

// entryAge is the age of the first of msgs, 0 if there is none.
func (s redisStreamSource) entryAge(msgs []redis.XMessage, now time.Time) (time.Duration, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	return s.idAge(msgs[0].ID, now)
}

// idAge is the age of a stream entry from its ID ("<ms>-<seq>"), never
// negative (the producer's clock may be ahead of ours).
func (s redisStreamSource) idAge(id string, now time.Time) (time.Duration, error) {
	ms, err := streamIDTime(id)
	if err != nil {
		return 0, sourceErr(probe.ReasonProtocol, "stream %q: %v", s.key, err)
	}
	return max(0, now.Sub(ms)), nil
}

// streamIDTime reads the time in a stream entry ID.
func streamIDTime(id string) (time.Time, error) {
	msPart, _, _ := strings.Cut(id, "-")
	ms, err := strconv.ParseInt(msPart, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, fmt.Errorf("invalid entry ID %q", id)
	}
	return time.UnixMilli(ms), nil
}
