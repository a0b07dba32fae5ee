package queue

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/internal/redistest"
	"github.com/tocsin/tocsin/probe"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustQueue builds a queue prober, closed when the test ends.
func mustQueue(t *testing.T, c config.QueueCheck, now func() time.Time) *Queue {
	t.Helper()
	q, err := New("", c, probe.Options{Now: now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q
}

// step runs one step of the producer and the consumer, each in its own
// goroutine, concurrently, and waits for both: the producer adds produce
// items, the consumer takes exactly consume (waiting for the producer if
// it has to).
func step(produce, consume func(int), p, c int) {
	var wg sync.WaitGroup
	wg.Go(func() { produce(p) })
	wg.Go(func() { consume(c) })
	wg.Wait()
}

// within reports whether got is within frac of want.
func within(got, want, frac float64) bool {
	return math.Abs(got-want) <= math.Abs(want)*frac
}

// rateSchedule is the truth of the rate tests: 10 steps of 1 s with 200
// produced and 100 consumed (+100/s), then 10 with only 100 consumed
// (-100/s). The window is 5 s, so from 6 steps into the drain it holds
// only draining samples (and its anchor, 6 s back).
const (
	rateSteps     = 20
	growSteps     = 10
	rateWindow    = 5 * time.Second
	rateTolerance = 0.10
)

// checkRate asserts the rate and drain ETA of a result against the truth
// of rateSchedule at step k.
func checkRate(t *testing.T, k int, res probe.Result) {
	t.Helper()
	st := res.Queue
	var want float64
	switch {
	case k >= 3 && k <= growSteps:
		want = 100
	case k >= growSteps+6:
		want = -100
	default:
		return // the window straddles the turn
	}
	if st.RatePerSecond == nil || !within(*st.RatePerSecond, want, rateTolerance) {
		t.Errorf("step %d: rate = %v, want %v ± 10%%", k, ptrVal(st.RatePerSecond), want)
	}
	if want > 0 {
		if st.DrainETA != nil {
			t.Errorf("step %d: drain ETA %v while growing", k, *st.DrainETA)
		}
		return
	}
	wantETA := st.Depth / 100 * float64(time.Second)
	if st.Depth == 0 {
		if st.DrainETA != nil {
			t.Errorf("step %d: drain ETA %v of an empty queue", k, *st.DrainETA)
		}
		return
	}
	if st.DrainETA == nil || !within(float64(*st.DrainETA), wantETA, rateTolerance) {
		t.Errorf("step %d: drain ETA = %v, want %v ± 10%%", k, ptrVal(st.DrainETA), time.Duration(wantETA))
	}
}

func ptrVal[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// TestQueueRedisListRates drives a real list with a producer and a
// consumer at controlled rates and an injected clock.
func TestQueueRedisListRates(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	clock := &fakeClock{t: trendT0}
	q := mustQueue(t, config.QueueCheck{
		Source: "redis_list", RedisURL: config.Secret(srv.URL()), Key: "jobs", Window: rateWindow,
	}, clock.Now)

	produce := func(n int) {
		if n == 0 {
			return
		}
		items := make([]any, n)
		for i := range items {
			items[i] = "job"
		}
		if err := rdb.RPush(ctx, "jobs", items...).Err(); err != nil {
			t.Errorf("RPUSH: %v", err)
		}
	}
	consume := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for got := 0; got < n && time.Now().Before(deadline); {
			vals, err := rdb.LPopCount(ctx, "jobs", n-got).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Errorf("LPOP: %v", err)
				return
			}
			if len(vals) == 0 {
				time.Sleep(time.Millisecond) // the producer has not pushed yet
			}
			got += len(vals)
		}
	}

	depth := 0
	for k := 1; k <= rateSteps; k++ {
		p := 200
		if k > growSteps {
			p = 0
		}
		step(produce, consume, p, 100)
		depth += p - 100
		clock.Advance(time.Second)
		res := probetest.Within(t, q.Probe, 2*time.Second)
		if res.Queue == nil {
			t.Fatalf("step %d: %s %s: %s", k, res.Status, res.Reason, res.Message)
		}
		if res.Queue.Depth != float64(depth) {
			t.Errorf("step %d: depth = %v, want %d", k, res.Queue.Depth, depth)
		}
		if res.Queue.OldestAge != nil || res.Queue.Consumers != nil {
			t.Errorf("step %d: a list knows no age or consumers: %+v", k, res.Queue)
		}
		t.Logf("step %d: %s %s: %s", k, res.Status, res.Reason, res.Message)
		checkRate(t, k, res)
		if k == rateSteps-1 {
			want := "jobs: 100 items, draining at 100/s, about 1s to drain"
			if res.Status != probe.StatusUp || res.Message != want {
				t.Errorf("step %d: %s %q, want up %q", k, res.Status, res.Message, want)
			}
		}
	}
}

// streamConsumer reads a stream through a consumer group the way workers
// do: each step it reads n new entries and acknowledges the ones it read
// the step before, so n stay pending.
type streamConsumer struct {
	t        *testing.T
	rdb      *redis.Client
	previous []string // IDs read last step, acknowledged this step
}

func (c *streamConsumer) consume(n int) {
	ctx := c.t.Context()
	var read []string
	deadline := time.Now().Add(5 * time.Second)
	for len(read) < n && time.Now().Before(deadline) {
		res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: "workers", Consumer: "worker-1", Streams: []string{"events", ">"},
			Count: int64(n - len(read)), Block: 10 * time.Millisecond,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue // the producer has not added them yet
		}
		if err != nil {
			c.t.Errorf("XREADGROUP: %v", err)
			return
		}
		for _, m := range res[0].Messages {
			read = append(read, m.ID)
		}
	}
	if len(c.previous) > 0 {
		if err := c.rdb.XAck(ctx, "events", "workers", c.previous...).Err(); err != nil {
			c.t.Errorf("XACK: %v", err)
		}
	}
	c.previous = read
}

