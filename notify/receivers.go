package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/outbox"
)

// Sender delivers one event to a receiver: nil once the receiver took it,
// a *Failure otherwise.
type Sender interface {
	Send(ctx context.Context, e outbox.Entry) error
}

// NewSender builds the sender of a receiver of the config; version goes
// into the User-Agent, member (the delivering replica, "" if none) into a
// webhook's X-Tocsin-Replica.
func NewSender(r config.Receiver, page Page, version, member string) (Sender, error) {
	base := sender{r: r, page: page, client: &http.Client{Timeout: r.Timeout}, agent: "tocsin/" + version, member: member}
	switch r.Type {
	case config.ReceiverWebhook:
		return webhook{base}, nil
	case config.ReceiverSlack:
		return slack{base}, nil
	case config.ReceiverPagerDuty:
		return pagerDuty{base}, nil
	case config.ReceiverAlertmanager:
		return alertmanager{base}, nil
	}
	return nil, fmt.Errorf("notify: receiver %q: unknown type %q", r.Name, r.Type)
}

// Kinds are the event kinds a receiver of the config takes, and whether
// any change of an incident's impact counts too: what the store's scripts
// filter by (outbox.Filter).
func Kinds(r config.Receiver) ([]outbox.Kind, bool) {
	var ks []outbox.Kind
	impact := false
	switch r.Type {
	case config.ReceiverPagerDuty:
		// Trigger on open, reopen and impact change; resolve on resolve.
		ks, impact = []outbox.Kind{outbox.Opened, outbox.Reopened, outbox.Resolved}, true
	case config.ReceiverAlertmanager:
		// Every change: the alert's labels follow the incident; re-sent
		// while open so Alertmanager does not resolve it by itself.
		ks = append(slices.Clone(outbox.IncidentKinds()), outbox.Reminder)
	default:
		ks = slices.Clone(outbox.IncidentKinds())
	}
	if r.RepeatEvery > 0 && !slices.Contains(ks, outbox.Reminder) {
		ks = append(ks, outbox.Reminder)
	}
	if r.Maintenance {
		ks = append(ks, outbox.MaintenanceStarted, outbox.MaintenanceEnded)
	}
	if r.Warnings {
		ks = append(ks, outbox.Warning)
	}
	return ks, impact
}

// Filters are the filters of every receiver of cfg.
func Filters(cfg *config.Config) []outbox.Filter {
	out := make([]outbox.Filter, 0, len(cfg.Notify))
	for _, r := range cfg.Notify {
		ks, impact := Kinds(r)
		out = append(out, outbox.Filter{Receiver: r.Name, MinImpact: incident.Impact(r.MinImpact),
			Components: r.Components, Kinds: ks, ImpactChanges: impact})
	}
	return out
}

type sender struct {
	r      config.Receiver
	page   Page
	client *http.Client
	agent  string
	member string // the delivering replica, for the webhook's X-Tocsin-Replica
}

func (s sender) post(ctx context.Context, url string, body []byte, h http.Header) error {
	if h == nil {
		h = http.Header{}
	}
	h.Set("User-Agent", s.agent)
	_, err := post(ctx, s.client, url, body, h)
	return err
}

// webhook posts the event as JSON, signed.
type webhook struct{ sender }

// webhookEvent is the body a webhook receives.
type webhookEvent struct {
	Event    outbox.Kind      `json:"event"`
	Delivery string           `json:"delivery"`
	At       string           `json:"at"`
	Page     webhookPage      `json:"page"`
	Summary  string           `json:"summary"`
	Incident *webhookIncident `json:"incident,omitempty"`
	Update   *webhookUpdate   `json:"update,omitempty"`
	Subject  string           `json:"subject,omitempty"`
	Body     string           `json:"body,omitempty"`
}

type webhookPage struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

type webhookIncident struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Status     incident.Status    `json:"status"`
	Impact     incident.Impact    `json:"impact"`
	Shortlink  string             `json:"shortlink,omitempty"`
	StartedAt  string             `json:"started_at,omitempty"`
	ResolvedAt string             `json:"resolved_at,omitempty"`
	Components []webhookComponent `json:"components"`
	Previous   *webhookPrevious   `json:"previous,omitempty"`
}

type webhookUpdate struct {
	ID                 string                       `json:"id"`
	Status             incident.Status              `json:"status"`
	Body               string                       `json:"body"`
	CreatedAt          string                       `json:"created_at"`
	AffectedComponents []incident.AffectedComponent `json:"affected_components,omitempty"`
	Human              bool                         `json:"human"`
}

type webhookComponent struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

