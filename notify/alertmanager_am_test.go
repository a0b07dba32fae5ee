package notify_test

import (
	"maps"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/incident"
	"github.com/tocsin/tocsin/internal/amtest"
	"github.com/tocsin/tocsin/notify"
	"github.com/tocsin/tocsin/outbox"
)

// TestAlertmanagerReceiverAgainstRealAlertmanager drives one incident
// through a real Alertmanager: opened on web, then critical with api
// joined (the alert moves to new labels, the old one ends), then resolved.
// Alertmanager stops listing an alert once its endsAt has passed (see
// amtest), so "ended" reads as "no longer listed".
func TestAlertmanagerReceiverAgainstRealAlertmanager(t *testing.T) {
	t.Parallel()
	srv := amtest.Start(t)
	s, err := notify.NewSender(config.Receiver{Name: "am", Type: config.ReceiverAlertmanager,
		URL: config.Secret(srv.URL()), Timeout: 5 * time.Second, RetryMin: time.Second, RetryMax: time.Second},
		notify.Page{Name: "Acme Status", URL: "https://status.acme.example"}, "test", "r1")
	if err != nil {
		t.Fatal(err)
	}
	const id = "inc-am-1"
	const wait = 10 * time.Second
	stamp := func(at time.Time) outbox.Millis { return outbox.Millis(at.UnixMilli()) }
	started := time.Now().Add(-3 * time.Minute)
	deliver := func(e outbox.Entry) {
		t.Helper()
		if err := s.Send(t.Context(), e); err != nil {
			t.Fatalf("send %s: %v\nalertmanager log:\n%s", e.Event.Kind, err, srv.Output())
		}
	}
	ofIncident := func(as []amtest.Alert) []amtest.Alert {
		return amtest.Select(as, map[string]string{"alertname": notify.AlertName, "incident": id})
	}

	// Opened: major, on web.
	in := &outbox.Incident{ID: id, Name: "Major outage: Web App", Status: incident.Investigating,
		Impact: incident.ImpactMajor, Auto: true, CreatedAt: stamp(started.Add(time.Minute)), StartedAt: stamp(started),
		Components: outbox.StringMap{"web": "major_outage"}, Names: outbox.StringMap{"web": "Web App"},
		Codes: outbox.Strings{"web"}}
	now := time.Now()
	deliver(outbox.Entry{ID: "1-0", To: []string{"am"}, Event: outbox.Event{Kind: outbox.Opened, At: stamp(now), Incident: in,
		Update: &outbox.Update{ID: id + "u1", Status: incident.Investigating, CreatedAt: stamp(now),
			Body: "Web App: major outage. Check web-home is down (status: unexpected status 503 <want 2xx>).",
			Affected: []incident.AffectedComponent{{Code: "web", Name: "Web App", OldStatus: "operational",
				NewStatus: "major_outage"}}}}})
	major := map[string]string{"alertname": notify.AlertName, "incident": id, "component": "web",
		"impact": "major", "severity": "error"}
	got := srv.WaitForAlerts(t, "the opened incident's alert", wait, func(as []amtest.Alert) bool {
		return len(ofIncident(as)) > 0
	})
	if all := ofIncident(got); len(all) != 1 || !maps.Equal(all[0].Labels, major) || all[0].State != "active" {
		t.Fatalf("after open: %+v, want one active alert labelled %v", all, major)
	}
	a := ofIncident(got)[0]
	want := map[string]string{"summary": "Major outage: Web App",
		"description":  "Web App: major outage. Check web-home is down (status: unexpected status 503 <want 2xx>).",
		"incident_url": "https://status.acme.example/incidents/" + id}
	for k, v := range want {
		if a.Annotations[k] != v {
			t.Errorf("after open: annotation %s = %q, want %q", k, a.Annotations[k], v)
		}
	}
	if !a.StartsAt.Equal(started.Truncate(time.Millisecond)) || !a.EndsAt.After(time.Now()) {
		t.Errorf("after open: startsAt %s, endsAt %s; want %s and an end still to come", a.StartsAt, a.EndsAt, started)
	}

	// Updated: critical, api joined. The alert under the old labels ends.
	up := *in
	up.Impact = incident.ImpactCritical
	up.Components = outbox.StringMap{"web": "major_outage", "api": "major_outage"}
	up.Names = outbox.StringMap{"web": "Web App", "api": "API"}
	up.Codes = outbox.Strings{"web", "api"}
	now = time.Now()
	deliver(outbox.Entry{ID: "2-0", To: []string{"am"}, Event: outbox.Event{Kind: outbox.Joined, At: stamp(now), Incident: &up,
		Prev: &outbox.Prev{Impact: incident.ImpactMajor, Status: incident.Investigating, Codes: outbox.Strings{"web"}},
		Update: &outbox.Update{ID: id + "u2", Status: incident.Investigating, CreatedAt: stamp(now),
			Body: "API: major outage. Check api-health is down (connection refused).",
			Affected: []incident.AffectedComponent{{Code: "api", Name: "API", OldStatus: "operational",
				NewStatus: "major_outage"}}}}})
	critical := map[string]string{"alertname": notify.AlertName, "incident": id, "component": "api,web",
		"impact": "critical", "severity": "critical"}
	got = srv.WaitForAlerts(t, "the alert under the new labels only", wait, func(as []amtest.Alert) bool {
		all := ofIncident(as)
		return len(all) == 1 && maps.Equal(all[0].Labels, critical)
	})
	if a := ofIncident(got)[0]; a.State != "active" || !a.EndsAt.After(time.Now()) ||
		a.Annotations["description"] != "API: major outage. Check api-health is down (connection refused)." {
		t.Errorf("after the impact change: %+v, want active with the new evidence", a)
	}
	if old := amtest.Select(got, major); len(old) != 0 {
		t.Errorf("after the impact change the major alert is still listed: %+v", old)
	}

	// Resolved: nothing of the incident stays listed.
	res := up
	res.Status, res.ResolvedAt = incident.Resolved, stamp(time.Now())
	res.Components = outbox.StringMap{"web": "operational", "api": "operational"}
	now = time.Now()
	deliver(outbox.Entry{ID: "3-0", To: []string{"am"}, Event: outbox.Event{Kind: outbox.Resolved, At: stamp(now), Incident: &res,
		Prev:   &outbox.Prev{Impact: incident.ImpactCritical, Status: incident.Monitoring, Codes: outbox.Strings{"web", "api"}},
		Update: &outbox.Update{ID: id + "u3", Status: incident.Resolved, CreatedAt: stamp(now), Body: "This incident has been resolved."}}})
	srv.WaitForAlerts(t, "no alert of the incident once resolved", wait, func(as []amtest.Alert) bool {
		return len(ofIncident(as)) == 0
	})
}
