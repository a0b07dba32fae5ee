package notify

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/maintenance"
	"github.com/tocsin/tocsin/outbox"
)

// endedRecently is how long after a maintenance window ended its end is
// still reported: a replica started later does not report old windows.
const endedRecently = 10 * time.Minute

// Queuer queues a non-incident event once across the replicas;
// redisstore.Store is one.
type Queuer interface {
	QueueEvent(ctx context.Context, marker string, ttl time.Duration, ev outbox.Event, to []string) (bool, error)
}

// receiversFor are the receivers of cfg that take kind about one of comps.
func receiversFor(cfg *config.Config, kind outbox.Kind, comps []string) []string {
	var out []string
	for _, r := range cfg.Notify {
		ks, _ := Kinds(r)
		if !slices.Contains(ks, kind) {
			continue
		}
		if len(r.Components) > 0 && !slices.ContainsFunc(comps, func(c string) bool { return slices.Contains(r.Components, c) }) {
			continue
		}
		out = append(out, r.Name)
	}
	return out
}

// Maintenance queues, once across the replicas, the start of every
// maintenance window of cfg in progress at now and the end of every one
// that ended in the last endedRecently, for the receivers that asked.
func Maintenance(ctx context.Context, q Queuer, cfg *config.Config, now time.Time) error {
	for _, m := range cfg.Maintenance {
		prev, cur, _ := maintenance.Occurrences(m, now)
		if cur != nil {
			ev := outbox.Event{Kind: outbox.MaintenanceStarted, Subject: cur.Name, Components: cur.Components,
				Body: maintenanceBody(cur, "started")}
			marker := "maint:" + cur.Name + ":" + strconv.FormatInt(cur.Start.Unix(), 10) + ":started"
			if _, err := q.QueueEvent(ctx, marker, cur.End.Sub(now)+time.Hour, ev,
				receiversFor(cfg, outbox.MaintenanceStarted, cur.Components)); err != nil {
				return err
			}
		}
		if prev != nil && now.Sub(prev.End) < endedRecently {
			ev := outbox.Event{Kind: outbox.MaintenanceEnded, Subject: prev.Name, Components: prev.Components,
				Body: maintenanceBody(prev, "ended")}
			marker := "maint:" + prev.Name + ":" + strconv.FormatInt(prev.Start.Unix(), 10) + ":ended"
			if _, err := q.QueueEvent(ctx, marker, 2*endedRecently, ev,
				receiversFor(cfg, outbox.MaintenanceEnded, prev.Components)); err != nil {
				return err
			}
		}
	}
	return nil
}

func maintenanceBody(w *maintenance.Window, what string) string {
	s := fmt.Sprintf("Maintenance %q %s: %s to %s UTC, covering %v.", w.Name, what,
		w.Start.UTC().Format("Jan 2 15:04"), w.End.UTC().Format("Jan 2 15:04"), w.Components)
	if w.Message != "" {
		s += " " + w.Message
	}
	return s
}

// CertWarning queues, once per certificate across the replicas, a private
// warning that check's TLS certificate expires at notAfter, for the
// receivers that asked for warnings.
func CertWarning(ctx context.Context, q Queuer, cfg *config.Config, check config.Check, notAfter, now time.Time) error {
	to := receiversFor(cfg, outbox.Warning, []string{check.Component})
	if len(to) == 0 {
		return nil
	}
	ev := outbox.Event{Kind: outbox.Warning, Subject: check.Name, Components: []string{check.Component},
		Body: fmt.Sprintf("The TLS certificate of check %s (component %s) expires on %s UTC, in %s.",
			check.Name, check.Component, notAfter.UTC().Format("Jan 2 2006 15:04"),
			notAfter.Sub(now).Round(time.Hour))}
	marker := "cert:" + check.Name + ":" + strconv.FormatInt(notAfter.Unix(), 10)
	_, err := q.QueueEvent(ctx, marker, max(notAfter.Sub(now), 0)+24*time.Hour, ev, to)
	return err
}
