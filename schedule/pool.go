package schedule

import (
	"context"
	"sync"
)

// pool runs the probes gocron dispatches on at most max goroutines, so
// that probes in flight (and with them sockets and file descriptors) are
// bounded whatever the number of checks. A run that finds every slot busy
// waits in a FIFO queue, a pointer per run, for the next free worker:
// delayed, never dropped (dropping it would push the check back a whole
// interval). Workers exist only while there is work; an idle pool holds no
// goroutine, so a check costs bytes, not a goroutine.
type pool struct {
	max int
	run func(*entry)

	mu      sync.Mutex
	workers int      // goroutines alive, at most max
	queue   []*entry // runs waiting for a worker, oldest at head
	head    int
	closed  bool
	drained chan struct{} // closed when workers reaches 0 after close
}

func newPool(maxWorkers int, run func(*entry)) *pool {
	return &pool{max: maxWorkers, run: run}
}

// submit runs e on a free worker, or queues it when max are busy; it
// reports whether e had to wait. After close it drops e (and reports no
// wait): the scheduler is shutting down and every probe is cancelled.
func (p *pool) submit(e *entry) (queued, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false, false
	}
	if p.workers < p.max {
		p.workers++
		go p.work(e)
		return false, true
	}
	p.push(e)
	return true, true
}

// push appends e, first compacting the queue's dead head when the backing
// array is full, so a queue that never empties does not grow with every
// run it ever held.
func (p *pool) push(e *entry) {
	if p.head > 0 && len(p.queue) == cap(p.queue) {
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue, p.head = p.queue[:n], 0
	}
	p.queue = append(p.queue, e)
}

// next takes the oldest waiting run, or retires the calling worker when
// there is none.
func (p *pool) next() (*entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.queue) {
		// A queue that once held a burst keeps no large array when idle.
		if cap(p.queue) > 1024 {
			p.queue = nil
		}
		p.queue, p.head = p.queue[:0], 0
		p.workers--
		if p.workers == 0 && p.closed && p.drained != nil {
			close(p.drained)
			p.drained = nil
		}
		return nil, false
	}
	e := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	return e, true
}

func (p *pool) work(e *entry) {
	for ok := true; ok; e, ok = p.next() {
		p.run(e)
	}
}

// size returns the workers alive and the runs waiting.
func (p *pool) size() (workers, waiting int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.workers, len(p.queue) - p.head
}

// close stops taking runs and waits until every worker has returned or
// ctx ends. The queued runs are still handed to workers, which drop them
// at once: their contexts are cancelled before close is called.
func (p *pool) close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	if p.workers == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.drained == nil {
		p.drained = make(chan struct{})
	}
	drained := p.drained
	p.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
