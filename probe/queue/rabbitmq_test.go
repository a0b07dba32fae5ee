package queue

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/rabbittest"
	"github.com/tocsin/tocsin/probe"
)

// TestRabbitMQSource runs the source against a real RabbitMQ. The broker
// takes seconds to start, so the cases share it; the last one stops it.
func TestRabbitMQSource(t *testing.T) {
	b := rabbittest.Start(t)
	check := func(queue string) config.QueueCheck {
		return config.QueueCheck{
			Source: "rabbitmq", URL: config.Secret(b.MgmtURL()), Key: queue,
			Username: rabbittest.Username, Password: rabbittest.Password,
		}
	}

	t.Run("ready unacked consumers", func(t *testing.T) {
		b.DeclareQueue(t, "mailers")
		b.Publish(t, "mailers", 10)
		src := newRabbitForTest(t, check("mailers"))
		s := readRabbitUntil(t, src, func(s QueueSample) bool { return s.Depth == 10 })
		wantRabbit(t, s, 10, 10, 0, 0)
		if s.OldestAge != nil {
			t.Errorf("OldestAge = %s, want nil (messages carry no timestamp)", *s.OldestAge)
		}
		b.StartConsumer(t, "mailers", 3)
		s = readRabbitUntil(t, src, func(s QueueSample) bool { return s.Extra["unacked"] == 3 })
		wantRabbit(t, s, 10, 7, 3, 1)
	})

	t.Run("no consumers trips min_consumers", func(t *testing.T) {
		b.DeclareQueue(t, "imports")
		b.Publish(t, "imports", 2)
		c := check("imports")
		s := readRabbitUntil(t, newRabbitForTest(t, c), func(s QueueSample) bool { return s.Depth == 2 })
		wantRabbit(t, s, 2, 2, 0, 0)
		c.MinConsumers = 1
		q, err := New("", c, probe.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		r := q.Probe(rabbitCtx(t))
		if r.Status != probe.StatusDown || r.Reason != probe.ReasonThreshold || !strings.Contains(r.Message, "0 consumers (want at least 1)") {
			t.Errorf("Probe = %s/%s %q, want down/threshold naming 0 consumers", r.Status, r.Reason, r.Message)
		}
	})

	t.Run("vhost, queue name and head timestamp", func(t *testing.T) {
		const vhost, queue = "mail/eu", "out box+1"
		b.AddVhost(t, vhost)
		b.DeclareQueueIn(t, vhost, queue)
		b.PublishIn(t, vhost, queue, 3, time.Now().Add(-2*time.Minute))
		c := check(queue)
		c.Vhost = vhost
		c.URL = config.Secret(b.MgmtURL() + "/api/") // a trailing /api is accepted
		s := readRabbitUntil(t, newRabbitForTest(t, c), func(s QueueSample) bool { return s.Depth == 3 })
		if s.OldestAge == nil || *s.OldestAge < 119*time.Second || *s.OldestAge > 150*time.Second {
			t.Errorf("OldestAge = %v, want about 2m", s.OldestAge)
		}
	})

	t.Run("credentials in the url", func(t *testing.T) {
		u, _ := url.Parse(b.MgmtURL())
		u.User = url.UserPassword(rabbittest.Username, rabbittest.Password)
		c := config.QueueCheck{Source: "rabbitmq", URL: config.Secret(u.String()), Key: "mailers"}
		readRabbitUntil(t, newRabbitForTest(t, c), func(s QueueSample) bool { return s.Depth == 10 })
	})

	t.Run("refused credentials are auth", func(t *testing.T) {
		const bad = "wrong-password-8d1f"
		c := check("mailers")
		c.Password = bad
		_, err := newRabbitForTest(t, c).Read(rabbitCtx(t))
		wantRabbitErr(t, err, probe.ReasonAuth, "401", bad)

		u, _ := url.Parse(b.MgmtURL())
		u.User = url.UserPassword(rabbittest.Username, bad)
		c = config.QueueCheck{Source: "rabbitmq", URL: config.Secret(u.String()), Key: "mailers"}
		q, err := New("", c, probe.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		r := q.Probe(rabbitCtx(t))
		out, _ := json.Marshal(r)
		if r.Status != probe.StatusDown || r.Reason != probe.ReasonAuth || strings.Contains(string(out), bad) {
			t.Errorf("Probe = %s, want down/auth without the password", out)
		}
	})

	t.Run("unknown queue or vhost is protocol", func(t *testing.T) {
		_, err := newRabbitForTest(t, check("no-such-queue")).Read(rabbitCtx(t))
		wantRabbitErr(t, err, probe.ReasonProtocol, `queue "no-such-queue" not found in vhost "/"`, rabbittest.Password)
		c := check("mailers")
		c.Vhost = "no-such-vhost"
		_, err = newRabbitForTest(t, c).Read(rabbitCtx(t))
		wantRabbitErr(t, err, probe.ReasonProtocol, `not found in vhost "no-such-vhost"`, rabbittest.Password)
	})

	t.Run("stopped broker is connect", func(t *testing.T) {
		b.Stop()
		_, err := newRabbitForTest(t, check("mailers")).Read(rabbitCtx(t))
		wantRabbitErr(t, err, probe.ReasonConnect, "connection refused", rabbittest.Password)
		q, err := New("", check("mailers"), probe.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if r := q.Probe(rabbitCtx(t)); r.Status != probe.StatusDown || r.Reason != probe.ReasonConnect || r.Queue != nil {
			t.Errorf("Probe = %s/%s %q, figures %v; want down/connect without figures", r.Status, r.Reason, r.Message, r.Queue)
		}
	})
}

// TestRabbitFaults covers replies a healthy broker doesn't give, from a
// hand-written server.
func TestRabbitFaults(t *testing.T) {
	const pass = "s3cret-pass"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		reason  probe.Reason
		text    string
	}{
		{"server error with reason", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"internal","reason":"boom for ` + pass + `"}`))
		}, probe.ReasonProtocol, "unexpected HTTP status 500 Internal Server Error: boom for <redacted>"},
		{"forbidden", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusForbidden)
		}, probe.ReasonAuth, "HTTP 403 Forbidden"},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusMovedPermanently)
		}, probe.ReasonProtocol, "unexpected HTTP status 301"},
		{"body too large", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"name":"` + strings.Repeat("x", rabbitMaxBody) + `"}`))
		}, probe.ReasonProtocol, "reply larger than"},
		{"not json", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`<html>proxy error</html>`))
		}, probe.ReasonProtocol, "reply is not a JSON object"},
		{"stall", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, probe.ReasonTimeout, "timed out waiting for the management API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type request struct{ path, user, pass string }
			got := make(chan request, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u, p, _ := r.BasicAuth()
				got <- request{r.URL.EscapedPath(), u, p}
				tt.handler(w, r)
			}))
			defer srv.Close()
			src := newRabbitForTest(t, config.QueueCheck{Source: "rabbitmq", URL: config.Secret(srv.URL + "/rmq"),
				Key: "jobs", Username: "mon", Password: pass})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := src.Read(ctx)
			wantRabbitErr(t, err, tt.reason, tt.text, pass)
			if r := <-got; r.path != "/rmq/api/queues/%2F/jobs" || r.user != "mon" || r.pass != pass {
				t.Errorf("request = %+v, want path /rmq/api/queues/%%2F/jobs as mon", r)
			}
		})
	}
}