type webhookPrevious struct {
	Status incident.Status `json:"status"`
	Impact incident.Impact `json:"impact"`
}

// SignatureHeader carries the body's HMAC-SHA256 with the receiver's
// secret: "sha256=<hex>".
const SignatureHeader = "X-Tocsin-Signature"

// Sign is the X-Tocsin-Signature value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w webhook) Send(ctx context.Context, e outbox.Entry) error {
	ev := webhookEvent{Event: e.Event.Kind, Delivery: e.Key(), At: rfc3339(e.Event.At.Time()),
		Page: webhookPage{Name: w.page.Name, URL: w.page.URL}, Summary: headline(e),
		Subject: e.Event.Subject, Body: e.Event.Body}
	if u := e.Event.Update; u != nil {
		ev.Update = &webhookUpdate{ID: u.ID, Status: u.Status, Body: u.Body, CreatedAt: rfc3339(u.CreatedAt.Time()),
			AffectedComponents: u.Affected, Human: u.Human}
	}
	if in := e.Event.Incident; in != nil {
		wi := &webhookIncident{ID: in.ID, Name: in.Name, Status: in.Status, Impact: in.Impact,
			Shortlink: w.page.incidentURL(in.ID), StartedAt: rfc3339(in.StartedAt.Time()),
			ResolvedAt: rfc3339(in.ResolvedAt.Time()), Components: []webhookComponent{}}
		for _, c := range codes(in) {
			wi.Components = append(wi.Components, webhookComponent{ID: c, Name: nameOf(in, c), Status: in.Components[c]})
		}
		if p := e.Event.Prev; p != nil {
			wi.Previous = &webhookPrevious{Status: p.Status, Impact: p.Impact}
		}
		ev.Incident = wi
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return &Failure{Outcome: Permanent, Detail: "cannot encode the event"}
	}
	h := http.Header{}
	h.Set("X-Tocsin-Event", string(e.Event.Kind))
	h.Set("X-Tocsin-Delivery", e.Key())
	if w.member != "" {
		h.Set("X-Tocsin-Replica", w.member)
	}
	if w.r.Secret != "" {
		h.Set(SignatureHeader, Sign([]byte(w.r.Secret.Reveal()), body))
	}
	return w.post(ctx, w.r.URL.Reveal(), body, h)
}

func nameOf(in *outbox.Incident, code string) string {
	if n := in.Names[code]; n != "" {
		return n
	}
	return code
}

// rfc3339 formats t, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// slack posts an incoming-webhook message a person reads at 3 a.m.
type slack struct{ sender }

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func (s slack) Send(ctx context.Context, e outbox.Entry) error {
	title := slackEscape.Replace(headline(e))
	text := fmt.Sprintf("%s *%s*", slackMark(e), title)
	var lines []string
	if in := e.Event.Incident; in != nil {
		lines = append(lines, fmt.Sprintf("*Status:* %s · *Impact:* %s", in.Status, in.Impact))
		if cs := componentList(in); cs != "" {
			lines = append(lines, "*Components:* "+slackEscape.Replace(cs))
		}
	}
	if ev := evidence(e); ev != "" {
		lines = append(lines, "> "+slackEscape.Replace(clip(ev, 2500)))
	}
	var link string
	if in := e.Event.Incident; in != nil && s.page.incidentURL(in.ID) != "" {
		link = fmt.Sprintf("<%s|View the incident>", s.page.incidentURL(in.ID))
	}
	msg := slackMessage{Text: title, Blocks: []slackBlock{
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: clip(text+"\n"+strings.Join(lines, "\n"), 3000)}},
	}}
	ctxLine := slackEscape.Replace(s.page.Name)
	if link != "" {
		ctxLine += " · " + link
	}
	if ctxLine != "" {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []*slackText{{Type: "mrkdwn", Text: ctxLine}}})
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return &Failure{Outcome: Permanent, Detail: "cannot encode the message"}
	}
	return s.post(ctx, s.r.URL.Reveal(), body, nil)
}

// slackMark is the emoji that says the state at a glance.
func slackMark(e outbox.Entry) string {
	in := e.Event.Incident
	switch {
	case e.Event.Kind == outbox.Test:
		return ":wave:"
	case in == nil:
		return ":information_source:"
	case in.Status == incident.Resolved:
		return ":white_check_mark:"
	case in.Status == incident.Monitoring:
		return ":large_blue_circle:"
	case in.Impact == incident.ImpactCritical:
		return ":red_circle:"
	case in.Impact == incident.ImpactMajor:
		return ":large_orange_circle:"
	}
	return ":large_yellow_circle:"
}
