package status

import (
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/incident"
)

// TestHumanComponentStatus: the component statuses a person sets on an
// incident show on the components while it is unresolved, worst of them
// and the automatic status (docs/architecture.md), in the JSON and on the page.
func TestHumanComponentStatus(t *testing.T) {
	t.Parallel()
	at := t0.Add(-5 * time.Minute)
	manual := func(status incident.Status, web detector.ComponentStatus) incident.Incident {
		return incident.Incident{ID: "manual1", Name: "Login problems", Status: status, Impact: incident.ImpactMajor,
			CreatedAt: at, UpdatedAt: at, StartedAt: at, ByHand: true,
			Components:      map[string]detector.ComponentStatus{"web-app": web},
			HumanComponents: map[string]detector.ComponentStatus{"web-app": web},
			Updates:         []incident.Update{{ID: "manual1u1", Status: status, Body: "Looking into it.", CreatedAt: at}}}
	}
	tests := []struct {
		name string
		auto detector.ComponentStatus
		inc  incident.Incident
		want detector.ComponentStatus
	}{
		{"human worse than automatic", detector.Operational, manual(incident.Investigating, detector.PartialOutage),
			detector.PartialOutage},
		{"automatic worse than human", detector.MajorOutage, manual(incident.Identified, detector.DegradedPerformance),
			detector.MajorOutage},
		{"resolved: automatic only", detector.Operational, manual(incident.Resolved, detector.MajorOutage),
			detector.Operational},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := operationalState()
			st.Components["web-app"] = incident.ComponentState{Status: tt.auto, UpdatedAt: at}
			st.Incidents = append([]incident.Incident{tt.inc}, st.Incidents...)
			snap := mustBuild(t, Inputs{Config: testConfig(), State: st, Now: t0})
			for _, c := range componentsOf(t, snap).Components {
				if c.ID == "web-app" && c.Status != tt.want {
					t.Errorf("components.json web-app = %s, want %s", c.Status, tt.want)
				}
				if c.ID == "grp-help-desk" && c.Status != tt.want {
					t.Errorf("its group = %s, want %s", c.Status, tt.want)
				}
			}
			page, _, _ := snap.Body(pathPage)
			row := `data-component="web-app" data-status="` + string(tt.want) + `"`
			if !strings.Contains(string(page), row) {
				t.Errorf("the page does not show Web App as %s", tt.want.Label())
			}
		})
	}
}