func TestRabbitDecode(t *testing.T) {
	now := time.Unix(1_700_000_100, 0)
	tests := []struct {
		name    string
		body    string
		want    QueueSample
		wantErr string
	}{
		{"full", `{"name":"q","state":"running","messages":12,"messages_ready":9,"messages_unacknowledged":3,
			"consumers":2,"head_message_timestamp":1700000000,"message_stats":{"ack_details":{"rate":4.5}}}`,
			rabbitSample(12, 9, 3, 2, 4.5, 100*time.Second), ""},
		{"sum when total missing", `{"messages_ready":4,"messages_unacknowledged":1}`,
			QueueSample{Depth: 5, Extra: map[string]float64{"ready": 4, "unacked": 1}}, ""},
		{"empty message_stats list", `{"messages":0,"messages_ready":0,"messages_unacknowledged":0,"consumers":0,
			"message_stats":[],"head_message_timestamp":null}`, rabbitSample(0, 0, 0, 0, -1, -1), ""},
		{"millisecond timestamp ignored", `{"messages":1,"head_message_timestamp":1700000000000}`,
			QueueSample{Depth: 1, Extra: map[string]float64{}}, ""},
		{"future timestamp is age 0", `{"messages":1,"head_message_timestamp":1700000500}`,
			QueueSample{Depth: 1, Extra: map[string]float64{}, OldestAge: new(time.Duration)}, ""},
		{"no statistics yet", `{"name":"q"}`, QueueSample{}, "no message counts"},
		{"crashed", `{"name":"q","state":"crashed","messages":3}`, QueueSample{}, "queue is crashed"},
		{"negative", `{"messages":-1}`, QueueSample{}, "messages is not a count: -1"},
		{"fraction", `{"messages":1.5}`, QueueSample{}, "not a count"},
		{"string", `{"messages":"7"}`, QueueSample{}, "not a count"},
		{"too large", `{"messages_ready":1e300,"messages_unacknowledged":1e300}`, QueueSample{}, "not a count"},
		{"list", `[]`, QueueSample{}, "not a JSON object"},
		{"null", `null`, QueueSample{}, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRabbitQueue([]byte(tt.body), now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("sample = %s, want %s", g, w)
			}
		})
	}
}

