package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
)

// openRedis connects to the configured Redis — one endpoint, a primary
// found through Sentinel, or a Cluster (config/redis.go) — or starts the
// embedded in-process one (miniredis on loopback) when none is set, so all
// of them run the same Lua scripts through the same client code.
func openRedis(ctx context.Context, rc config.Redis, logger *slog.Logger) (redis.UniversalClient, func(), error) {
	e, err := rc.Endpoint()
	if err != nil {
		// Validate has reported it; the message never quotes the URL.
		return nil, nil, fmt.Errorf("redis: %w", err)
	}
	// go-redis logs through one logger for the whole process.
	redis.SetLogger(redisLogger{logger})
	closeEmbedded := func() {}
	var client redis.UniversalClient
	var where string
	switch e.Mode {
	case config.RedisModeEmbedded:
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("redis: start embedded store: %w", err)
		}
		closeEmbedded = mr.Close
		logger.Warn("redis.url is empty: using the embedded in-process store; state is NOT durable and is lost when tocsin stops")
		client, where = redis.NewClient(withTimeouts(&redis.Options{Addr: mr.Addr()}, rc)), mr.Addr()
	case config.RedisModeSingle:
		opts, err := redis.ParseURL(e.URL.Reveal())
		if err != nil {
			// the parse error may quote the URL, password and all
			return nil, nil, fmt.Errorf("redis.url: invalid Redis URL")
		}
		client, where = redis.NewClient(withTimeouts(opts, rc)), opts.Addr
	case config.RedisModeSentinel:
		// A FailoverClient asks the sentinels for the primary and follows
		// their +switch-master announcements, closing its connections to a
		// demoted primary.
		client = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: e.MasterName, SentinelAddrs: e.Addrs,
			SentinelUsername: e.SentinelUsername, SentinelPassword: e.SentinelPassword.Reveal(),
			Username: e.Username, Password: e.Password.Reveal(), DB: e.DB, TLSConfig: tlsConfig(e.TLS),
			DialTimeout: rc.DialTimeout, ReadTimeout: rc.Timeout, WriteTimeout: rc.Timeout,
			ContextTimeoutEnabled: true, MaxRetries: 1,
		})
		where = fmt.Sprintf("sentinel master %s", e.MasterName)
	case config.RedisModeCluster:
		client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: e.Addrs, Username: e.Username, Password: e.Password.Reveal(), TLSConfig: tlsConfig(e.TLS),
			DialTimeout: rc.DialTimeout, ReadTimeout: rc.Timeout, WriteTimeout: rc.Timeout,
			ContextTimeoutEnabled: true, MaxRetries: 1,
			// The lease round asks the slot map for the {st} primary
			// (redisstore/replication.go); after a failover it must not
			// keep asking a dead one for the default minute.
			ClusterStateReloadInterval: 5 * time.Second,
		})
		where = fmt.Sprintf("cluster %v", e.Addrs)
	default:
		return nil, nil, fmt.Errorf("redis: unknown mode %q", e.Mode)
	}
	cleanup := func() { _ = client.Close(); closeEmbedded() }
	if err := client.Ping(ctx).Err(); err != nil {
		// Not fatal: the daemon keeps probing and serving stale status
		// until Redis answers.
		logger.Error("redis is not reachable yet; will keep retrying", "addr", where, "error", err)
	}
	return client, cleanup, nil
}

// withTimeouts sets the timeouts of one endpoint's client.
func withTimeouts(opts *redis.Options, rc config.Redis) *redis.Options {
	opts.DialTimeout = rc.DialTimeout
	opts.ReadTimeout = rc.Timeout
	opts.WriteTimeout = rc.Timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 1
	return opts
}

// tlsConfig is TLS verified against the system's roots, or none. The
// server name comes from each address go-redis dials.
func tlsConfig(on bool) *tls.Config {
	if !on {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// redisLogger puts go-redis' own messages (a pool that cannot dial, a
// sentinel switching the primary) in the daemon's log, structured and
// scrubbed, instead of raw lines on stderr.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.InfoContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

// sourceAddress is scheduler.source_address, checked to be an address of
// this host: a probe from anywhere else would fail every time, each with
// "cannot assign requested address", which reads as the targets being
// down. "" is nil: the system chooses.
func sourceAddress(addr string) (net.IP, error) {
	if addr == "" {
		return nil, nil
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		return nil, fmt.Errorf("scheduler.source_address: %q is not an IP address", addr)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return nil, fmt.Errorf("scheduler.source_address: %s is not an address of this host: %w", addr, err)
	}
	_ = ln.Close()
	return ip, nil
}
