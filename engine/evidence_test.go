package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// TestEvidenceFigures: an update carries the figures of the latest probe,
// and says when they come from a probe that passed while the check is
// still confirmed failing; the recovery update carries the queue's drain
// figures (issue 13: no stale "growing" while the queue drains).
func TestEvidenceFigures(t *testing.T) {
	t.Parallel()
	comp := config.Component{ID: "jobs", Name: "Background Jobs"}
	checks := []*config.Check{{Name: "mailers-queue", Component: "jobs", Type: "queue"}}
	rate, eta := -25.0, 8*time.Second
	draining := probe.Result{Status: probe.StatusUp, Message: "mailers: 200 items, draining at 25/s, about 8s to drain",
		Queue: &probe.QueueStats{Depth: 200, RatePerSecond: &rate, DrainETA: &eta}}
	tests := []struct {
		name   string
		v      detector.Verdict
		check  detector.Check
		want   []string
		reject []string
	}{
		{"recovering, not yet confirmed",
			detector.Verdict{Status: detector.MajorOutage, Failing: []detector.Failing{{Check: "mailers-queue", Status: detector.Down}}},
			detector.Check{Spec: detector.Spec{Name: "mailers-queue"}, Status: detector.Down, Last: draining},
			[]string{"Check mailers-queue is down, recovering: its last probe was up", "draining at 25/s, about 8s to drain"},
			nil},
		{"recovered",
			detector.Verdict{Status: detector.Operational},
			detector.Check{Spec: detector.Spec{Name: "mailers-queue"}, Status: detector.Up, Last: draining},
			[]string{"Background Jobs is operational again", "mailers: 200 items, draining at 25/s, about 8s to drain."},
			[]string{"growing"}},
		{"recovered with the rule that fired left out",
			detector.Verdict{Status: detector.Operational},
			detector.Check{Spec: detector.Spec{Name: "mailers-queue"}, Status: detector.Up, Last: probe.Result{Status: probe.StatusUp,
				Message: "mailers: 3 items — at or over degraded_depth (2)", Queue: &probe.QueueStats{Depth: 3}}},
			[]string{"mailers: 3 items."}, []string{"degraded_depth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := evidence(comp, checks, tt.v, func(string) (detector.Check, bool) { return tt.check, true })
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, r := range tt.reject {
				if strings.Contains(got, r) {
					t.Errorf("%q has %q", got, r)
				}
			}
		})
	}
}
