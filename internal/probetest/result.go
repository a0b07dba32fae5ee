package probetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Within runs one probe (a prober's Probe method) with a deadline of d.
func Within[R any](t testing.TB, probe func(context.Context) R, d time.Duration) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return probe(ctx)
}

// CheckStoppedAtDeadline fails unless a probe given a context with timeout
// was ended by that deadline: it ran at least about timeout (its start is
// a moment after the context's) and stopped long before any later
// deadline it could wrongly obey, the nearest being later (the probe's
// DefaultTimeout). The servers in these tests stall or trickle forever, so
// only a deadline ends the probe; how soon after it the probe returns is up
// to the scheduler — hundreds of milliseconds late on a busy CI machine,
// under -race — so the upper bound is not a tolerance around timeout.
func CheckStoppedAtDeadline(t testing.TB, d, timeout, later time.Duration) {
	t.Helper()
	if d < timeout*9/10 || d >= later/2 {
		t.Errorf("Duration = %v, want at least %v (the deadline) and under %v (before any later one)",
			d, timeout*9/10, later/2)
	}
}

// result is what the checks below read of a probe.Result, from the JSON
// form its tags give it.
type result struct {
	Status   string        `json:"status"`
	Reason   string        `json:"reason"`
	Message  string        `json:"message"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Phases   []struct {
		Name string `json:"name"`
	} `json:"phases"`
	Warnings []warning `json:"warnings"`
}

// warning is a probe.Warning.
type warning struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// read decodes res, a probe.Result.
func read(t testing.TB, res any) result {
	t.Helper()
	b, err := json.Marshal(res)
	var r result
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		t.Fatalf("read %T: %v", res, err)
	}
	return r
}

// CheckResult compares the verdict of res, a probe.Result, and
// sanity-checks the bookkeeping.
func CheckResult[S, R ~string](t testing.TB, res any, status S, reason R, msg string) {
	t.Helper()
	r := read(t, res)
	if r.Status != string(status) || r.Reason != string(reason) {
		t.Errorf("got %s/%q (%q), want %s/%q", r.Status, r.Reason, r.Message, status, reason)
	}
	if !strings.Contains(r.Message, msg) {
		t.Errorf("Message = %q, want it to contain %q", r.Message, msg)
	}
	if string(status) == "up" && r.Message != "" {
		t.Errorf("up with a message: %q", r.Message)
	}
	if r.Start.IsZero() || r.Duration <= 0 {
		t.Errorf("Start = %v, Duration = %v; want both set", r.Start, r.Duration)
	}
}

// PhaseNames lists the names of the phases of res, a probe.Result.
func PhaseNames(t testing.TB, res any) []string {
	t.Helper()
	var names []string
	for _, p := range read(t, res).Phases {
		names = append(names, p.Name)
	}
	return names
}

// CheckWarning checks that res, a probe.Result, carries one certificate
// warning containing msg, or none when msg is "".
func CheckWarning(t testing.TB, res any, msg string) {
	t.Helper()
	ws := read(t, res).Warnings
	switch {
	case msg == "" && len(ws) > 0:
		t.Errorf("Warnings = %v, want none", ws)
	case msg != "" && (len(ws) != 1 || ws[0].Reason != "cert_expiry" ||
		!strings.Contains(ws[0].Message, msg)):
		t.Errorf("Warnings = %v, want one cert_expiry warning containing %q", ws, msg)
	}
}
