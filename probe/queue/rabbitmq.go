package queue

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// rabbitMaxBody bounds the management API's reply. The source asks only for
// the columns it reads, so a real reply is a few hundred bytes.
const rabbitMaxBody = 1 << 20

// rabbitColumns are the fields the source asks for. Without ?columns the
// reply lists every consumer and grows with them. "name" keeps the reply an
// object: with none of the columns present the API answers [].
const rabbitColumns = "name,state,messages,messages_ready,messages_unacknowledged," +
	"consumers,head_message_timestamp,message_stats.ack_details.rate"

// rabbitBrokenStates are queue states in which its figures are stale or
// missing and consumers can't consume: the queue's process is down or
// crashed, or a quorum queue has lost its majority.
var rabbitBrokenStates = map[string]bool{
	"down": true, "crashed": true, "stopped": true, "terminated": true, "minority": true,
}

// rabbitSource reads one queue through RabbitMQ's management HTTP API:
// GET /api/queues/{vhost}/{queue}. The sample's Depth is the queue's total,
// messages = ready + unacknowledged: a message a consumer holds and has not
// acknowledged is not done, and a stuck consumer holding its whole prefetch
// must not make the queue look empty. Extra carries "ready", "unacked" and,
// once a consumer has acknowledged anything, "ack_rate" (acks per second as
// the management API computes it). The oldest message's age is known only
// when the head message carries an AMQP timestamp (head_message_timestamp,
// classic queues), else nil. A queue the API has no counts for (declared
// within the last statistics interval, or metrics collection disabled) or
// in a broken state is a protocol error, never a zero. Every Read opens a
// fresh connection.
type rabbitSource struct {
	queue, vhost string
	target       string // the request URL, without credentials
	user, pass   string
	auth         bool
	userAgent    string
	client       *http.Client
	now          func() time.Time
}

var (
	_ QueueSource = (*rabbitSource)(nil)
	_ io.Closer   = (*rabbitSource)(nil)
)

// newRabbitMQSource builds the rabbitmq queue source. queue.url is the
// management API's base URL (http://host:15672, a trailing /api is
// accepted); credentials in its userinfo are used when queue.username is
// empty and never sent in the URL. Errors name the key and never hold the
// URL or a credential.
func newRabbitMQSource(q config.QueueCheck, o probe.Options) (QueueSource, error) {
	s := &rabbitSource{
		queue:     q.Key,
		vhost:     cmp.Or(q.Vhost, "/"),
		user:      q.Username,
		pass:      q.Password.Reveal(),
		userAgent: cmp.Or(o.UserAgent, probe.DefaultUserAgent),
		now:       o.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	var errs []error
	if s.queue == "" {
		errs = append(errs, errors.New("queue.key: is required (the RabbitMQ queue name)"))
	}
	base, err := rabbitBaseURL(q.URL.Reveal())
	if err != nil {
		errs = append(errs, err)
	}
	tlsConfig, err := probe.TLSConfigFor("queue.tls_config", q.TLSConfig, s.now, o.Shared)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if base.User != nil && s.user == "" {
		s.user = base.User.Username()
		if p, ok := base.User.Password(); ok && s.pass == "" {
			s.pass = p
		}
	}
	base.User = nil
	s.auth = s.user != "" || s.pass != ""
	s.target = rabbitQueueURL(base, s.vhost, s.queue)

	s.client = sourceClient(o, tlsConfig)
	// A redirect means a wrong url; following it could carry the
	// credentials elsewhere.
	s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return s, nil
}

// rabbitBaseURL parses and checks queue.url; errors never include it.
func rabbitBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("queue.url: is required (the management API, e.g. http://127.0.0.1:15672)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("queue.url: %w", probe.UnwrapURLError(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("queue.url: must be an absolute http:// or https:// URL of the management API")
	}
	return u, nil
}