// TestQueueRedisStreamGroupRates drives a real stream and consumer group:
// lag, pending, consumers, the oldest pending entry's age, rate and drain
// ETA. Entry IDs carry the injected clock's milliseconds, so ages are exact.
func TestQueueRedisStreamGroupRates(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := t.Context()
	if err := rdb.XGroupCreateMkStream(ctx, "events", "workers", "$").Err(); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: trendT0}
	q := mustQueue(t, config.QueueCheck{
		Source: "redis_stream", RedisURL: config.Secret(srv.URL()), Key: "events", Group: "workers",
		Window: rateWindow, MinConsumers: 1,
	}, clock.Now)

	var produced []time.Time // when each entry was added, in order
	produce := func(n int) {
		now := clock.Now()
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range n {
				p.XAdd(ctx, &redis.XAddArgs{Stream: "events", ID: fmt.Sprintf("%d-%d", now.UnixMilli(), i), Values: []string{"n", "1"}})
			}
			return nil
		})
		if err != nil {
			t.Errorf("XADD: %v", err)
		}
		for range n {
			produced = append(produced, now)
		}
	}
	c := &streamConsumer{t: t, rdb: rdb}

	delivered := 0
	for k := 1; k <= rateSteps; k++ {
		p := 200
		if k > growSteps {
			p = 0
		}
		step(produce, c.consume, p, 100)
		delivered += 100
		clock.Advance(time.Second)
		res := probetest.Within(t, q.Probe, 2*time.Second)
		st := res.Queue
		if st == nil {
			t.Fatalf("step %d: %s %s: %s", k, res.Status, res.Reason, res.Message)
		}
		lag, pending := len(produced)-delivered, 100
		if st.Depth != float64(lag+pending) || st.Extra["lag"] != float64(lag) || st.Extra["pending"] != float64(pending) {
			t.Errorf("step %d: depth %v (lag %v, pending %v), want %d (lag %d, pending %d)",
				k, st.Depth, st.Extra["lag"], st.Extra["pending"], lag+pending, lag, pending)
		}
		wantAge := clock.Now().Sub(produced[delivered-pending])
		if st.OldestAge == nil || *st.OldestAge != wantAge {
			t.Errorf("step %d: oldest age = %v, want %v", k, ptrVal(st.OldestAge), wantAge)
		}
		if st.Consumers == nil || *st.Consumers != 1 {
			t.Errorf("step %d: consumers = %v, want 1", k, ptrVal(st.Consumers))
		}
		t.Logf("step %d: %s %s: %s", k, res.Status, res.Reason, res.Message)
		checkRate(t, k, res)
	}
}

// TestQueueRedisStreamNoGroup reads a whole stream: XLEN and the first
// entry's age.
func TestQueueRedisStreamNoGroup(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	clock := &fakeClock{t: trendT0}
	q := mustQueue(t, config.QueueCheck{Source: "redis_stream", RedisURL: config.Secret(srv.URL()), Key: "log"}, clock.Now)

	res := probetest.Within(t, q.Probe, 2*time.Second)
	if res.Status != probe.StatusUp || res.Queue == nil || res.Queue.Depth != 0 || *res.Queue.OldestAge != 0 {
		t.Fatalf("missing stream: %s %q %+v, want up, depth 0, age 0", res.Status, res.Message, res.Queue)
	}
	for i := range 3 {
		id := fmt.Sprintf("%d-0", trendT0.Add(time.Duration(i)*time.Second).UnixMilli())
		if err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: "log", ID: id, Values: []string{"k", "v"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(70 * time.Second)
	res = probetest.Within(t, q.Probe, 2*time.Second)
	if res.Queue == nil || res.Queue.Depth != 3 || *res.Queue.OldestAge != 70*time.Second || res.Queue.Consumers != nil {
		t.Fatalf("got %s %q %+v, want depth 3, oldest 70s, consumers unknown", res.Status, res.Message, res.Queue)
	}
	if want := "log: 3 items, oldest 1m10s, growing at 2.6/min"; res.Message != want {
		t.Errorf("message = %q, want %q", res.Message, want)
	}
}
