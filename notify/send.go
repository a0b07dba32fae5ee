// Package notify delivers the notification outbox (docs/notifications.md) to the
// receivers of the config: PagerDuty, Slack, Alertmanager and signed
// webhooks. Events are queued by the store's scripts in the same step as
// the changes they report (redisstore, lib.lua); here, the replica that
// owns a receiver reads its events in order, delivers each at least once
// with retries and backoff, and acknowledges it. It also sends reminders
// and pings the watchdog.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Outcome classifies a failed delivery.
type Outcome int

const (
	// Retry: the receiver is down or busy (network error, 5xx, 429); try
	// again with backoff, after Retry-After if it said.
	Retry Outcome = iota
	// Misconfigured: the receiver refuses us (401, 403, 404): the URL or
	// key is wrong. Retried with a capped backoff, so the backlog grows and
	// the backlog alert tells someone, and nothing is lost once fixed.
	Misconfigured
	// Permanent: the receiver refuses this event for good (another 4xx):
	// it is not retried.
	Permanent
)

// Failure is a delivery that did not succeed. Its text never holds a URL
// or a key.
type Failure struct {
	Outcome Outcome
	// Status is the HTTP status, 0 for a network error.
	Status int
	// After is the receiver's Retry-After, if it gave one.
	After time.Duration
	// Detail says what happened, safe to log.
	Detail string
}

func (f *Failure) Error() string {
	if f.Status != 0 {
		return fmt.Sprintf("HTTP %d: %s", f.Status, f.Detail)
	}
	return f.Detail
}

// maxAnswer bounds how much of a receiver's answer is read.
const maxAnswer = 64 << 10

// post sends body to url and classifies the answer; nil on 2xx. The
// answer's first line is kept for the log (receivers say why they refuse:
// PagerDuty's "Invalid routing key", Slack's "invalid_payload").
func post(ctx context.Context, client *http.Client, url string, body []byte, header http.Header) (answer []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &Failure{Outcome: Misconfigured, Detail: "invalid receiver URL"}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &Failure{Outcome: Retry, Detail: networkDetail(ctx, err)}
	}
	defer resp.Body.Close()
	answer, _ = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return answer, nil
	case code == http.StatusTooManyRequests || code >= 500 || code == http.StatusRequestTimeout:
		return answer, &Failure{Outcome: Retry, Status: code, After: retryAfter(resp.Header.Get("Retry-After")), Detail: firstLine(answer)}
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound:
		return answer, &Failure{Outcome: Misconfigured, Status: code, Detail: firstLine(answer)}
	}
	return answer, &Failure{Outcome: Permanent, Status: code, Detail: firstLine(answer)}
}

// networkDetail names a transport failure without the URL that
// net/http's errors quote.
func networkDetail(ctx context.Context, err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "connection failed: " + err.Error()
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// firstLine is the start of a receiver's answer, for the log.
func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 200 {
		b = b[:200]
	}
	if len(b) == 0 {
		return "no answer body"
	}
	return string(b)
}
