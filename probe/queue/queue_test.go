package queue

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// scriptedSource returns the readings and errors a test gives it.
type scriptedSource struct {
	mu     sync.Mutex
	sample QueueSample
	err    error
	closed bool
}

func (s *scriptedSource) Read(context.Context) (QueueSample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sample, s.err
}

func (s *scriptedSource) set(sample QueueSample, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sample, s.err = sample, err
}

func (s *scriptedSource) Close() error {
	s.closed = true
	return nil
}

// scriptedQueue is a Queue over a scriptedSource with the given rules.
func scriptedQueue(r queueRules, now func() time.Time) (*Queue, *scriptedSource) {
	src := &scriptedSource{}
	return &Queue{name: "q", source: src, rules: r, now: now}, src
}

func TestQueueSourceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		reason probe.Reason
		msg    string
	}{
		{"classified", sourceErr(probe.ReasonAuth, "401 from the management API"), probe.ReasonAuth, "q: 401 from the management API"},
		{"wrapped", errors.Join(errors.New("x"), sourceErr(probe.ReasonProtocol, "no number at json_path")), probe.ReasonProtocol, "q: no number at json_path"},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, probe.ReasonConnect, "q: connection refused"},
		{"deadline", context.DeadlineExceeded, probe.ReasonTimeout, "q: timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: trendT0}
			q, src := scriptedQueue(queueRules{window: time.Minute}, clock.Now)
			src.set(QueueSample{Depth: 5}, nil)
			if res := q.Probe(t.Context()); res.Status != probe.StatusUp {
				t.Fatalf("first probe: %s %q", res.Status, res.Message)
			}
			src.set(QueueSample{}, tt.err)
			clock.Advance(time.Second)
			res := q.Probe(t.Context())
			if res.Status != probe.StatusDown || res.Reason != tt.reason || res.Message != tt.msg || res.Queue != nil {
				t.Errorf("got %s %s %q %+v, want down %s %q and no figures", res.Status, res.Reason, res.Message, res.Queue, tt.reason, tt.msg)
			}
			if len(q.samples) != 1 {
				t.Errorf("a failed read went into the window: %d samples", len(q.samples))
			}
		})
	}
}

func TestQueueWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		depth    func(i int) float64
		wantSpan time.Duration
	}{
		// A staircase: thinning spreads the samples over the whole hour.
		{"staircase", func(i int) float64 { return float64(i / 3) }, 59 * time.Minute},
		// A zigzag is all turning points: the oldest go, the bound holds.
		{"zigzag", func(i int) float64 { return float64(i/2 + (i%2)*3) }, maxQueueSamples * time.Second / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: trendT0}
			q, src := scriptedQueue(queueRules{window: time.Hour}, clock.Now)
			for i := range 4000 {
				src.set(QueueSample{Depth: tt.depth(i)}, nil)
				q.Probe(t.Context())
				clock.Advance(time.Second)
			}
			if n := len(q.samples); n > maxQueueSamples {
				t.Errorf("window holds %d samples, want at most %d", n, maxQueueSamples)
			}
			if span := q.samples[len(q.samples)-1].at.Sub(q.samples[0].at); span < tt.wantSpan {
				t.Errorf("window spans %s, want at least %s", span, tt.wantSpan)
			}
			// A clock that goes back starts afresh.
			clock.Advance(-2 * time.Hour)
			res := q.Probe(t.Context())
			if len(q.samples) != 1 || res.Queue.RatePerSecond != nil {
				t.Errorf("after the clock went back: %d samples, rate %v", len(q.samples), ptrVal(res.Queue.RatePerSecond))
			}
		})
	}
}

// TestQueueConcurrent runs probes from several goroutines (go test -race).
func TestQueueConcurrent(t *testing.T) {
	t.Parallel()
	q, src := scriptedQueue(queueRules{window: time.Minute, stallAfter: time.Second}, time.Now)
	src.set(QueueSample{Depth: 3}, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if res := q.Probe(t.Context()); res.Queue == nil {
					t.Errorf("no figures: %q", res.Message)
				}
			}
		})
	}
	wg.Wait()
}

