// Package queue is the room of the queue checks: a prober that reads a
// queue's depth from one of six sources (redis_list, redis_stream,
// sidekiq, rabbitmq, http_json, prometheus), keeps a window of its samples
// and judges it with thresholds and trend rules (stalled, growing), and
// the fixed format its figures are told in (Format). It dials, classifies
// failures and clips messages with the helpers of package probe; its
// figures travel in probe.Result.Queue (probe.QueueStats).
package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

const (
	// DefaultWindow is how far back the rate and trend rules look when
	// a check sets neither window nor a stall_after longer than half of it.
	DefaultWindow = 5 * time.Minute
	// maxQueueSamples bounds the window. Past it, samples are thinned out
	// (see thin), so the window keeps spanning its whole duration.
	maxQueueSamples = 512
)

// Queue probes a queue's depth through a QueueSource and judges it with
// thresholds and trend rules over a sliding window of its recent samples.
// It is built once per check by New and keeps state between runs;
// Probe is safe for concurrent use (runs are serialized). Close releases
// the source's connections.
type Queue struct {
	name   string // in messages: the queue key, else the check name
	source QueueSource
	rules  queueRules
	now    func() time.Time

	mu      sync.Mutex
	samples []queuePoint // oldest first
}

var (
	_ probe.Prober = (*Queue)(nil)
	_ io.Closer    = (*Queue)(nil)
)

// queuePoint is one sample and the time it was taken.
type queuePoint struct {
	at time.Time
	QueueSample
}

// New validates c, the queue block of check name, and builds its source
// and prober. Problems name their key ("queue.window: ..."). The window
// defaults to the larger of DefaultWindow and twice stall_after, as config
// does. Messages name the queue by its key, else (http_json and prometheus
// have no key to show) by name, else "queue".
func New(name string, c config.QueueCheck, o probe.Options) (*Queue, error) {
	rules, err := newQueueRules(c)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	src, err := newQueueSource(c, o)
	if err != nil {
		return nil, err
	}
	return &Queue{name: cmp.Or(c.Key, name, "queue"), source: src, rules: rules, now: o.Now}, nil
}

// newQueueSource builds the source named by c.Source.
func newQueueSource(c config.QueueCheck, o probe.Options) (QueueSource, error) {
	switch c.Source {
	case config.QueueRedisList:
		return newRedisListSource(c, o)
	case config.QueueRedisStream:
		return newRedisStreamSource(c, o)
	case config.QueueSidekiq:
		return newSidekiqSource(c, o)
	case config.QueueRabbitMQ:
		return newRabbitMQSource(c, o)
	case config.QueueHTTPJSON:
		return newHTTPJSONSource(c, o)
	case config.QueuePrometheus:
		return newPrometheusSource(c, o)
	case "":
		return nil, errors.New("queue.source: required")
	}
	return nil, fmt.Errorf("queue.source: unknown source %q", c.Source)
}

// newQueueRules checks and copies the verdict settings of c.
func newQueueRules(c config.QueueCheck) (queueRules, error) {
	r := queueRules{
		degradedDepth: c.DegradedDepth,
		downDepth:     c.DownDepth,
		maxAge:        c.MaxAge,
		stallAfter:    c.StallAfter,
		minConsumers:  c.MinConsumers,
		window:        c.Window,
	}
	if r.window == 0 {
		r.window = max(DefaultWindow, 2*r.stallAfter)
	}
	var errs []error
	negative := func(key string, bad bool) {
		if bad {
			errs = append(errs, errors.New("queue."+key+": must not be negative"))
		}
	}
	negative("degraded_depth", r.degradedDepth < 0)
	negative("down_depth", r.downDepth < 0)
	negative("max_age", r.maxAge < 0)
	negative("stall_after", r.stallAfter < 0)
	negative("min_consumers", r.minConsumers < 0)
	negative("window", r.window < 0)
	if r.stallAfter > r.window && r.window > 0 {
		errs = append(errs, fmt.Errorf("queue.stall_after: must not be more than window (%s)", r.window))
	}
	return r, errors.Join(errs...)
}

// Probe reads the source once, adds the reading to the window and judges
// the queue. A source that cannot be read is down with the source's reason
// and no figures: never a healthy zero. It never runs past ctx's deadline
// (probe.DefaultTimeout if none).
func (q *Queue) Probe(ctx context.Context) probe.Result {
	start := time.Now()
	ctx, _, cancel := probe.WithDeadline(ctx, start)
	defer cancel()
	// Held across the read, so samples go into the window in time order.
	q.mu.Lock()
	defer q.mu.Unlock()
	// The sample's time is read before the source, which reads the same
	// clock first thing: ages and sample times then agree to the
	// microsecond, which the stall rule's head tracking relies on.
	at := q.now()
	s, err := q.source.Read(ctx)
	res := probe.Result{Start: start, Duration: time.Since(start)}
	if err != nil {
		res.Status = probe.StatusDown
		res.Reason, res.Message = q.explain(ctx, err)
		return res
	}
	w := q.record(queuePoint{at: at, QueueSample: s})
	stats := queueStats(w)
	v := judgeQueue(w, stats, q.rules, at)
	res.Status, res.Reason = v.status, v.reason
	res.Message = probe.Clip(v.message(q.name, stats))
	res.Queue = &stats
	res.State = encodeWindow(w)
	return res
}