// rabbitQueueURL is the API URL of queue in vhost below base. Both are one
// path segment each, escaped: the default vhost "/" is "%2F".
func rabbitQueueURL(base *url.URL, vhost, queue string) string {
	u := *base
	prefix := strings.TrimSuffix(strings.TrimRight(u.EscapedPath(), "/"), "/api")
	raw := prefix + "/api/queues/" + url.PathEscape(vhost) + "/" + url.PathEscape(queue)
	u.Path, _ = url.PathUnescape(raw) // raw is well-formed: built from escaped parts
	u.RawPath = raw
	u.RawQuery = url.Values{"columns": {rabbitColumns}}.Encode()
	u.Fragment = ""
	return u.String()
}

// Read fetches the queue once. Every failure is a *SourceError: connect,
// dns, tls or timeout when the API can't be reached, auth when it refuses
// the credentials, protocol for an unknown queue or vhost, an unexpected
// status or a reply that doesn't hold the figures.
func (s *rabbitSource) Read(ctx context.Context) (QueueSample, error) {
	now := s.now()
	start := time.Now()
	ctx, _, cancel := probe.WithDeadline(ctx, start)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.target, nil)
	if err != nil {
		return QueueSample{}, sourceErr(probe.ReasonError, "rabbitmq: build request: %s", s.scrub(probe.UnwrapURLError(err).Error()))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	if s.auth {
		req.SetBasicAuth(s.user, s.pass)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return QueueSample{}, s.netErr(ctx, err, start)
	}
	defer resp.Body.Close()
	// One byte past the cap tells a reply of exactly the limit from a
	// longer one.
	body, err := io.ReadAll(io.LimitReader(resp.Body, rabbitMaxBody+1))
	if err != nil {
		return QueueSample{}, s.netErr(ctx, err, start)
	}
	if resp.StatusCode != http.StatusOK {
		return QueueSample{}, s.statusErr(resp.StatusCode, body)
	}
	if len(body) > rabbitMaxBody {
		return QueueSample{}, sourceErr(probe.ReasonProtocol, "rabbitmq: reply larger than %d bytes", rabbitMaxBody)
	}
	sample, err := decodeRabbitQueue(body, now)
	if err != nil {
		return QueueSample{}, sourceErr(probe.ReasonProtocol, "rabbitmq: queue %q in vhost %q: %s", s.queue, s.vhost, s.scrub(err.Error()))
	}
	return sample, nil
}

// Close releases idle connections; there are none, as keep-alives are off.
func (s *rabbitSource) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// netErr classifies a failure to reach the API or read its reply.
func (s *rabbitSource) netErr(ctx context.Context, err error, start time.Time) error {
	reason, msg := probe.Classify(ctx, err)
	if reason == probe.ReasonTimeout {
		msg = probe.TimeoutMessage("waiting for the management API", time.Since(start))
	}
	return sourceErr(reason, "rabbitmq: %s", s.scrub(msg))
}

// statusErr is the error for a reply other than 200, with the API's own
// explanation ({"error": ..., "reason": ...}) when it gave one.
func (s *rabbitSource) statusErr(code int, body []byte) error {
	var e struct {
		Reason any `json:"reason"`
	}
	detail := ""
	if json.Unmarshal(body, &e) == nil {
		if r, ok := e.Reason.(string); ok && strings.TrimSpace(r) != "" {
			detail = ": " + probe.ClipTo(strings.Join(strings.Fields(r), " "), 120)
		}
	}
	detail = s.scrub(detail)
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return sourceErr(probe.ReasonAuth, "rabbitmq: HTTP %d %s%s", code, http.StatusText(code), detail)
	case http.StatusNotFound:
		return sourceErr(probe.ReasonProtocol, "rabbitmq: queue %q not found in vhost %q", s.queue, s.vhost)
	}
	return sourceErr(probe.ReasonProtocol, "rabbitmq: unexpected HTTP status %d %s%s", code, http.StatusText(code), detail)
}

