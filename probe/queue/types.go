package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// QueueSample is one reading of a queue by a QueueSource.
type QueueSample struct {
	Depth float64
	// OldestAge is the age of the oldest item; nil when the source can't tell.
	OldestAge *time.Duration
	// Consumers is the number of consumers; nil when the source can't tell.
	Consumers *int
	// Extra holds further named figures from a closed set per source:
	// pending, lag, ready, unacked, ack_rate, retry, dead.
	Extra map[string]float64
}

// QueueSource reads a queue once. A source that cannot be read returns a
// *SourceError (or a network error, which the prober classifies) — never a
// zero depth.
type QueueSource interface {
	Read(ctx context.Context) (QueueSample, error)
}

// SourceError is a classified failure to read a queue source.
type SourceError struct {
	Reason  probe.Reason // connect, auth, protocol, timeout, dns, tls
	Message string       // never holds a credential
}

func (e *SourceError) Error() string { return string(e.Reason) + ": " + e.Message }

// sourceErr builds a *SourceError.
func sourceErr(r probe.Reason, format string, args ...any) error {
	return &SourceError{Reason: r, Message: fmt.Sprintf(format, args...)}
}
