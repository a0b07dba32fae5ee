package notify

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/outbox"
	"github.com/tocsin/tocsin/ownership"
)

const (
	// pollEvery is how often a worker looks for events other replicas
	// queued (those of its own replica wake it at once).
	pollEvery = 500 * time.Millisecond
	// readBatch bounds one read of the outbox.
	readBatch = 100
	// alertmanagerResend is how often an open incident's alert is sent to
	// Alertmanager again: well within its default resolve_timeout (5m).
	alertmanagerResend = time.Minute
	// maxHeld bounds the events a worker holds in memory; past it, it
	// reads no more until some are delivered (the rest wait in Redis).
	maxHeld = 10000
)

// worker delivers one owned receiver's events, in order per incident: a
// later event of an incident waits while an earlier one is retried, while
// other incidents' events go on.
type worker struct {
	d      *Dispatcher
	r      config.Receiver
	sender Sender
	fence  ownership.Fence
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	// Worker-goroutine only.
	queues     map[string]*queue // by incident id (or entry id for others)
	order      []string          // queue keys, oldest first
	held       int
	lastRemind time.Time
}

// queue is one incident's events awaiting delivery.
type queue struct {
	entries  []outbox.Entry
	attempts int       // failed attempts of the head
	next     time.Time // when the head may be tried again
	acked    bool      // the head was delivered; only its acknowledgement failed
}

func newWorker(d *Dispatcher, r config.Receiver, s Sender, f ownership.Fence) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{d: d, r: r, sender: s, fence: f, log: d.o.Logger.With("receiver", r.Name),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1),
		queues: map[string]*queue{}}
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop ends the worker and waits for it: a delivery in flight is
// cancelled and stays pending in Redis.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) run() {
	defer close(w.done)
	claimed := false
	for w.ctx.Err() == nil {
		if !claimed {
			// What was pending for this receiver (its last owner's, or this
			// replica's before a restart) comes first, in order. The group
			// is made here too: Redis may have been away when the config
			// was applied, or come back empty.
			es, err := w.d.o.Outbox.ClaimOutbox(w.ctx, w.r.Name, w.d.o.Member)
			if err != nil && w.d.o.Outbox.EnsureGroups(w.ctx, []string{w.r.Name}) == nil {
				es, err = w.d.o.Outbox.ClaimOutbox(w.ctx, w.r.Name, w.d.o.Member)
			}
			if err == nil {
				w.add(es)
				claimed = true
			}
		}
		if claimed && w.held < maxHeld {
			es, err := w.d.o.Outbox.ReadOutbox(w.ctx, w.r.Name, w.d.o.Member, readBatch)
			if err == nil {
				w.add(es)
			} else if strings.Contains(err.Error(), "NOGROUP") {
				claimed = false // Redis lost the group (and its data): make it again
			}
		}
		w.remind()
		w.deliver()
		w.sleep()
	}
}

// add queues the entries for this receiver and acknowledges the others.
func (w *worker) add(es []outbox.Entry) {
	var skip []string
	for _, e := range es {
		if !forMe(e, w.r.Name) {
			skip = append(skip, e.ID)
			continue
		}
		key := e.ID
		if e.Event.Incident != nil {
			key = e.Event.Incident.ID
		}
		q := w.queues[key]
		if q == nil {
			q = &queue{}
			w.queues[key] = q
			w.order = append(w.order, key)
		}
		q.entries = append(q.entries, e)
		w.held++
	}
	if len(skip) > 0 {
		// Not for this receiver: acknowledged unread. A failure here only
		// means they are read again later.
		_ = w.d.o.Outbox.AckOutbox(w.ctx, w.r.Name, skip...)
	}
}

func forMe(e outbox.Entry, name string) bool {
	for _, t := range e.To {
		if t == name {
			return true
		}
	}
	return false
}

