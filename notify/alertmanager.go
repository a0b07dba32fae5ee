package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/outbox"
)

// alertmanager posts one alert per open incident to Alertmanager's v2 API,
// so teams keep their routing, grouping and silences. The alert is sent
// again at every event and reminder while the incident is open (an alert
// not re-sent within Alertmanager's resolve_timeout would end by itself),
// with endsAt once it is resolved. Its labels follow the incident: when
// the impact or the components change, the alert under the old labels is
// ended and one under the new begins.
type alertmanager struct{ sender }

// AlertName is the alertname label of tocsin's alerts.
const AlertName = "TocsinIncident"

// amAlert is a postableAlert of Alertmanager's v2 API.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func (a alertmanager) Send(ctx context.Context, e outbox.Entry) error {
	at := e.Event.At.Time()
	if at.IsZero() {
		at = time.Now()
	}
	var alerts []amAlert
	if in := e.Event.Incident; in != nil {
		cur := a.alert(e, in, in.Impact, codes(in))
		if in.Status == incident.Resolved {
			cur.EndsAt = rfc3339(orTime(in.ResolvedAt.Time(), at))
		}
		if p := e.Event.Prev; p != nil && p.Status != incident.Resolved {
			old := a.alert(e, in, p.Impact, p.Codes)
			if !sameLabels(old.Labels, cur.Labels) {
				old.EndsAt = rfc3339(at)
				alerts = append(alerts, old)
			}
		}
		alerts = append(alerts, cur)
	} else {
		alerts = append(alerts, amAlert{
			Labels: map[string]string{"alertname": "TocsinEvent", "event": string(e.Event.Kind),
				"subject": e.Event.Subject},
			Annotations: map[string]string{"summary": headline(e), "description": e.Event.Body},
			StartsAt:    rfc3339(at), EndsAt: rfc3339(at.Add(time.Minute)),
		})
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return &Failure{Outcome: Permanent, Detail: "cannot encode the alerts"}
	}
	return a.post(ctx, strings.TrimSuffix(a.r.URL.Reveal(), "/")+"/api/v2/alerts", body, nil)
}

func (a alertmanager) alert(e outbox.Entry, in *outbox.Incident, impact incident.Impact, comps []string) amAlert {
	sorted := slices.Sorted(slices.Values(comps))
	al := amAlert{
		Labels: map[string]string{"alertname": AlertName, "incident": in.ID, "component": strings.Join(sorted, ","),
			"impact": string(impact), "severity": severity(impact)},
		Annotations: map[string]string{"summary": in.Name, "status": string(in.Status),
			"components": componentList(in)},
		StartsAt:     rfc3339(orTime(in.StartedAt.Time(), in.CreatedAt.Time())),
		GeneratorURL: a.page.incidentURL(in.ID),
	}
	if ev := evidence(e); ev != "" {
		al.Annotations["description"] = ev
	}
	if u := a.page.incidentURL(in.ID); u != "" {
		al.Annotations["incident_url"] = u
	}
	return al
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func orTime(t, or time.Time) time.Time {
	if t.IsZero() {
		return or
	}
	return t
}
