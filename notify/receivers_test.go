package notify_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/notify"
	"github.com/tocsin/tocsin/outbox"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func ms(t time.Time) outbox.Millis { return outbox.Millis(t.UnixMilli()) }

// page is what the test receivers link to.
var page = notify.Page{Name: "Acme Status", URL: "https://status.acme.example", Groups: map[string]string{"web": "Help Desk"}}

// opened is the first event of an incident on Web App; resolved its end.
func opened() outbox.Entry {
	return outbox.Entry{ID: "1-0", To: []string{"r"}, Event: outbox.Event{
		Kind: outbox.Opened, At: ms(t0.Add(2 * time.Minute)),
		Incident: &outbox.Incident{ID: "inc1", Name: "Major outage: Web App", Status: incident.Investigating,
			Impact: incident.ImpactCritical, Auto: true, CreatedAt: ms(t0.Add(2 * time.Minute)), StartedAt: ms(t0),
			Components: outbox.StringMap{"web": "major_outage"}, Names: outbox.StringMap{"web": "Web App"},
			Codes: outbox.Strings{"web"}},
		Update: &outbox.Update{ID: "inc1u1", Status: incident.Investigating, CreatedAt: ms(t0.Add(2 * time.Minute)),
			Body:     "Web App: major outage. Check web-home is down (status: unexpected status 503 <want 2xx>).",
			Affected: []incident.AffectedComponent{{Code: "web", Name: "Web App", OldStatus: "operational", NewStatus: "major_outage"}}},
	}}
}

func resolved() outbox.Entry {
	e := opened()
	e.ID = "3-0"
	e.Event.Kind = outbox.Resolved
	e.Event.At = ms(t0.Add(14 * time.Minute))
	in := *e.Event.Incident
	in.Status, in.ResolvedAt = incident.Resolved, ms(t0.Add(14*time.Minute))
	in.Components = outbox.StringMap{"web": "operational"}
	e.Event.Incident = &in
	e.Event.Update = &outbox.Update{ID: "inc1u3", Status: incident.Resolved, CreatedAt: ms(t0.Add(14 * time.Minute)),
		Body: "This incident has been resolved."}
	e.Event.Prev = &outbox.Prev{Impact: incident.ImpactCritical, Status: incident.Monitoring, Codes: outbox.Strings{"web"}}
	return e
}

// capture is a local receiver that records what it gets and answers code.
type capture struct {
	srv *httptest.Server

	mu     sync.Mutex
	code   int
	bodies [][]byte
	heads  []http.Header
}

func newCapture(t *testing.T) *capture {
	t.Helper()
	c := &capture{code: http.StatusOK}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.bodies, c.heads = append(c.bodies, b), append(c.heads, r.Header.Clone())
		code := c.code
		c.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) last(t *testing.T) ([]byte, http.Header) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bodies) == 0 {
		t.Fatal("nothing received")
	}
	return c.bodies[len(c.bodies)-1], c.heads[len(c.heads)-1]
}

func send(t *testing.T, r config.Receiver, e outbox.Entry) error {
	t.Helper()
	r.Timeout = 5 * time.Second
	s, err := notify.NewSender(r, page, "test", "r1")
	if err != nil {
		t.Fatal(err)
	}
	return s.Send(context.Background(), e)
}

