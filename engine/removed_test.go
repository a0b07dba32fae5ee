package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/incident"
)

// TestRemovedChecksAreNoRecovery: a valid reload that removes a failing
// check (its component stays) or a failing component tells the incident so,
// and neither the update nor the resolve claims a recovery (issue 13).
func TestRemovedChecksAreNoRecovery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		edit     func(*config.Config)
		wantBody []string
		resolved string
	}{
		{"the component's only failing check", func(c *config.Config) {
			c.Checks = c.Checks[1:] // web-home goes; web stays with no check
		}, []string{"The failing check web-home of Web App left monitoring", "Web App has no checks left"},
			"Web App's check web-home left monitoring before recovering"},
		{"the component", func(c *config.Config) {
			c.Components, c.Checks = c.Components[1:], c.Checks[1:]
		}, []string{"Web App was removed from monitoring; its recovery is not confirmed."},
			"Web App left monitoring before recovering"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.feed("web-home", "uDD")
			f.feed("api-health", "u")
			next := *f.cfg
			next.Components = append([]config.Component(nil), f.cfg.Components...)
			next.Checks = append([]config.Check(nil), f.cfg.Checks...)
			tt.edit(&next)
			f.eng.Configure(&next)
			f.eng.flush(context.Background())
			inc := f.state(t).Incidents[0]
			if inc.Status != incident.Monitoring {
				t.Fatalf("status %s, want monitoring", inc.Status)
			}
			last := inc.Updates[len(inc.Updates)-1].Body
			if strings.Contains(last, "operational again") {
				t.Errorf("update claims a recovery: %q", last)
			}
			for _, want := range tt.wantBody {
				if !strings.Contains(last, want) {
					t.Errorf("update %q lacks %q", last, want)
				}
			}
			f.clk.add(5 * time.Minute)
			f.eng.tick(context.Background())
			inc = f.state(t).Incidents[0]
			if got := inc.Updates[len(inc.Updates)-1].Body; inc.Status != incident.Resolved || !strings.Contains(got, tt.resolved) {
				t.Errorf("%s: %q, want resolved saying %q", inc.Status, got, tt.resolved)
			}
		})
	}
}
