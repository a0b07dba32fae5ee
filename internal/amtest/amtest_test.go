package amtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/internal/amtest"
)

// postable is an alert as POST /api/v2/alerts takes it.
type postable struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    string            `json:"startsAt,omitempty"`
	EndsAt      string            `json:"endsAt,omitempty"`
}

// post does what `curl -d @alerts.json $URL/api/v2/alerts` does.
func post(t *testing.T, srv *amtest.Server, alerts ...postable) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatalf("post alerts: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post alerts: HTTP %d: %s", resp.StatusCode, answer)
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func TestAmtestServerListsAndEndsAlerts(t *testing.T) {
	t.Parallel()
	srv := amtest.Start(t)
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:PORT", srv.URL())
	}
	if got := srv.Alerts(t); len(got) != 0 {
		t.Fatalf("a fresh Alertmanager lists %+v", got)
	}

	start := time.Now().Add(-time.Minute)
	open := map[string]string{"alertname": "AmtestOpen", "team": "core"}
	soon := map[string]string{"alertname": "AmtestSoon"}
	ended := map[string]string{"alertname": "AmtestEnded"}
	soonEnd := time.Now().Add(2 * time.Second)
	post(t, srv,
		postable{Labels: open, Annotations: map[string]string{"summary": "it broke"}, StartsAt: stamp(start)},
		postable{Labels: soon, StartsAt: stamp(start), EndsAt: stamp(soonEnd)},
		postable{Labels: ended, StartsAt: stamp(start), EndsAt: stamp(time.Now().Add(-time.Second))},
	)
	got := srv.WaitForAlerts(t, "AmtestOpen and AmtestSoon listed", 10*time.Second, func(as []amtest.Alert) bool {
		return len(amtest.Select(as, open)) == 1 && len(amtest.Select(as, soon)) == 1
	})
	a := amtest.Select(got, open)[0]
	if a.State != "active" || a.Annotations["summary"] != "it broke" || !a.StartsAt.Equal(start.Truncate(time.Millisecond)) {
		t.Errorf("open alert = %+v, want active, summary \"it broke\", startsAt %s", a, start)
	}
	// Without endsAt, Alertmanager ends the alert after resolve_timeout (5m).
	if d := time.Until(a.EndsAt); d < 4*time.Minute || d > 6*time.Minute {
		t.Errorf("open alert's endsAt is %s from now, want about resolve_timeout (5m)", d)
	}
	if b := amtest.Select(got, soon)[0]; b.State != "active" || !b.EndsAt.Equal(soonEnd.Truncate(time.Millisecond)) {
		t.Errorf("alert with a future endsAt = %+v, want active until %s", b, soonEnd)
	}
	// Posted already ended: accepted, never listed.
	if e := amtest.Select(got, ended); len(e) != 0 {
		t.Errorf("an alert posted already ended is listed: %+v", e)
	}

	// Resolving: endsAt in the past makes the alert vanish from the list.
	post(t, srv, postable{Labels: open, StartsAt: stamp(start), EndsAt: stamp(time.Now())})
	srv.WaitForAlerts(t, "AmtestOpen gone once resolved", 10*time.Second, func(as []amtest.Alert) bool {
		return len(amtest.Select(as, open)) == 0
	})
	// A future endsAt passes without another post: gone too.
	srv.WaitForAlerts(t, "AmtestSoon gone after its endsAt", 15*time.Second, func(as []amtest.Alert) bool {
		return len(as) == 0
	})
	// The labels of a resolved alert posted again: a new alert.
	restart := time.Now().Add(-time.Second)
	post(t, srv, postable{Labels: open, StartsAt: stamp(restart)})
	got = srv.WaitForAlerts(t, "AmtestOpen listed again", 10*time.Second, func(as []amtest.Alert) bool {
		return len(amtest.Select(as, open)) == 1
	})
	if a := amtest.Select(got, open)[0]; a.State != "active" || !a.StartsAt.Equal(restart.Truncate(time.Millisecond)) {
		t.Errorf("alert posted again after its end = %+v, want active from %s", a, restart)
	}

	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/-/ready", nil)
	if resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req); err == nil {
		resp.Body.Close()
		t.Error("Alertmanager still answers after Stop")
	}
	srv.Stop() // a second Stop does nothing
}

func TestAmtestParallelServers(t *testing.T) {
	t.Parallel()
	a := amtest.Start(t)
	b := amtest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers on %s", a.Addr())
	}
	labels := map[string]string{"alertname": "AmtestOnlyA"}
	post(t, a, postable{Labels: labels})
	a.WaitForAlerts(t, "AmtestOnlyA on a", 10*time.Second, func(as []amtest.Alert) bool {
		return len(amtest.Select(as, labels)) == 1
	})
	if got := b.Alerts(t); len(got) != 0 {
		t.Errorf("b lists a's alert: %+v", got)
	}
}