// scrub removes the password from text the broker or the network stack
// produced, and clips it.
func (s *rabbitSource) scrub(msg string) string {
	if s.pass != "" {
		msg = strings.ReplaceAll(msg, s.pass, "<redacted>")
	}
	return probe.Clip(msg)
}

// decodeRabbitQueue turns the management API's queue object into a sample
// taken at now. Optional figures (consumers, ack rate, head timestamp) of
// an unexpected type are left out; the message counts are required.
func decodeRabbitQueue(body []byte, now time.Time) (QueueSample, error) {
	var q map[string]json.RawMessage
	if err := json.Unmarshal(body, &q); err != nil || q == nil {
		return QueueSample{}, errors.New("reply is not a JSON object")
	}
	if state := rabbitString(q["state"]); rabbitBrokenStates[state] {
		return QueueSample{}, fmt.Errorf("queue is %s", state)
	}
	total, hasTotal, err := rabbitCount(q, "messages")
	if err != nil {
		return QueueSample{}, err
	}
	ready, hasReady, err := rabbitCount(q, "messages_ready")
	if err != nil {
		return QueueSample{}, err
	}
	unacked, hasUnacked, err := rabbitCount(q, "messages_unacknowledged")
	if err != nil {
		return QueueSample{}, err
	}
	switch {
	case hasTotal:
	case hasReady && hasUnacked:
		total = ready + unacked
	default:
		// A queue declared a moment ago has no statistics yet; with
		// management_agent.disable_metrics_collector it never has.
		return QueueSample{}, errors.New("the management API reports no message counts (yet)")
	}
	s := QueueSample{Depth: total, Extra: map[string]float64{}}
	if hasReady {
		s.Extra["ready"] = ready
	}
	if hasUnacked {
		s.Extra["unacked"] = unacked
	}
	if c, ok, err := rabbitCount(q, "consumers"); err == nil && ok && c <= math.MaxInt32 {
		n := int(c)
		s.Consumers = &n
	}
	if rate, ok := rabbitAckRate(q["message_stats"]); ok {
		s.Extra["ack_rate"] = rate
	}
	if age, ok := rabbitHeadAge(q["head_message_timestamp"], now); ok {
		s.OldestAge = &age
	}
	return s, nil
}

// rabbitCount reads a count: absent or null is (0, false); anything but a
// whole number from 0 to 2^53 (exact in a float64, and two of them add up
// without overflow) is an error.
func rabbitCount(q map[string]json.RawMessage, key string) (float64, bool, error) {
	raw, ok := q[key]
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil || v < 0 || v > 1<<53 || v != math.Trunc(v) {
		return 0, false, fmt.Errorf("%s is not a count: %s", key, probe.ClipTo(string(raw), 40))
	}
	return v, true, nil
}

// rabbitAckRate reads message_stats.ack_details.rate. message_stats is
// absent, or [] (an empty Erlang list), before anything was acknowledged.
func rabbitAckRate(raw json.RawMessage) (float64, bool) {
	var ms struct {
		AckDetails struct {
			Rate *float64 `json:"rate"`
		} `json:"ack_details"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &ms) != nil || ms.AckDetails.Rate == nil {
		return 0, false
	}
	return *ms.AckDetails.Rate, true
}

// rabbitHeadAge is the age of the head message from its AMQP timestamp, in
// whole seconds since the epoch; false when there is none. A timestamp
// beyond 2^40 s is taken for milliseconds written by a publisher that got
// the unit wrong, and ignored; one in the future is an age of 0.
func rabbitHeadAge(raw json.RawMessage, now time.Time) (time.Duration, bool) {
	var ts *float64
	if len(raw) == 0 || json.Unmarshal(raw, &ts) != nil || ts == nil || *ts <= 0 || *ts >= 1<<40 {
		return 0, false
	}
	return max(now.Sub(time.Unix(int64(*ts), 0)), 0), true
}

// rabbitString reads a JSON string, "" if raw is anything else.
func rabbitString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
