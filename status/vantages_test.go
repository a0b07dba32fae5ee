package status

import (
	"bytes"
	"testing"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/probe"
)

// TestCheckObjectWithVantages: with vantages a check object lists every
// vantage's state, the worst at the top, and changes when any vantage's
// state changed, the worst or another, and only then.
func TestCheckObjectWithVantages(t *testing.T) {
	t.Parallel()
	cfg := benchConfig(t, 3)
	cfg.Vantages = []string{"eu", "us"}
	state := func(status detector.CheckStatus, at time.Duration) detector.Check {
		r := probe.Result{Status: probe.StatusUp, Start: t0.Add(-time.Minute + at), Duration: time.Millisecond}
		if status == detector.Down {
			r.Status, r.Reason = probe.StatusDown, probe.ReasonTimeout
		}
		return detector.Check{Spec: detector.Spec{Name: "check-00000", Component: "comp-00"}, Status: status,
			Since: r.Start, Last: r, Recent: []detector.Sample{detector.SampleOf(r)}}
	}
	in := Inputs{Config: cfg, Now: t0, Checks: ptrs([]detector.Check{state(detector.Up, time.Second), state(detector.Up, 2*time.Second)}),
		CheckVantages: []string{"eu", "us"}}
	first, err := build(t.Context(), in, buildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj := func(s *Snapshot) []byte {
		b, ok := s.checks.get("check-00000")
		if !ok {
			t.Fatal("no object for check-00000")
		}
		return b.bytes()
	}
	if b := obj(first); !bytes.Contains(b, []byte(`"vantages":[{"vantage":"eu","status":"up"`)) ||
		!bytes.Contains(b, []byte(`{"vantage":"us","status":"up"`)) {
		t.Fatalf("first build: %s", b)
	}
	same, err := build(t.Context(), in, buildOptions{prev: first})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(obj(same), obj(first)) {
		t.Errorf("nothing changed, yet the object differs:\n%s\n%s", obj(same), obj(first))
	}
	in.Checks = ptrs([]detector.Check{state(detector.Up, time.Second), state(detector.Down, 3*time.Second)})
	later, err := build(t.Context(), in, buildOptions{prev: same})
	if err != nil {
		t.Fatal(err)
	}
	if b := obj(later); !bytes.Contains(b, []byte(`"status":"down"`)) || !bytes.Contains(b, []byte(`{"vantage":"us","status":"down"`)) {
		t.Errorf("us down: the object was not encoded again, or not the worst at the top:\n%s", b)
	}
	// A change of a vantage that is not the worst: the top is the same
	// (us, down), the object still changes.
	in.Checks = ptrs([]detector.Check{state(detector.Up, 4*time.Second), state(detector.Down, 3*time.Second)})
	again, err := build(t.Context(), in, buildOptions{prev: later})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(obj(again), obj(later)) {
		t.Errorf("eu's new result left the object as it was:\n%s", obj(again))
	}
}
