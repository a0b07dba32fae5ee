package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
)

// checkReport is what `tocsin check` says of one run, as text (the
// default) or as one JSON object (--output json) for scripts.
type checkReport struct {
	Check     string `json:"check"`
	Type      string `json:"type"`
	Component string `json:"component"`
	// Target is what was probed, without credentials (config.Check.Target).
	Target        string             `json:"target,omitempty"`
	Status        string             `json:"status"` // up, degraded, down or unknown
	Reason        probe.Reason       `json:"reason,omitempty"`
	Message       string             `json:"message,omitempty"`
	StatusCode    int                `json:"status_code,omitempty"`
	DurationMS    float64            `json:"duration_ms"`
	PhasesMS      map[string]float64 `json:"phases_ms,omitempty"`
	phases        []probe.Phase      // in order, for the text
	duration      time.Duration
	CertExpiresAt *time.Time      `json:"cert_expires_at,omitempty"`
	Warnings      []probe.Warning `json:"warnings,omitempty"`
	// Heartbeat is a heartbeat check's evidence: the stored beats.
	Heartbeat *heartbeatReport `json:"heartbeat,omitempty"`
}

// heartbeatReport is the evidence a heartbeat check was judged on.
type heartbeatReport struct {
	Source       string     `json:"source"`
	LastSuccess  *time.Time `json:"last_success"`
	LastFail     *time.Time `json:"last_fail"`
	LastStart    *time.Time `json:"last_start"`
	FirstSeen    *time.Time `json:"first_seen"`
	LastLog      *time.Time `json:"last_log"`
	LogMessage   string     `json:"log_message,omitempty"`   // the latest /log's`
	DaemonStatus string     `json:"daemon_status,omitempty"` // its confirmed state, thresholds applied
	DaemonSince  *time.Time `json:"daemon_since,omitempty"`
	now          time.Time
}

// newReport is the report of check c's result r; sc scrubs secrets from
// the message and the target.
func newReport(c config.Check, r probe.Result, sc *scrubber) *checkReport {
	rep := &checkReport{Check: c.Name, Type: c.Type, Component: c.Component, Target: sc.scrub(c.Target()),
		Status: string(r.Status), Reason: r.Reason, Message: sc.scrub(r.Message), StatusCode: r.StatusCode,
		DurationMS: millis(r.Duration), duration: r.Duration, phases: r.Phases, Warnings: r.Warnings}
	if len(r.Phases) > 0 {
		rep.PhasesMS = map[string]float64{}
		for _, ph := range r.Phases {
			rep.PhasesMS[ph.Name] = millis(ph.Duration)
		}
	}
	if !r.CertNotAfter.IsZero() {
		rep.CertExpiresAt = utc(r.CertNotAfter)
	}
	for i := range rep.Warnings {
		rep.Warnings[i].Message = sc.scrub(rep.Warnings[i].Message)
	}
	return rep
}

// unknownReport is the report of a check that cannot be judged from here.
func unknownReport(c config.Check, why string) *checkReport {
	return &checkReport{Check: c.Name, Type: c.Type, Component: c.Component, Status: "unknown", Message: why}
}

// write prints the report as text or, with asJSON, as one JSON object.
func (rep *checkReport) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "check:    %s (%s, component %s)\n", rep.Check, rep.Type, rep.Component)
	if rep.Target != "" {
		fmt.Fprintf(w, "target:   %s\n", rep.Target)
	}
	fmt.Fprintf(w, "status:   %s\n", rep.Status)
	if rep.Reason != probe.ReasonNone {
		fmt.Fprintf(w, "reason:   %s\n", rep.Reason)
	}
	if rep.Message != "" {
		fmt.Fprintf(w, "message:  %s\n", rep.Message)
	}
	if rep.Status == "unknown" && rep.Heartbeat == nil {
		return nil
	}
	if rep.StatusCode != 0 {
		fmt.Fprintf(w, "code:     %d\n", rep.StatusCode)
	}
	fmt.Fprintf(w, "duration: %s\n", rep.duration.Round(time.Microsecond))
	for _, ph := range rep.phases {
		fmt.Fprintf(w, "  %-11s %s\n", ph.Name, ph.Duration.Round(time.Microsecond))
	}
	if rep.CertExpiresAt != nil {
		fmt.Fprintf(w, "cert:     expires %s\n", rep.CertExpiresAt.Format(time.RFC3339))
	}
	for _, wn := range rep.Warnings {
		fmt.Fprintf(w, "warning:  %s: %s\n", wn.Reason, wn.Message)
	}
	if hb := rep.Heartbeat; hb != nil {
		fmt.Fprintf(w, "source:   %s\n", hb.Source)
		for _, t := range []struct {
			label string
			at    *time.Time
		}{{"success:", hb.LastSuccess}, {"fail:", hb.LastFail}, {"start:", hb.LastStart}, {"watched:", hb.FirstSeen}} {
			fmt.Fprintf(w, "%-10s%s\n", t.label, ago(t.at, hb.now))
		}
		if hb.LastLog != nil {
			fmt.Fprintf(w, "log:      %s: %s\n", ago(hb.LastLog, hb.now), strings.ReplaceAll(hb.LogMessage, "\n", "\n          "))
		}
		if hb.DaemonStatus != "" {
			fmt.Fprintf(w, "daemon:   %s since %s (its confirmed state, thresholds applied)\n",
				hb.DaemonStatus, hb.DaemonSince.Format(time.RFC3339))
		}
	}
	return nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// utc is t in UTC, nil for the zero time (null in JSON).
func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// ago describes a stored time relative to now: "12s ago (2026-…Z)", or
// "never" for none.
func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return fmt.Sprintf("%s ago (%s)", now.Sub(*t).Round(time.Second), t.Format(time.RFC3339))
}