// explain turns a failed read into a reason and a message.
func (q *Queue) explain(ctx context.Context, err error) (probe.Reason, string) {
	var se *SourceError
	if errors.As(err, &se) {
		return se.Reason, probe.Clip(q.name + ": " + se.Message)
	}
	r, msg := probe.Classify(ctx, err)
	return r, probe.Clip(q.name + ": " + msg)
}

// Close releases the source (its connections) if it holds any. The
// scheduler calls it when the check is removed.
func (q *Queue) Close() error {
	if c, ok := q.source.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// record adds p to the window, drops what has left it and returns it. A
// clock that went backwards starts the window afresh: rates over it would
// be nonsense.
func (q *Queue) record(p queuePoint) []queuePoint {
	if n := len(q.samples); n > 0 && p.at.Before(q.samples[n-1].at) {
		q.samples = q.samples[:0]
	}
	q.samples = append(q.samples, p)
	q.samples = prune(q.samples, p.at, q.rules.window)
	if len(q.samples) > maxQueueSamples {
		q.samples = thin(q.samples)
	}
	return q.samples
}

// prune drops the samples older than window before now, except the newest
// of those (the anchor): with it the history spans at least the whole
// window, so a stall_after equal to the window can still be judged. An
// anchor older than two windows (sampling paused) is dropped too.
func prune(w []queuePoint, now time.Time, window time.Duration) []queuePoint {
	cutoff := now.Add(-window)
	first := 0
	for first < len(w) && w[first].at.Before(cutoff) {
		first++
	}
	if first > 0 && !w[first-1].at.Before(now.Add(-2*window)) {
		first--
	}
	if first == 0 {
		return w
	}
	return append(w[:0], w[first:]...)
}

// thin removes one sample from a full window without losing evidence the
// trend rules use: only a sample whose depth lies between its neighbours'
// may go (every fall stays visible), the one closest in time to its
// predecessor, so the rest stay evenly spread. If every sample is a turning
// point, the oldest goes.
func thin(w []queuePoint) []queuePoint {
	drop, gap := 0, time.Duration(-1)
	for i := 1; i < len(w)-1; i++ {
		a, b, c := w[i-1].Depth, w[i].Depth, w[i+1].Depth
		if !(a <= b && b <= c) && !(a >= b && b >= c) {
			continue
		}
		if g := w[i].at.Sub(w[i-1].at); gap < 0 || g < gap {
			drop, gap = i, g
		}
	}
	return append(w[:drop], w[drop+1:]...)
}

// queueStats computes the figures of a window: the latest sample's
// readings, the rate of change (least-squares slope of depth over time,
// over the trend's current run: see trendRun) and the time to drain at
// that rate.
func queueStats(w []queuePoint) probe.QueueStats {
	last := w[len(w)-1]
	st := probe.QueueStats{
		Depth:     last.Depth,
		OldestAge: last.OldestAge,
		Consumers: last.Consumers,
		Extra:     maps.Clone(last.Extra),
	}
	if rate, ok := slope(trendRun(w)); ok {
		st.RatePerSecond = &rate
		if rate < 0 && last.Depth > 0 {
			eta := time.Duration(last.Depth / -rate * float64(time.Second))
			st.DrainETA = &eta
		}
	}
	return st
}

// trendRun is the part of the window the rate is taken over: from the
// last turn of the depth (growing to falling or back) when the new
// direction has held for at least two steps, else the whole window. A slope
// over the whole window lags a turn by half of it: a queue that drains
// after a stall read "growing" for seconds while it emptied, and the
// figures in an update said so (issue 13). Two steps, not one, so that a
// noisy but steady queue keeps its whole-window slope.
func trendRun(w []queuePoint) []queuePoint {
	n := len(w)
	if n < 3 {
		return w
	}
	dir := func(i int) int { // the direction of the step into w[i]
		switch d := w[i].Depth - w[i-1].Depth; {
		case d > 0:
			return 1
		case d < 0:
			return -1
		}
		return 0
	}
	last := dir(n - 1)
	if last == 0 {
		return w
	}
	start := n - 1 // the run's first step goes into w[start]
	for start > 1 && dir(start-1) != -last {
		start--
	}
	if start == 1 && dir(1) != -last {
		return w // no turn: the whole window runs one way
	}
	for dir(start) == 0 {
		start++ // a flat stretch at the turn (a stall) is not the new run
	}
	if n-start < 2 {
		return w // the turn is one step old
	}
	return w[start-1:]
}

// slope is the least-squares slope of depth over time in items per second;
// false with fewer than two samples or no time between them.
func slope(w []queuePoint) (float64, bool) {
	if len(w) < 2 {
		return 0, false
	}
	t0 := w[0].at
	var sx, sy float64
	for _, p := range w {
		sx += p.at.Sub(t0).Seconds()
		sy += p.Depth
	}
	n := float64(len(w))
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for _, p := range w {
		dx := p.at.Sub(t0).Seconds() - mx
		sxy += dx * (p.Depth - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0, false
	}
	return sxy / sxx, true
}
