package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseCron parses a five-field cron expression (minute hour day-of-month
// month day-of-week). Descriptors such as @daily, @every and a CRON_TZ=
// prefix are refused: the time zone is the window's time_zone. The
// schedule's Location is time.Local, which makes Next use the location of
// the time it is given; set Location to evaluate it in a fixed zone.
func ParseCron(spec string) (*cron.SpecSchedule, error) {
	if n := len(strings.Fields(spec)); n != 5 {
		return nil, fmt.Errorf("invalid cron expression %q (want 5 fields: minute hour day-of-month month day-of-week)", spec)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %w", spec, err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("invalid cron expression %q", spec)
	}
	return ss, nil
}

// applyMaintenanceDefaults gives every recurring window without a time zone
// the page's.
func (c *Config) applyMaintenanceDefaults() {
	for i := range c.Maintenance {
		m := &c.Maintenance[i]
		if m.Cron == "" {
			continue
		}
		if m.TimeZone == "" {
			m.TimeZone = c.Page.TimeZone
		}
		// Problems are reported by validate; a bad window keeps no schedule.
		loc, err := time.LoadLocation(m.TimeZone)
		if s, perr := ParseCron(m.Cron); err == nil && perr == nil {
			s.Location = loc
			m.schedule = s
		}
	}
}

// Schedule is the parsed cron schedule of a recurring window, in its time
// zone; nil for fixed windows (and invalid ones, which Load rejects).
func (m Maintenance) Schedule() cron.Schedule {
	if m.schedule == nil {
		return nil
	}
	return m.schedule
}

func (m Maintenance) validate(p *problems, path string, ids map[string]bool) {
	if m.Name == "" {
		p.add(path+".name", "required")
	}
	if len(m.Components) == 0 {
		p.add(path+".components", "required")
	}
	for i, id := range m.Components {
		if !ids[id] {
			p.addf(fmt.Sprintf("%s.components[%d]", path, i), "unknown component %q", id)
		}
	}
	if m.Cron != "" {
		m.validateRecurring(p, path)
		return
	}
	if m.Duration != 0 {
		p.add(path+".duration", "only valid with cron")
	}
	if m.TimeZone != "" {
		p.add(path+".time_zone", "only valid with cron")
	}
	switch {
	case m.Start.IsZero():
		p.add(path+".start", "required (or cron and duration)")
	case m.End.IsZero():
		p.add(path+".end", "required")
	case !m.End.After(m.Start):
		p.add(path+".end", "must be after start")
	}
}

// validateRecurring checks a cron window.
func (m Maintenance) validateRecurring(p *problems, path string) {
	if !m.Start.IsZero() {
		p.addf(path+".cron", "cannot be combined with %s.start", path)
	}
	if !m.End.IsZero() {
		p.addf(path+".cron", "cannot be combined with %s.end", path)
	}
	if _, err := ParseCron(m.Cron); err != nil {
		p.wrap(path+".cron", "", err)
	}
	switch {
	case m.Duration == 0:
		p.add(path+".duration", "required with cron")
	case m.Duration < 0:
		p.add(path+".duration", "must be positive")
	}
	if _, err := time.LoadLocation(m.TimeZone); err != nil {
		p.addf(path+".time_zone", "unknown time zone %q", m.TimeZone)
	}
}
