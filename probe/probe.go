// Package probe runs one check against its target and classifies the outcome.
// A failing target is data (a Result with a Reason); trouble in tocsin itself
// is an error returned at construction time.
//
// It holds the HTTP, TCP and heartbeat probers and what every prober
// shares: the dial, TLS and judging helpers (conn.go, tlsutil.go,
// classify.go, shared.go, tcpconn.go) and the json_path syntax
// (jsonpath.go). The queue and SMTP probers are rooms of their own,
// probe/queue and probe/smtp, which use those helpers; probe/probes builds
// the prober of any check.
package probe

import (
	"context"
	"time"
)

// Status is the verdict of one probe run.
type Status string

// Probe verdicts, from best to worst.
const (
	StatusUp       Status = "up"
	StatusDegraded Status = "degraded"
	StatusDown     Status = "down"
)

// Rank orders statuses so that a larger rank is worse.
func (s Status) Rank() int {
	switch s {
	case StatusUp:
		return 0
	case StatusDegraded:
		return 1
	case StatusDown:
		return 2
	}
	return -1
}

// Reason classifies why a probe was not up, or what a Warning is about. It
// is a closed set so it can be a metric label; free text goes in
// Result.Message.
type Reason string

// The closed set of reasons.
const (
	ReasonNone       Reason = ""
	ReasonTimeout    Reason = "timeout"
	ReasonDNS        Reason = "dns"
	ReasonConnect    Reason = "connect"
	ReasonTLS        Reason = "tls"
	ReasonStatus     Reason = "status"
	ReasonRedirect   Reason = "redirect"
	ReasonBody       Reason = "body"
	ReasonProtocol   Reason = "protocol"
	ReasonAuth       Reason = "auth"
	ReasonLatency    Reason = "latency"
	ReasonCertExpiry Reason = "cert_expiry"
	ReasonThreshold  Reason = "threshold"
	ReasonStalled    Reason = "stalled"
	ReasonMissed     Reason = "missed"
	ReasonFail       Reason = "fail" // a heartbeat reported failure
	ReasonError      Reason = "error"
)

// Reasons lists every Reason, for metric pre-registration and validation:
// a new slice each call, so no importer can change the set (as with the
// other enums' lists).
func Reasons() []Reason {
	return []Reason{ReasonNone, ReasonTimeout, ReasonDNS, ReasonConnect, ReasonTLS,
		ReasonStatus, ReasonRedirect, ReasonBody, ReasonProtocol, ReasonAuth, ReasonLatency,
		ReasonCertExpiry, ReasonThreshold, ReasonStalled, ReasonMissed, ReasonFail, ReasonError}
}

// Phase is one timed step of a probe (dns, connect, tls, first_byte, ...).
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Result is the outcome of one probe run.
type Result struct {
	Status   Status        `json:"status"`
	Reason   Reason        `json:"reason,omitempty"`
	Message  string        `json:"message,omitempty"` // human text; never a secret
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Phases   []Phase       `json:"phases,omitempty"`
	// StatusCode is the protocol reply code (HTTP status, SMTP reply), 0 if none.
	StatusCode int `json:"status_code,omitempty"`
	// CertNotAfter is the expiry of the leaf certificate the server
	// presented, also when verification rejected it; zero without TLS.
	CertNotAfter time.Time `json:"cert_not_after,omitzero"`
	// Warnings are what the probe noticed that does not make the target
	// less available (a certificate expiring within cert_expiry_warning):
	// they change no status and open no incident, and are shown to the
	// check's owners only (/api/v1/checks, metrics, notifications).
	Warnings []Warning `json:"warnings,omitempty"`
	// Queue holds the figures of a queue probe, nil for other probes.
	Queue *QueueStats `json:"queue,omitempty"`
	// State is the prober's own state after the run (a queue's window of
	// samples), opaque to all but the prober, nil for stateless probers:
	// the engine publishes it so that another replica's prober, given it
	// with RestoreState, continues where this one stopped.
	State []byte `json:"-"`
}

// Warning is a private note on a result. Reason is from the closed set
// (ReasonCertExpiry); Message is for people.
type Warning struct {
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

// QueueStats are the queue figures a Result carries (probe/queue).
type QueueStats struct {
	Depth     float64        `json:"depth"`
	OldestAge *time.Duration `json:"oldest_age,omitempty"`
	// RatePerSecond is the change of depth per second over the window:
	// positive while growing, negative while draining; nil until there
	// are two samples.
	RatePerSecond *float64 `json:"rate_per_second,omitempty"`
	Consumers     *int     `json:"consumers,omitempty"`
	// DrainETA is the estimated time to empty at the current rate; nil
	// unless the queue is draining.
	DrainETA *time.Duration     `json:"drain_eta,omitempty"`
	Extra    map[string]float64 `json:"extra,omitempty"`
}

// Prober runs one probe. Implementations honour ctx's deadline in every
// dial, read and write, and never block past it.
type Prober interface {
	Probe(ctx context.Context) Result
}

// Restorer is a stateful Prober that can continue from the State another
// replica's prober of the same check handed on.
type Restorer interface {
	RestoreState(state []byte) error
}

// ProberFunc adapts a function to a Prober.
type ProberFunc func(ctx context.Context) Result

// Probe calls f(ctx).
func (f ProberFunc) Probe(ctx context.Context) Result { return f(ctx) }
