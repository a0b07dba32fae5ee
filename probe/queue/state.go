package queue

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// A queue's window of samples is its state: the trend, stall and drain
// rules read it. It travels to another replica when the check's component
// changes hands (probe.Result.State, RestoreState), so the new owner judges
// the same window instead of starting blind for a whole stall_after.

// storedSample is a queuePoint as it travels: times in unix nanoseconds.
type storedSample struct {
	At        int64              `json:"t"`
	Depth     float64            `json:"d"`
	OldestAge *time.Duration     `json:"a,omitempty"`
	Consumers *int               `json:"c,omitempty"`
	Extra     map[string]float64 `json:"x,omitempty"`
}

var _ probe.Restorer = (*Queue)(nil)

// encodeWindow encodes the window; the caller holds q.mu.
func encodeWindow(w []queuePoint) []byte {
	out := make([]storedSample, len(w))
	for i, p := range w {
		out[i] = storedSample{At: p.at.UnixNano(), Depth: p.Depth, OldestAge: p.OldestAge,
			Consumers: p.Consumers, Extra: p.Extra}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil // numbers and maps of numbers always encode
	}
	return b
}

// RestoreState replaces the window with one another replica's prober of
// this check handed on; nil empties it. Samples older than the window (the
// state waited in Redis while nobody probed) are pruned as usual at the
// next probe.
func (q *Queue) RestoreState(state []byte) error {
	var in []storedSample
	if state != nil {
		if err := json.Unmarshal(state, &in); err != nil {
			return fmt.Errorf("queue: restore window: %w", err)
		}
	}
	w := make([]queuePoint, 0, min(len(in), maxQueueSamples))
	for _, s := range in[max(0, len(in)-maxQueueSamples):] {
		at := time.Unix(0, s.At)
		if n := len(w); n > 0 && at.Before(w[n-1].at) {
			return fmt.Errorf("queue: restore window: samples out of order")
		}
		w = append(w, queuePoint{at: at, QueueSample: QueueSample{Depth: s.Depth, OldestAge: s.OldestAge,
			Consumers: s.Consumers, Extra: s.Extra}})
	}
	q.mu.Lock()
	q.samples = w
	q.mu.Unlock()
	return nil
}
