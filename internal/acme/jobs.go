package acme

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// jobsTick is how often the producer and the worker act; rates are spread
// over ticks so a rate of 25/s is 2 or 3 items every 100 ms.
const jobsTick = 100 * time.Millisecond

// Jobs is a background-job queue in a Redis list with a producer and a
// worker. The worker drains at a set rate and sends heartbeats to tocsin
// while it is healthy; a "bad deploy" stops both, as in the SupportBee
// postmortem, while the web app keeps answering 200.
type Jobs struct {
	client *redis.Client
	key    string
	cancel context.CancelFunc
	done   chan struct{}

	mu             sync.Mutex
	produce        float64 // items per second
	drain          float64 // items per second
	heartbeatURL   string
	heartbeatToken string
	beatEvery      time.Duration
	owedProduce    float64
	owedDrain      float64
	lastBeat       time.Time
}

// StartJobs runs a producer and a worker on the Redis list key.
func StartJobs(redisURL, key string) (*Jobs, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("acme: jobs redis url: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &Jobs{client: redis.NewClient(opts), key: key, cancel: cancel, done: make(chan struct{})}
	go j.loop(ctx)
	return j, nil
}

// SetRates sets the producer's and the worker's rates (items per second).
func (j *Jobs) SetRates(produce, drain float64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.produce, j.drain = produce, drain
}

// SetHeartbeat makes the worker POST to url every interval while it drains;
// an empty url stops the beats.
func (j *Jobs) SetHeartbeat(url, token string, every time.Duration) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.heartbeatURL, j.heartbeatToken, j.beatEvery = url, token, every
}

// Depth is the current queue length.
func (j *Jobs) Depth(ctx context.Context) (int64, error) { return j.client.LLen(ctx, j.key).Result() }

// Close stops the producer and the worker.
func (j *Jobs) Close() {
	j.cancel()
	<-j.done
	_ = j.client.Close()
}

func (j *Jobs) loop(ctx context.Context) {
	defer close(j.done)
	t := time.NewTicker(jobsTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			j.step(ctx, now)
		}
	}
}

// step produces and drains this tick's share and beats when due.
func (j *Jobs) step(ctx context.Context, now time.Time) {
	j.mu.Lock()
	j.owedProduce += j.produce * jobsTick.Seconds()
	j.owedDrain += j.drain * jobsTick.Seconds()
	push, pop := int(j.owedProduce), int(j.owedDrain)
	j.owedProduce -= float64(push)
	j.owedDrain -= float64(pop)
	beat := j.heartbeatURL != "" && j.drain > 0 && now.Sub(j.lastBeat) >= j.beatEvery
	url, token := j.heartbeatURL, j.heartbeatToken
	if beat {
		j.lastBeat = now
	}
	j.mu.Unlock()

	if push > 0 {
		items := make([]any, push)
		for i := range items {
			items[i] = fmt.Sprintf(`{"job":"deliver-email","at":%d}`, now.UnixMilli())
		}
		_ = j.client.RPush(ctx, j.key, items...).Err()
	}
	if pop > 0 {
		_ = j.client.LPopCount(ctx, j.key, pop).Err()
	}
	if beat {
		go postBeat(ctx, url, token)
	}
}

func postBeat(ctx context.Context, url, token string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}