func TestWebhookIsSignedJSON(t *testing.T) {
	t.Parallel()
	c := newCapture(t)
	const secret = "hook-secret-9f2c"
	if err := send(t, config.Receiver{Name: "hooks", Type: config.ReceiverWebhook, URL: config.Secret(c.srv.URL),
		Secret: secret}, opened()); err != nil {
		t.Fatal(err)
	}
	body, h := c.last(t)
	// The receiver checks the signature as its docs would tell it to.
	want := notify.Sign([]byte(secret), body)
	got := h.Get("X-Tocsin-Signature")
	if !strings.HasPrefix(got, "sha256=") || !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("signature %q, want %q", got, want)
	}
	if h.Get("X-Tocsin-Delivery") != "inc1:inc1u1" || h.Get("X-Tocsin-Event") != "opened" ||
		h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("User-Agent"), "tocsin/") {
		t.Errorf("headers %v", h)
	}
	var ev struct {
		Event    string `json:"event"`
		Delivery string `json:"delivery"`
		Summary  string `json:"summary"`
		Page     struct{ Name, URL string }
		Incident struct {
			ID, Name, Status, Impact, Shortlink string
			StartedAt                           string `json:"started_at"`
			Components                          []struct{ ID, Name, Status string }
		}
		Update struct {
			ID, Body  string
			CreatedAt string                       `json:"created_at"`
			Affected  []incident.AffectedComponent `json:"affected_components"`
		}
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if ev.Event != "opened" || ev.Delivery != "inc1:inc1u1" || ev.Summary != "Opened: Major outage: Web App" ||
		ev.Incident.ID != "inc1" || ev.Incident.Impact != "critical" || ev.Incident.Status != "investigating" ||
		ev.Incident.Shortlink != "https://status.acme.example/incidents/inc1" || ev.Incident.StartedAt != "2026-12-01T03:00:00Z" ||
		len(ev.Incident.Components) != 1 || ev.Incident.Components[0].Name != "Web App" ||
		ev.Update.ID != "inc1u1" || len(ev.Update.Affected) != 1 || ev.Update.CreatedAt != "2026-12-01T03:02:00Z" ||
		ev.Page.Name != "Acme Status" {
		t.Errorf("event %+v\nfrom %s", ev, body)
	}
	// Unsigned without a secret.
	if err := send(t, config.Receiver{Name: "hooks", Type: config.ReceiverWebhook, URL: config.Secret(c.srv.URL)}, opened()); err != nil {
		t.Fatal(err)
	}
	if _, h := c.last(t); h.Get("X-Tocsin-Signature") != "" {
		t.Error("signed without a secret")
	}
}

func TestSlackMessage(t *testing.T) {
	t.Parallel()
	c := newCapture(t)
	r := config.Receiver{Name: "chat", Type: config.ReceiverSlack, URL: config.Secret(c.srv.URL)}
	for _, tc := range []struct {
		e     outbox.Entry
		wants []string
	}{
		{opened(), []string{":red_circle: *Opened: Major outage: Web App*", "*Status:* investigating · *Impact:* critical",
			"*Components:* Web App (major outage)", "&lt;want 2xx&gt;", "<https://status.acme.example/incidents/inc1|View the incident>"}},
		{resolved(), []string{":white_check_mark: *Resolved after 14m0s: Major outage: Web App*", "This incident has been resolved."}},
	} {
		if err := send(t, r, tc.e); err != nil {
			t.Fatal(err)
		}
		body, _ := c.last(t)
		// Slack's incoming-webhook payload: text, and blocks of a section
		// and a context, both mrkdwn.
		var msg struct {
			Text   string `json:"text"`
			Blocks []struct {
				Type string `json:"type"`
				Text *struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"text"`
				Elements []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"elements"`
			} `json:"blocks"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatal(err)
		}
		if msg.Text == "" || len(msg.Blocks) != 2 || msg.Blocks[0].Type != "section" || msg.Blocks[0].Text.Type != "mrkdwn" ||
			msg.Blocks[1].Type != "context" || len(msg.Blocks[1].Elements) != 1 || msg.Blocks[1].Elements[0].Type != "mrkdwn" {
			t.Fatalf("not an incoming-webhook message: %s", body)
		}
		all := msg.Blocks[0].Text.Text + "\n" + msg.Blocks[1].Elements[0].Text
		for _, w := range tc.wants {
			if !strings.Contains(all, w) {
				t.Errorf("%s message lacks %q:\n%s", tc.e.Event.Kind, w, all)
			}
		}
	}
}

// pagerDutyAPI is a local Events API v2 that validates events as the real
// one does (required fields, enums), answers 202 with its JSON, and keeps
// one incident per dedup_key, as PagerDuty does.
type pagerDutyAPI struct {
	srv *httptest.Server
	t   *testing.T

	mu        sync.Mutex
	events    []map[string]any
	incidents map[string]string // dedup_key -> triggered | resolved
}

func newPagerDuty(t *testing.T) *pagerDutyAPI {
	p := &pagerDutyAPI{t: t, incidents: map[string]string{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pagerDutyAPI) serve(w http.ResponseWriter, r *http.Request) {
	var ev map[string]any
	if r.URL.Path != "/v2/enqueue" || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&ev) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	bad := func(msg string) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"status":"invalid event","message":"`+msg+`"}`)
	}
	key, _ := ev["dedup_key"].(string)
	switch ev["event_action"] {
	case "trigger":
		pl, _ := ev["payload"].(map[string]any)
		if pl == nil || pl["summary"] == "" || pl["source"] == "" || len(pl["summary"].(string)) > 1024 {
			bad("payload.summary and payload.source are required")
			return
		}
		switch pl["severity"] {
		case "critical", "error", "warning", "info":
		default:
			bad("payload.severity is invalid")
			return
		}
		if ts, ok := pl["timestamp"].(string); ok {
			if _, err := time.Parse(time.RFC3339, ts); err != nil {
				bad("payload.timestamp is invalid")
				return
			}
		}
	case "resolve", "acknowledge":
		if key == "" {
			bad("dedup_key is required")
			return
		}
	default:
		bad("event_action is invalid")
		return
	}
	if ev["routing_key"] == "" || len(key) > 255 {
		bad("routing_key is required")
		return
	}
	p.mu.Lock()
	p.events = append(p.events, ev)
	if ev["event_action"] == "trigger" {
		p.incidents[key] = "triggered"
	} else if _, ok := p.incidents[key]; ok {
		p.incidents[key] = "resolved"
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"`+key+`"}`)
}

func TestPagerDutyTriggersAndResolves(t *testing.T) {
	t.Parallel()
	p := newPagerDuty(t)
	r := config.Receiver{Name: "oncall", Type: config.ReceiverPagerDuty, URL: config.Secret(p.srv.URL + "/v2/enqueue"),
		RoutingKey: "R0UT1NGK3Y0123456789abcdefghijkl"}
	for _, e := range []outbox.Entry{opened(), resolved()} {
		if err := send(t, r, e); err != nil {
			t.Fatalf("%s: %v", e.Event.Kind, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) != 2 || len(p.incidents) != 1 || p.incidents["inc1"] != "resolved" {
		t.Fatalf("PagerDuty saw %v; incidents %v", p.events, p.incidents)
	}
	trig := p.events[0]
	pl := trig["payload"].(map[string]any)
	if trig["routing_key"] != "R0UT1NGK3Y0123456789abcdefghijkl" || trig["dedup_key"] != "inc1" ||
		pl["severity"] != "critical" || pl["source"] != "https://status.acme.example" || pl["component"] != "Web App" ||
		pl["group"] != "Help Desk" || pl["timestamp"] != "2026-12-01T03:00:00Z" ||
		!strings.HasPrefix(pl["summary"].(string), "Major outage: Web App — Web App: major outage.") {
		t.Errorf("trigger %v", trig)
	}
	links, _ := trig["links"].([]any)
	if len(links) != 1 || links[0].(map[string]any)["href"] != "https://status.acme.example/incidents/inc1" {
		t.Errorf("links %v", trig["links"])
	}
	res := p.events[1]
	if res["event_action"] != "resolve" || res["dedup_key"] != "inc1" || res["payload"] != nil {
		t.Errorf("resolve %v", res)
	}
}

// TestPagerDutyWrongKeyIsMisconfigured: PagerDuty answers a wrong routing
// key with 400: kept and retried (misconfigured), never dropped.
func TestPagerDutyWrongKeyIsMisconfigured(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`)
	}))
	t.Cleanup(srv.Close)
	err := send(t, config.Receiver{Name: "oncall", Type: config.ReceiverPagerDuty, URL: config.Secret(srv.URL),
		RoutingKey: "wrong-key-0123456789"}, opened())
	if f, ok := errors.AsType[*notify.Failure](err); !ok || f.Outcome != notify.Misconfigured {
		t.Errorf("wrong routing key: %v, want misconfigured", err)
	}
}

