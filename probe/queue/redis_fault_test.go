package queue

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
)

// TestQueueRedisUnreadable checks that a source that cannot be read is down
// with the right reason and no figures, and never shows the password.
func TestQueueRedisUnreadable(t *testing.T) {
	t.Parallel()
	const password = "hunter2-queue-secret"
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	for k, v := range map[string]string{"str": "x", "queue:strq": "x"} {
		if err := rdb.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.RPush(ctx, "alist", "a").Err(); err != nil {
		t.Fatal(err)
	}
	locked := redistest.Start(t)
	if err := locked.Client(t).ConfigSet(ctx, "requirepass", "x").Err(); err != nil {
		t.Fatal(err)
	}
	silent := probetest.RawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }) // reads, never answers
	withPass := "redis://:" + password + "@" + locked.Addr() + "/0"

	tests := []struct {
		name   string
		c      config.QueueCheck
		reason probe.Reason
		msg    string
	}{
		{"connection refused", config.QueueCheck{Source: "redis_list", RedisURL: config.Secret("redis://" + probetest.DeadPort(t) + "/0"), Key: "jobs"},
			probe.ReasonConnect, "jobs: connection refused"},
		{"wrong password", config.QueueCheck{Source: "redis_list", RedisURL: config.Secret(withPass), Key: "jobs"},
			probe.ReasonAuth, "jobs: authentication failed: wrong user name or password (WRONGPASS)"},
		{"no password", config.QueueCheck{Source: "sidekiq", RedisURL: config.Secret(locked.URL()), Key: "mailers"},
			probe.ReasonAuth, "mailers: authentication required (NOAUTH)"},
		{"list WRONGTYPE", config.QueueCheck{Source: "redis_list", RedisURL: config.Secret(srv.URL()), Key: "str"},
			probe.ReasonProtocol, `str: key "str" is not a list (WRONGTYPE)`},
		{"stream WRONGTYPE", config.QueueCheck{Source: "redis_stream", RedisURL: config.Secret(srv.URL()), Key: "alist"},
			probe.ReasonProtocol, `alist: key "alist" is not a stream (WRONGTYPE)`},
		{"group WRONGTYPE", config.QueueCheck{Source: "redis_stream", RedisURL: config.Secret(srv.URL()), Key: "alist", Group: "g"},
			probe.ReasonProtocol, `alist: key "alist" is not a stream (WRONGTYPE)`},
		{"sidekiq WRONGTYPE", config.QueueCheck{Source: "sidekiq", RedisURL: config.Secret(srv.URL()), Key: "strq"},
			probe.ReasonProtocol, `strq: key "queue:strq" is not a list (WRONGTYPE)`},
		{"no stream for the group", config.QueueCheck{Source: "redis_stream", RedisURL: config.Secret(srv.URL()), Key: "nope", Group: "g"},
			probe.ReasonProtocol, `nope: stream "nope" does not exist, so neither does group "g"`},
		{"silent server", config.QueueCheck{Source: "redis_list", RedisURL: config.Secret("redis://" + silent + "/0"), Key: "jobs"},
			probe.ReasonTimeout, "jobs: timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := mustQueue(t, tt.c, nil)
			res := probetest.Within(t, q.Probe, 500*time.Millisecond)
			if res.Status != probe.StatusDown || res.Reason != tt.reason || res.Message != tt.msg {
				t.Errorf("got %s %s %q, want down %s %q", res.Status, res.Reason, res.Message, tt.reason, tt.msg)
			}
			if res.Queue != nil {
				t.Errorf("an unreadable queue has figures: %+v", res.Queue)
			}
			if out := fmt.Sprintf("%+v", res); strings.Contains(out, password) {
				t.Errorf("result shows the password: %s", out)
			}
		})
	}
}

// TestQueueRedisGoesDown checks a Redis that stops between two runs.
func TestQueueRedisGoesDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	if err := srv.Client(t).XGroupCreateMkStream(t.Context(), "events", "workers", "$").Err(); err != nil {
		t.Fatal(err)
	}
	q := mustQueue(t, config.QueueCheck{
		Source: "redis_stream", RedisURL: config.Secret(srv.URL()), Key: "events", Group: "workers",
	}, nil)
	if res := probetest.Within(t, q.Probe, 2*time.Second); res.Status != probe.StatusUp || res.Queue == nil || res.Queue.Depth != 0 {
		t.Fatalf("before: %s %s %q", res.Status, res.Reason, res.Message)
	}
	srv.Stop()
	res := probetest.Within(t, q.Probe, 2*time.Second)
	if res.Status != probe.StatusDown || res.Reason != probe.ReasonConnect || res.Queue != nil {
		t.Errorf("after stop: %s %s %q %+v, want down connect and no figures", res.Status, res.Reason, res.Message, res.Queue)
	}
}

func TestQueueRedisMissingListIsEmpty(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	q := mustQueue(t, config.QueueCheck{Source: "redis_list", RedisURL: config.Secret(srv.URL()), Key: "nothing", DownDepth: 1}, nil)
	res := probetest.Within(t, q.Probe, 2*time.Second)
	if res.Status != probe.StatusUp || res.Queue == nil || res.Queue.Depth != 0 || res.Message != "nothing: 0 items" {
		t.Errorf("got %s %q %+v, want up with depth 0", res.Status, res.Message, res.Queue)
	}
}

// TestQueueRedisGroupLagFallback checks the lag where Redis reports none
// (a group created at an ID, entries deleted): the entries after the
// group's last delivered ID are counted.
func TestQueueRedisGroupLagFallback(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	for i := 1; i <= 6; i++ {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "s", ID: fmt.Sprintf("%d-0", trendT0.UnixMilli()+int64(i)*1000), Values: []string{"k", "v"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	second := fmt.Sprintf("%d-0", trendT0.UnixMilli()+2000)
	if err := rdb.XGroupCreate(ctx, "s", "g", second).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XDel(ctx, "s", fmt.Sprintf("%d-0", trendT0.UnixMilli()+4000)).Err(); err != nil {
		t.Fatal(err)
	}
	groups, err := rdb.XInfoGroups(ctx, "s").Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, known := groupLag(groups[0]); known {
		t.Logf("Redis reports lag %d here; the fallback is not exercised", groups[0].Lag)
	}
	clock := &fakeClock{t: trendT0.Add(10 * time.Second)}
	q := mustQueue(t, config.QueueCheck{Source: "redis_stream", RedisURL: config.Secret(srv.URL()), Key: "s", Group: "g"}, clock.Now)
	res := probetest.Within(t, q.Probe, 2*time.Second)
	// Left after the group's ID: 3, 5 and 6 (4 was deleted); the oldest is 3.
	st := res.Queue
	if st == nil || st.Depth != 3 || st.Extra["lag"] != 3 || st.Extra["pending"] != 0 || *st.OldestAge != 7*time.Second {
		t.Errorf("got %s %q %+v, want depth 3 (lag 3), oldest 7s", res.Status, res.Message, st)
	}
}
