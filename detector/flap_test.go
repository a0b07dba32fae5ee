package detector

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/probe"
)

// w is the weight of transition i of the full 21-result window (20
// transitions): 0.8 for the oldest, 1.2 for the newest.
func w(i int) float64 { return 0.8 + 0.4*float64(i)/19 }

func TestFlapPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		results string
		want    float64
	}{
		{"no results", "", 0},
		{"one result", "D", 0},
		{"all the same", strings.Repeat("u", 21), 0},
		{"steady failure", strings.Repeat("D", 21), 0},
		{"alternating 21", strings.Repeat("uD", 10) + "u", 100},
		{"one change at the newest position", strings.Repeat("u", 20) + "D", 100 * 1.2 / 20},
		{"one change at the oldest position", "u" + strings.Repeat("D", 20), 100 * 0.8 / 20},
		{"oldest and newest", "u" + strings.Repeat("D", 19) + "u", 100 * (0.8 + 1.2) / 20},
		{"degraded is a state of its own", strings.Repeat("u", 10) + "d" + strings.Repeat("u", 10), 100 * (w(9) + w(10)) / 20},
		{"down to degraded is a change", strings.Repeat("D", 20) + "d", 100 * 1.2 / 20},
		{"only the last 21 count", "D" + strings.Repeat("u", 21), 0},
		{"two results that differ", "uD", 100},
		{"fewer results: weights over the transitions so far", strings.Repeat("u", 10) + "D", 100 * 1.2 / 10},
		{"fewer results, oldest change", "u" + strings.Repeat("D", 10), 100 * 0.8 / 10},
		{"fewer results, middle change", "uuuuuDDDDDD", 100 * (0.8 + 0.4*4.0/9) / 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := FlapPercent(seq(tc.results)); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("FlapPercent(%s) = %v, want %v", tc.results, got, tc.want)
			}
		})
	}
}

// Sequences for the hysteresis tests, with the percent after each result
// worked out by hand: 20 alternating results cross 30% at the 10th result
// (100%, the first that may flap). Each later steady result drops the
// oldest transitions: after result 35 the window holds the 5 changes of
// results 15-20 (Σw(0..5) = 5.116, 25.6%: between low and high, so still
// flapping), after 36 four (21.05%), after 37 three (16.6% < 20: stops).
var (
	alternating = strings.Repeat("uD", 10) + "u"
	thenUp      = alternating + strings.Repeat("u", 20)
	thenDown    = alternating + strings.Repeat("D", 20)
)

func TestFlapHysteresis(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		low, high float64
		results   string
		flapping  string // after each result: F flapping, . not
		want      string // confirmed state after each result: U u d D
	}{
		{"enters at the tenth alternating result, held down", 0, 0, "uDuDuDuDuD",
			".........F", "uuuuuuuuuD"},
		{"never with fewer than 10 results", 0, 0, "uDuDuDuDu",
			".........", "uuuuuuuuu"},
		{"alternating degraded is held degraded", 0, 0, "udududududu",
			".........FF", "uuuuuuuuudd"},
		{"steady failure is not flapping", 0, 0, "u" + strings.Repeat("D", 24),
			strings.Repeat(".", 25), "uuu" + strings.Repeat("D", 22)},
		{"stays between thresholds, leaves below low, then up per thresholds", 0, 0, thenUp,
			strings.Repeat(".", 9) + strings.Repeat("F", 27) + strings.Repeat(".", 5),
			strings.Repeat("u", 9) + strings.Repeat("D", 27) + strings.Repeat("u", 5)},
		{"leaves while failing steadily: down per thresholds", 0, 0, thenDown,
			strings.Repeat(".", 9) + strings.Repeat("F", 28) + strings.Repeat(".", 4),
			strings.Repeat("u", 9) + strings.Repeat("D", 32)},
		{"spec thresholds: leaves below 50", 50, 90, thenUp,
			strings.Repeat(".", 9) + strings.Repeat("F", 20) + strings.Repeat(".", 12),
			strings.Repeat("u", 9) + strings.Repeat("D", 20) + strings.Repeat("u", 12)},
		{"spec thresholds: 100% never exceeds a high of 100", 20, 100, alternating,
			strings.Repeat(".", 21), "u" + strings.Repeat("u", 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := New()
			d.Configure([]Spec{{Name: "c", Component: "web", Impact: MajorOutage, FailureThreshold: 3, SuccessThreshold: 2,
				FlapLow: tc.low, FlapHigh: tc.high}})
			var flapping, states strings.Builder
			for _, r := range seq(tc.results) {
				d.Observe("c", r, r.Start)
				c, _ := d.Check("c")
				flapping.WriteByte(map[bool]byte{true: 'F', false: '.'}[c.Flapping])
				states.WriteByte(map[CheckStatus]byte{Unknown: 'U', Up: 'u', Degraded: 'd', Down: 'D'}[c.Status])
				if c.FlapPercent != FlapPercent(c.Recent) {
					t.Errorf("FlapPercent = %v, want %v", c.FlapPercent, FlapPercent(c.Recent))
				}
			}
			if flapping.String() != tc.flapping {
				t.Errorf("flapping = %s\n           want %s", flapping.String(), tc.flapping)
			}
			if states.String() != tc.want {
				t.Errorf("states = %s\n         want %s", states.String(), tc.want)
			}
		})
	}
}