// TestFailuresAreClassified: what each answer means for the retry.
func TestFailuresAreClassified(t *testing.T) {
	t.Parallel()
	c := newCapture(t)
	r := config.Receiver{Name: "hooks", Type: config.ReceiverWebhook, URL: config.Secret(c.srv.URL)}
	for _, tc := range []struct {
		code    int
		outcome notify.Outcome
	}{
		{http.StatusServiceUnavailable, notify.Retry},
		{http.StatusTooManyRequests, notify.Retry},
		{http.StatusUnauthorized, notify.Misconfigured},
		{http.StatusForbidden, notify.Misconfigured},
		{http.StatusNotFound, notify.Misconfigured},
		{http.StatusBadRequest, notify.Permanent},
		{http.StatusUnprocessableEntity, notify.Permanent},
	} {
		c.mu.Lock()
		c.code = tc.code
		c.mu.Unlock()
		err := send(t, r, opened())
		f, ok := errors.AsType[*notify.Failure](err)
		if !ok || f.Outcome != tc.outcome || f.Status != tc.code {
			t.Errorf("HTTP %d: %v, want outcome %d", tc.code, err, tc.outcome)
		}
	}
	c.srv.Close()
	if f, ok := errors.AsType[*notify.Failure](send(t, r, opened())); !ok || f.Outcome != notify.Retry || strings.Contains(f.Error(), c.srv.URL) {
		t.Errorf("receiver down: %v", f)
	}
}