// remind asks for reminders of the open incidents this receiver was told
// nothing about for its repeat_every (for Alertmanager, at least every
// minute, so its alerts stay active).
func (w *worker) remind() {
	every := w.r.RepeatEvery
	if w.r.Type == config.ReceiverAlertmanager && (every == 0 || every > alertmanagerResend) {
		every = alertmanagerResend
	}
	if every == 0 || time.Since(w.lastRemind) < min(every, 10*time.Second) {
		return
	}
	w.lastRemind = time.Now()
	n, err := w.d.o.Outbox.Remind(w.ctx, w.r.Name, w.fence, every)
	switch {
	case errors.Is(err, ownership.ErrFenced):
		w.log.Warn("notify: reminders refused: this replica no longer owns the receiver")
	case err != nil && w.ctx.Err() == nil:
		w.log.Warn("notify: reminders failed; will retry", "error", err)
	case n > 0:
		w.poke()
	}
}

// deliver tries the head of every queue that is due, oldest incident
// first.
func (w *worker) deliver() {
	now := time.Now()
	keep := w.order[:0]
	for _, key := range w.order {
		q := w.queues[key]
		for len(q.entries) > 0 && w.ctx.Err() == nil && !q.next.After(now) {
			if !w.attempt(q) {
				break
			}
			now = time.Now()
		}
		if len(q.entries) == 0 {
			delete(w.queues, key)
			continue
		}
		keep = append(keep, key)
	}
	w.order = keep
}

// attempt delivers the head of q; it reports whether the head left the
// queue (delivered, or given up on).
func (w *worker) attempt(q *queue) bool {
	e := q.entries[0]
	if !q.acked {
		err := w.sender.Send(w.ctx, e)
		if w.ctx.Err() != nil {
			return false // stopping: it stays pending for the next owner
		}
		if err != nil {
			return w.failed(q, e, err)
		}
		w.d.m.total.WithLabelValues(w.r.Name, resultDelivered).Inc()
		if at := e.Event.At.Time(); !at.IsZero() {
			w.d.m.delivery.WithLabelValues(w.r.Name).Observe(time.Since(at).Seconds())
		}
		q.acked = true
	}
	if err := w.d.o.Outbox.AckOutbox(w.ctx, w.r.Name, e.ID); err != nil {
		// Delivered: only the acknowledgement waits; never sent twice by
		// this replica.
		q.next = time.Now().Add(w.r.RetryMin)
		return false
	}
	q.entries, q.attempts, q.acked, q.next = q.entries[1:], 0, false, time.Time{}
	w.held--
	return true
}

// failed handles a delivery the receiver did not take.
func (w *worker) failed(q *queue, e outbox.Entry, err error) bool {
	var f *Failure
	if !errors.As(err, &f) {
		f = &Failure{Outcome: Retry, Detail: err.Error()}
	}
	if f.Outcome == Permanent {
		w.d.m.total.WithLabelValues(w.r.Name, resultPermanent).Inc()
		w.log.Error("notify: the receiver refused an event for good; it is dropped", "event", e.Event.Kind,
			"delivery", e.Key(), "error", f.Error())
		q.attempts, q.acked = 0, true // acknowledge it, unsent
		return w.attempt(q)
	}
	result := resultFailed
	if f.Outcome == Misconfigured {
		result = resultMisconfigured
	}
	w.d.m.total.WithLabelValues(w.r.Name, result).Inc()
	q.attempts++
	wait := backoff(q.attempts, w.r.RetryMin, w.r.RetryMax)
	if f.After > wait {
		wait = min(f.After, time.Hour)
	}
	q.next = time.Now().Add(wait)
	if q.attempts == 1 || q.attempts%10 == 0 {
		w.log.Warn("notify: delivery failed; will retry", "event", e.Event.Kind, "delivery", e.Key(),
			"attempt", q.attempts, "retry_in", wait.Round(time.Millisecond), "error", f.Error())
	}
	return false
}

// backoff is the wait before the next attempt after n failed ones:
// doubling from lo up to hi, with ±20% jitter so that replicas and
// receivers do not retry in step.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits for the next due retry, a poll, or a wake-up.
func (w *worker) sleep() {
	wait := pollEvery
	now := time.Now()
	for _, q := range w.queues {
		if len(q.entries) > 0 {
			wait = min(wait, max(q.next.Sub(now), 0))
		}
	}
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.ctx.Done():
	case <-w.wake:
	case <-t.C:
	}
}
