package rabbittest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// DefaultVhost is RabbitMQ's default virtual host.
const DefaultVhost = "/"

// do sends one request to the management API as the test administrator.
func (b *Broker) do(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.MgmtURL()+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(Username, Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, err
}

// API sends a request to the management API as the test administrator and
// fails the test unless it answers with a 2xx status. path starts with
// /api/ and is already escaped; body, if not nil, is sent as JSON. It
// returns the response body.
func (b *Broker) API(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	status, data, err := b.do(method, path, body)
	if err != nil {
		t.Fatalf("rabbittest: %s %s: %v", method, path, err)
	}
	if status/100 != 2 {
		t.Fatalf("rabbittest: %s %s: HTTP %d: %s", method, path, status, data)
	}
	return data
}

// esc escapes one path segment of the management API: vhost "/" is "%2F".
func esc(s string) string { return url.PathEscape(s) }

// AddVhost creates a virtual host and gives the test administrator every
// permission on it.
func (b *Broker) AddVhost(t testing.TB, vhost string) {
	t.Helper()
	b.API(t, http.MethodPut, "/api/vhosts/"+esc(vhost), map[string]any{})
	b.API(t, http.MethodPut, "/api/permissions/"+esc(vhost)+"/"+esc(Username),
		map[string]string{"configure": ".*", "write": ".*", "read": ".*"})
}

// DeclareQueue declares a durable classic queue in the default vhost.
func (b *Broker) DeclareQueue(t testing.TB, name string) {
	t.Helper()
	b.DeclareQueueIn(t, DefaultVhost, name)
}

// DeclareQueueIn declares a durable classic queue in vhost.
func (b *Broker) DeclareQueueIn(t testing.TB, vhost, name string) {
	t.Helper()
	b.API(t, http.MethodPut, "/api/queues/"+esc(vhost)+"/"+esc(name),
		map[string]any{"durable": true, "auto_delete": false})
}

// Publish publishes n messages to queue in the default vhost through the
// default exchange.
func (b *Broker) Publish(t testing.TB, queue string, n int) {
	t.Helper()
	b.PublishIn(t, DefaultVhost, queue, n, time.Time{})
}

// PublishIn publishes n persistent messages to queue in vhost through the
// default exchange. A non-zero timestamp is set as each message's AMQP
// timestamp property (whole seconds), which RabbitMQ reports for the head
// of a classic queue as head_message_timestamp.
func (b *Broker) PublishIn(t testing.TB, vhost, queue string, n int, timestamp time.Time) {
	t.Helper()
	props := map[string]any{"delivery_mode": 2}
	if !timestamp.IsZero() {
		props["timestamp"] = timestamp.Unix()
	}
	path := "/api/exchanges/" + esc(vhost) + "/amq.default/publish"
	for i := range n {
		data := b.API(t, http.MethodPost, path, map[string]any{
			"properties":       props,
			"routing_key":      queue,
			"payload":          "message " + strconv.Itoa(i),
			"payload_encoding": "string",
		})
		var r struct {
			Routed bool `json:"routed"`
		}
		if err := json.Unmarshal(data, &r); err != nil || !r.Routed {
			t.Fatalf("rabbittest: publish to %q in vhost %q: not routed: %s", queue, vhost, data)
		}
	}
}

// Queue holds the figures the management API reports for a queue; a
// figure the API left out (it has not collected statistics yet) is -1.
type Queue struct {
	Messages  int `json:"messages"`
	Ready     int `json:"messages_ready"`
	Unacked   int `json:"messages_unacknowledged"`
	Consumers int `json:"consumers"`
}

// QueueInfo reads a queue's figures in vhost.
func (b *Broker) QueueInfo(t testing.TB, vhost, queue string) Queue {
	t.Helper()
	data := b.API(t, http.MethodGet, "/api/queues/"+esc(vhost)+"/"+esc(queue)+
		"?columns=name,messages,messages_ready,messages_unacknowledged,consumers", nil)
	q := Queue{Messages: -1, Ready: -1, Unacked: -1, Consumers: -1}
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatalf("rabbittest: queue %q: %v: %s", queue, err, data)
	}
	return q
}

// WaitQueue polls a queue's figures until ok accepts them and returns
// them; it fails the test after timeout. The management API refreshes
// queue figures every 500 ms here, so a change shows after up to a second.
func (b *Broker) WaitQueue(t testing.TB, vhost, queue string, timeout time.Duration, ok func(Queue) bool) Queue {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		q := b.QueueInfo(t, vhost, queue)
		if ok(q) {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbittest: queue %q in vhost %q: still %+v after %s", queue, vhost, q, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartConsumer starts a live consumer of queue in the default vhost that
// takes up to prefetch messages and never acknowledges them: amqp-consume
// (from amqp-tools) with --prefetch-count, running `sleep 3600` for the
// first message and acknowledging only when that returns. It waits until
// the broker counts the consumer. stop, also called when the test ends,
// kills the consumer; the broker then requeues its messages.
func (b *Broker) StartConsumer(t testing.TB, queue string, prefetch int) (stop func()) {
	t.Helper()
	bin, err := exec.LookPath("amqp-consume")
	if err != nil {
		t.Fatalf("rabbittest: amqp-consume is not installed; %s", installHint)
	}
	before := b.QueueInfo(t, DefaultVhost, queue).Consumers
	out := b.path(fmt.Sprintf("consumer-%d.out", time.Now().UnixNano()))
	p, err := run(out, b.env(), bin,
		"--server", "127.0.0.1", "--port", strconv.Itoa(b.amqpPort),
		"--vhost", DefaultVhost, "--username", Username, "--password", Password,
		"--queue", queue, "--prefetch-count", strconv.Itoa(prefetch),
		"sleep", "3600")
	if err != nil {
		t.Fatalf("rabbittest: start consumer: %v", err)
	}
	var once sync.Once
	stop = func() { once.Do(p.stop) }
	t.Cleanup(stop)

	deadline := time.Now().Add(20 * time.Second)
	for {
		if p.Exited() {
			t.Fatalf("rabbittest: consumer of %q exited: %v; output:\n%s", queue, p.Err(), p.output())
		}
		if q := b.QueueInfo(t, DefaultVhost, queue); q.Consumers > max(before, 0) {
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbittest: consumer of %q not registered after 20s; output:\n%s", queue, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
