package incident_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/incident"
)

func TestHumanValidate(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ok := incident.ManualIncident{Name: "Login down", Body: "Looking.", At: at,
		Components: map[string]incident.ComponentStatus{"web": "major_outage"}}
	for _, tc := range []struct {
		name string
		edit func(m *incident.ManualIncident)
		want string // "" = valid
	}{
		{"valid", func(*incident.ManualIncident) {}, ""},
		{"identified", func(m *incident.ManualIncident) { m.Status = incident.Identified }, ""},
		{"no name", func(m *incident.ManualIncident) { m.Name = " " }, "name: required"},
		{"long name", func(m *incident.ManualIncident) { m.Name = strings.Repeat("n", 256) }, "name: longer"},
		{"resolved", func(m *incident.ManualIncident) { m.Status = incident.Resolved }, "status:"},
		{"no body", func(m *incident.ManualIncident) { m.Body = "" }, "body: required"},
		{"long body", func(m *incident.ManualIncident) { m.Body = strings.Repeat("b", 10001) }, "body: longer"},
		{"bad component", func(m *incident.ManualIncident) { m.Components["api"] = "down" }, "components.api"},
		{"empty component id", func(m *incident.ManualIncident) { m.Components[""] = "major_outage" }, "component id"},
		{"bad impact", func(m *incident.ManualIncident) { m.Impact = "huge" }, "impact:"},
		{"zero time", func(m *incident.ManualIncident) { m.At = time.Time{} }, "at:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := ok
			m.Components = map[string]incident.ComponentStatus{"web": "major_outage"}
			tc.edit(&m)
			err := m.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	u := incident.HumanUpdate{Status: incident.Monitoring, Body: "Fix deployed.", At: at}
	if err := u.Validate(); err != nil {
		t.Errorf("valid update: %v", err)
	}
	u.Status = "fixed"
	if err := u.Validate(); err == nil || !strings.Contains(err.Error(), "status:") {
		t.Errorf("bad status: %v", err)
	}
}