func TestQueueClose(t *testing.T) {
	t.Parallel()
	q, src := scriptedQueue(queueRules{window: time.Minute}, time.Now)
	if err := q.Close(); err != nil || !src.closed {
		t.Errorf("Close = %v, source closed %v", err, src.closed)
	}
	q = &Queue{source: ProberSource{}}
	if err := q.Close(); err != nil {
		t.Errorf("Close of a source without Close = %v", err)
	}
}

// ProberSource is a QueueSource without a Close method.
type ProberSource struct{}

func (ProberSource) Read(context.Context) (QueueSample, error) { return QueueSample{}, nil }

func TestNewQueueErrors(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-in-url"
	redisURL := config.Secret("redis://127.0.0.1:6379/0")
	tests := []struct {
		name string
		c    config.QueueCheck
		want string
	}{
		{"no source", config.QueueCheck{}, "queue.source: required"},
		{"unknown source", config.QueueCheck{Source: "kafka"}, `queue.source: unknown source "kafka"`},
		{"bad redis url", config.QueueCheck{Source: "redis_list", RedisURL: "redis://u:" + secret + "@h:x/0", Key: "k"},
			"queue.redis_url: invalid URL (want redis://, rediss:// or unix://)"},
		{"no key", config.QueueCheck{Source: "sidekiq", RedisURL: redisURL}, "queue.key: required"},
		{"tls without rediss", config.QueueCheck{Source: "redis_list", RedisURL: redisURL, Key: "k", TLSConfig: config.TLS{ServerName: "x"}},
			"queue.tls_config: needs a rediss:// redis_url"},
		{"negative", config.QueueCheck{Source: "redis_list", RedisURL: redisURL, Key: "k", DownDepth: -1, MaxAge: -time.Second},
			"queue.down_depth: must not be negative\nqueue.max_age: must not be negative"},
		{"stall_after over window", config.QueueCheck{Source: "redis_list", RedisURL: redisURL, Key: "k", StallAfter: 2 * time.Minute, Window: time.Minute},
			"queue.stall_after: must not be more than window (1m0s)"},
	}
	for _, tt := range tests {
		q, err := New("", tt.c, probe.Options{})
		if err == nil {
			q.Close()
			t.Errorf("%s: New succeeded, want %q", tt.name, tt.want)
			continue
		}
		if err.Error() != tt.want || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q, want %q", tt.name, err, tt.want)
		}
	}
}

func TestNewQueueDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		stall, want time.Duration
	}{{0, DefaultWindow}, {time.Minute, DefaultWindow}, {4 * time.Minute, 8 * time.Minute}} {
		r, err := newQueueRules(config.QueueCheck{StallAfter: tt.stall})
		if err != nil || r.window != tt.want {
			t.Errorf("stall_after %s: window %s, %v; want %s", tt.stall, r.window, err, tt.want)
		}
	}
}

// TestNewQueueName: messages name the queue by its key; without a key
// (http_json, prometheus) by the check's name, else "queue".
func TestNewQueueName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		check string
		c     config.QueueCheck
		want  string
	}{
		{"mail-depth", config.QueueCheck{Source: "redis_list", RedisURL: "redis://127.0.0.1:1/0", Key: "mailers"}, "mailers"},
		{"mail-depth", config.QueueCheck{Source: "http_json", URL: "http://127.0.0.1:1/"}, "mail-depth"},
		{"", config.QueueCheck{Source: "http_json", URL: "http://127.0.0.1:1/"}, "queue"},
	} {
		q, err := New(tt.check, tt.c, probe.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if q.name != tt.want {
			t.Errorf("check %q, key %q: name = %q, want %q", tt.check, tt.c.Key, q.name, tt.want)
		}
		q.Close()
	}
}