func TestFlapStaysBetweenThresholds(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web", FailureThreshold: 3, SuccessThreshold: 2}})
	for _, r := range seq(thenUp[:35]) {
		d.Observe("c", r, r.Start)
	}
	c, _ := d.Check("c")
	want := 100 * (w(0) + w(1) + w(2) + w(3) + w(4) + w(5)) / 20
	if math.Abs(c.FlapPercent-want) > 1e-9 || c.FlapPercent <= DefaultFlapLow || c.FlapPercent >= DefaultFlapHigh {
		t.Fatalf("percent = %v, want %v (between the thresholds)", c.FlapPercent, want)
	}
	if !c.Flapping || c.Status != Down {
		t.Errorf("flapping %v status %s, want still flapping, held down", c.Flapping, c.Status)
	}
}

// TestFlapChanges checks the reported changes and that the verdict's Detail
// changes exactly when flapping starts and stops: one incident update each.
func TestFlapChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		results     string
		wantChanges []Change
		wantDetails []string // each distinct Detail, in order
		detailAt    []int    // the result (1-based) that changed it
	}{
		{"recovers", thenUp,
			[]Change{
				{Check: "c", From: Unknown, To: Up},
				{Check: "c", From: Up, To: Down, Flapping: true},
				{Check: "c", From: Down, To: Up, WasFlapping: true},
			},
			[]string{"", "c=down~flapping", ""}, []int{1, 10, 37}},
		{"stays down", thenDown,
			[]Change{
				{Check: "c", From: Unknown, To: Up},
				{Check: "c", From: Up, To: Down, Flapping: true},
				{Check: "c", From: Down, To: Down, WasFlapping: true},
			},
			[]string{"", "c=down~flapping", "c=down"}, []int{1, 10, 38}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := New()
			d.Configure([]Spec{{Name: "c", Component: "web", Impact: MajorOutage, FailureThreshold: 3, SuccessThreshold: 2}})
			var changes []Change
			var details []string
			var at []int
			for i, r := range seq(tc.results) {
				if ch, ok := d.Observe("c", r, r.Start); ok {
					changes = append(changes, ch)
				}
				if det := d.Component("web").Detail(); len(details) == 0 || det != details[len(details)-1] {
					details, at = append(details, det), append(at, i+1)
				}
			}
			if !equal(changes, tc.wantChanges) {
				t.Errorf("changes = %+v\nwant %+v", changes, tc.wantChanges)
			}
			if !equal(details, tc.wantDetails) || !equal(at, tc.detailAt) {
				t.Errorf("details = %q at %v, want %q at %v", details, at, tc.wantDetails, tc.detailAt)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFlappingVerdict checks that a flapping check's verdict is failing
// even when its latest result is good, and that its trouble began with the
// oldest bad result in the window.
func TestFlappingVerdict(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web", Impact: PartialOutage, FailureThreshold: 3, SuccessThreshold: 2}})
	for _, r := range seq(alternating) { // ends with an up result
		d.Observe("c", r, r.Start)
	}
	v := d.Component("web")
	want := []Failing{{Check: "c", Status: Down, Flapping: true}}
	if v.Status != PartialOutage || !equal(v.Failing, want) || !v.BadSince.Equal(t0.Add(time.Second)) {
		t.Errorf("verdict = %+v, want partial outage, %+v, bad since %v", v, want, t0.Add(time.Second))
	}
	if c, _ := d.Check("c"); c.Last.Status != probe.StatusUp || !c.BadSince.IsZero() {
		t.Errorf("check last %s badSince %v: the check's own bad run has ended", c.Last.Status, c.BadSince)
	}
}
