package notify_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/notify"
	"github.com/tocsin/tocsin/outbox"
)

// queued records QueueEvent calls and queues each marker once, as the
// store does.
type queued struct {
	mu      sync.Mutex
	markers map[string]bool
	events  []string // "kind subject -> receivers"
}

func (q *queued) QueueEvent(_ context.Context, marker string, ttl time.Duration, ev outbox.Event, to []string) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.markers[marker] || len(to) == 0 || ttl <= 0 {
		return false, nil
	}
	q.markers[marker] = true
	q.events = append(q.events, string(ev.Kind)+" "+ev.Subject+" -> "+strings.Join(to, ","))
	return true, nil
}

// TestMaintenanceAndWarnings: receivers that asked (maintenance: true,
// warnings: true, and their components) get a window's start and end and
// a certificate's warning, once each however often they are asked.
func TestMaintenanceAndWarnings(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	cfg := &config.Config{
		Components: []config.Component{{ID: "web", Name: "Web"}, {ID: "db", Name: "DB"}},
		Maintenance: []config.Maintenance{{Name: "db-upgrade", Components: []string{"db"}, Start: start,
			End: start.Add(time.Hour), Message: "Database upgrade"}},
		Notify: []config.Receiver{
			{Name: "all", Type: config.ReceiverWebhook, Maintenance: true, Warnings: true},
			{Name: "web-only", Type: config.ReceiverWebhook, Maintenance: true, Warnings: true, Components: []string{"web"}},
			{Name: "quiet", Type: config.ReceiverSlack},
		},
	}
	q := &queued{markers: map[string]bool{}}
	for _, at := range []time.Duration{-time.Minute, time.Minute, 2 * time.Minute, 61 * time.Minute, 62 * time.Minute, 3 * time.Hour} {
		if err := notify.Maintenance(context.Background(), q, cfg, start.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	check := config.Check{Name: "web-tls", Component: "web"}
	notAfter := start.Add(10 * 24 * time.Hour)
	for range 3 {
		if err := notify.CertWarning(context.Background(), q, cfg, check, notAfter, start); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"maintenance_started db-upgrade -> all", "maintenance_ended db-upgrade -> all",
		"warning web-tls -> all,web-only"}
	if !slices.Equal(q.events, want) {
		t.Errorf("queued %v, want %v", q.events, want)
	}
}
