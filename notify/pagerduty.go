package notify

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/tocsin/tocsin/outbox"
)

// pagerDuty sends PagerDuty Events API v2 events: trigger on open, reopen
// and impact change, resolve on resolve, with tocsin's incident id as the
// dedup_key, so PagerDuty keeps one incident per tocsin incident.
type pagerDuty struct{ sender }

// pdEvent is an Events API v2 event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pdMaxSummary is the Events API's limit on a summary.
const pdMaxSummary = 1024

func (p pagerDuty) Send(ctx context.Context, e outbox.Entry) error {
	ev := pdEvent{RoutingKey: p.r.RoutingKey.Reveal(), Client: "tocsin", ClientURL: p.page.URL}
	in := e.Event.Incident
	switch {
	case e.Event.Kind == outbox.Test:
		ev.EventAction, ev.DedupKey = "trigger", "tocsin-test-"+e.ID
		ev.Payload = &pdPayload{Summary: headline(e), Source: p.source(), Severity: "info", Class: "tocsin test"}
	case in == nil:
		ev.EventAction, ev.DedupKey = "trigger", string(e.Event.Kind)+"-"+e.ID
		ev.Payload = &pdPayload{Summary: clip(headline(e)+": "+e.Event.Body, pdMaxSummary), Source: p.source(),
			Severity: "warning", Class: string(e.Event.Kind), Component: strings.Join(e.Event.Components, ",")}
	case e.Event.Kind == outbox.Resolved:
		ev.EventAction, ev.DedupKey = "resolve", in.ID
		ev.Client, ev.ClientURL = "", ""
	default:
		ev.EventAction, ev.DedupKey = "trigger", in.ID
		ev.Payload = p.payload(e, in)
		if u := p.page.incidentURL(in.ID); u != "" {
			ev.Links = []pdLink{{Href: u, Text: "The incident on " + p.pageName()}}
		}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return &Failure{Outcome: Permanent, Detail: "cannot encode the event"}
	}
	err = p.post(ctx, p.r.URL.Reveal(), body, nil)
	// The Events API answers a wrong routing key with 400 ("Invalid
	// routing key"): a misconfiguration to retry once fixed, not an event
	// to drop.
	var f *Failure
	if errors.As(err, &f) && f.Outcome == Permanent && strings.Contains(strings.ToLower(f.Detail), "routing") {
		f.Outcome = Misconfigured
	}
	return err
}

func (p pagerDuty) payload(e outbox.Entry, in *outbox.Incident) *pdPayload {
	cs := codes(in)
	names := make([]string, len(cs))
	var groups []string
	for i, c := range cs {
		names[i] = nameOf(in, c)
		if g := p.page.Groups[c]; g != "" && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	details := map[string]any{"status": string(in.Status), "impact": string(in.Impact),
		"components": componentList(in), "tocsin_event": string(e.Event.Kind)}
	if ev := evidence(e); ev != "" {
		details["latest_update"] = ev
	}
	if u := p.page.incidentURL(in.ID); u != "" {
		details["incident_url"] = u
	}
	summary := in.Name
	if ev := evidence(e); ev != "" {
		summary += " — " + ev
	}
	return &pdPayload{
		Summary: clip(summary, pdMaxSummary), Source: p.source(), Severity: severity(in.Impact),
		Timestamp: rfc3339(in.StartedAt.Time()), Component: strings.Join(names, ", "),
		Group: strings.Join(groups, ", "), Class: "tocsin incident", CustomDetails: details,
	}
}

// source is the affected system as PagerDuty shows it: the status page.
func (p pagerDuty) source() string {
	if p.page.URL != "" {
		return p.page.URL
	}
	return p.pageName()
}

func (p pagerDuty) pageName() string {
	if p.page.Name != "" {
		return p.page.Name
	}
	return "tocsin"
}
