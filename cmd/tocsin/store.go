package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
)

// openRedis connects to the configured Redis, or starts the embedded
// in-process one (miniredis on loopback) when no URL is set, so both run the
// same Lua scripts through the same client code.
func openRedis(ctx context.Context, rc config.Redis, logger *slog.Logger) (*redis.Client, func(), error) {
	var opts *redis.Options
	closeEmbedded := func() {}
	if rc.URL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("redis: start embedded store: %w", err)
		}
		closeEmbedded = mr.Close
		logger.Warn("redis.url is empty: using the embedded in-process store; state is NOT durable and is lost when tocsin stops")
		opts = &redis.Options{Addr: mr.Addr()}
	} else {
		var err error
		opts, err = redis.ParseURL(rc.URL.Reveal())
		if err != nil {
			// the parse error may quote the URL, password and all
			return nil, nil, fmt.Errorf("redis.url: invalid Redis URL")
		}
	}
	opts.DialTimeout = rc.DialTimeout
	opts.ReadTimeout = rc.Timeout
	opts.WriteTimeout = rc.Timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 1
	client := redis.NewClient(opts)
	cleanup := func() { _ = client.Close(); closeEmbedded() }
	if err := client.Ping(ctx).Err(); err != nil {
		// Not fatal: the daemon keeps probing and serving stale status
		// until Redis answers.
		logger.Error("redis is not reachable yet; will keep retrying", "addr", opts.Addr, "error", err)
	}
	return client, cleanup, nil
}