func TestRabbitConfig(t *testing.T) {
	base, _ := url.Parse("https://mq.example:15671/prefix/api/?x=1#f")
	if got, want := rabbitQueueURL(base, "/", "a/b c"),
		"https://mq.example:15671/prefix/api/queues/%2F/a%2Fb%20c?columns="+url.QueryEscape(rabbitColumns); got != want {
		t.Errorf("url = %s, want %s", got, want)
	}
	tests := []struct {
		name string
		c    config.QueueCheck
		want string
	}{
		{"no url", config.QueueCheck{Key: "q"}, "queue.url: is required"},
		{"no key", config.QueueCheck{URL: "http://h:15672"}, "queue.key: is required"},
		{"not http", config.QueueCheck{Key: "q", URL: "amqp://guest:hunter22@h:5672"}, "queue.url: must be an absolute http"},
		{"bad url", config.QueueCheck{Key: "q", URL: "http://guest:hunter22@h:99999999x"}, "queue.url:"},
		{"bad ca", config.QueueCheck{Key: "q", URL: "https://h", TLSConfig: config.TLS{CAFile: "/nonexistent"}}, "queue.tls_config.ca_file"},
	}
	for _, tt := range tests {
		_, err := newRabbitMQSource(tt.c, probe.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter22") {
			t.Errorf("%s: err = %v, want %q and no password", tt.name, err, tt.want)
		}
	}
}

func FuzzRabbitQueueJSON(f *testing.F) {
	f.Add([]byte(`{"name":"q","state":"running","messages":12,"messages_ready":9,"messages_unacknowledged":3,"consumers":2,"head_message_timestamp":1700000000,"message_stats":{"ack_details":{"rate":4.5}}}`))
	f.Add([]byte(`{"name":"q"}`))
	f.Add([]byte(`{"messages":1e308,"consumers":1e300,"head_message_timestamp":-5,"message_stats":[]}`))
	now := time.Unix(1_700_000_100, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := decodeRabbitQueue(body, now)
		if err != nil {
			return
		}
		bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }
		if bad(s.Depth) || bad(s.Extra["ready"]) || bad(s.Extra["unacked"]) || math.IsInf(s.Extra["ack_rate"], 0) ||
			(s.Consumers != nil && *s.Consumers < 0) || (s.OldestAge != nil && *s.OldestAge < 0) {
			t.Fatalf("decoded %s to an impossible sample %+v", body, s)
		}
	})
}

// newRabbitForTest builds the source for c and closes it when the test ends.
func newRabbitForTest(t *testing.T, c config.QueueCheck) *rabbitSource {
	t.Helper()
	src, err := newRabbitMQSource(c, probe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*rabbitSource)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rabbitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readRabbitUntil reads the source until ok accepts a sample: the
// management API refreshes its figures about every second, and a queue
// declared a moment ago has none yet.
func readRabbitUntil(t *testing.T, src QueueSource, ok func(QueueSample) bool) QueueSample {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := src.Read(rabbitCtx(t))
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15s: sample %+v, err %v", s, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantRabbit checks a sample's depth, ready, unacked and consumers.
func wantRabbit(t *testing.T, s QueueSample, depth, ready, unacked float64, consumers int) {
	t.Helper()
	if s.Depth != depth || s.Extra["ready"] != ready || s.Extra["unacked"] != unacked ||
		s.Consumers == nil || *s.Consumers != consumers {
		t.Errorf("sample = depth %v, extra %v, consumers %v; want depth %v, ready %v, unacked %v, consumers %d",
			s.Depth, s.Extra, s.Consumers, depth, ready, unacked, consumers)
	}
}

// wantRabbitErr checks that err is a *SourceError with reason whose
// message holds text and not secret.
func wantRabbitErr(t *testing.T, err error, reason probe.Reason, text, secret string) {
	t.Helper()
	var se *SourceError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *SourceError", err, err)
	}
	if se.Reason != reason || !strings.Contains(se.Message, text) || strings.Contains(se.Error(), secret) {
		t.Errorf("err = %s / %q, want %s containing %q and not the secret", se.Reason, se.Message, reason, text)
	}
}

// rabbitSample builds a sample; ackRate or age below 0 leaves it out.
func rabbitSample(depth, ready, unacked float64, consumers int, ackRate float64, age time.Duration) QueueSample {
	s := QueueSample{Depth: depth, Consumers: &consumers,
		Extra: map[string]float64{"ready": ready, "unacked": unacked}}
	if ackRate >= 0 {
		s.Extra["ack_rate"] = ackRate
	}
	if age >= 0 {
		s.OldestAge = &age
	}
	return s
}
