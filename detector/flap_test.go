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
			if got := FlapPercent(Samples(seq(tc.results))); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("FlapPercent(%s) = %v, want %v", tc.results, got, tc.want)
			}
		})
	}
}

// Sequences for the hysteresis tests. 20 alternating results cross the
// high threshold of 30% at the 10th result (100%, the first that may
// flap). The window (21 results) still holds two changes until result
// 39; at 40 (thenUp) it holds one, between results 20 and 21, the oldest
// transition: 0.8/20 = 4% < 5%, so flapping stops there. thenDown's last
// change is between results 21 and 22, and leaves at 41 alike.
var (
	alternating = strings.Repeat("uD", 10) + "u"
	thenUp      = alternating + strings.Repeat("u", 20)
	thenDown    = alternating + strings.Repeat("D", 20)
	// steady is a full window of up results, so that what follows it is
	// weighed over 20 transitions.
	steady = strings.Repeat("u", 21)
	// relapseThenUp fails (3), recovers (2), relapses, stays down for 15
	// results in all, then is up for 11.
	relapseThenUp = steady + "DDDuuD" + strings.Repeat("D", 14) + strings.Repeat("u", 11)
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
		{"one outage through degraded and down, then up, is not flapping", 0, 0, "uuuuddDuuu",
			"..........", "uuuuuudduu"},
		{"alternating degraded is held degraded", 0, 0, "udududududu",
			".........FF", "uuuuuuuuudd"},
		{"steady failure is not flapping", 0, 0, "u" + strings.Repeat("D", 24),
			strings.Repeat(".", 25), "uuu" + strings.Repeat("D", 22)},
		{"held until one change is left, 20 results after the last but one", 0, 0, thenUp,
			strings.Repeat(".", 9) + strings.Repeat("F", 30) + "..",
			strings.Repeat("u", 9) + strings.Repeat("D", 30) + "uu"},
		{"leaves while failing steadily: down per thresholds", 0, 0, thenDown,
			strings.Repeat(".", 9) + strings.Repeat("F", 31) + ".",
			strings.Repeat("u", 9) + strings.Repeat("D", 32)},
		{"a low threshold above one change's weight still waits for one change", 50, 90, thenUp,
			strings.Repeat(".", 9) + strings.Repeat("F", 30) + "..",
			strings.Repeat("u", 9) + strings.Repeat("D", 30) + "uu"},
		// A relapse, a failure of 15 results, then up: the window holds one
		// change from the 6th up result. The default low (5%) wants that
		// change 11 results old; a low of 50 lets go at once.
		{"the default low: steady means 11 results since the one change left", 0, 0, relapseThenUp,
			strings.Repeat(".", 27) + strings.Repeat("F", 24) + ".",
			strings.Repeat("u", 23) + "DDuu" + strings.Repeat("D", 24) + "u"},
		{"a low of 50: steady as soon as one change is left", 50, 90, relapseThenUp,
			strings.Repeat(".", 27) + strings.Repeat("F", 19) + strings.Repeat(".", 6),
			strings.Repeat("u", 23) + "DDuu" + strings.Repeat("D", 19) + strings.Repeat("u", 6)},
		{"spec thresholds: 100% never exceeds a high of 100", 20, 100, "uDuDuDuDuDuDuDuDuDuDu",
			strings.Repeat(".", 21), strings.Repeat("u", 21)},
		// The relapse rule: f=3 bad results, s=2 up results in a row, then
		// two bad results in a row flap at once, whatever the percent.
		{"a relapse after a recovery flaps at once", 0, 0, "uuuDDDuuDD",
			".........F", "uuuuuDDuuD"},
		{"one bad result after a recovery is a blip", 0, 0, steady + "DDDuuDuuu",
			strings.Repeat(".", 30), strings.Repeat("u", 23) + "DD" + strings.Repeat("u", 5)},
		{"a relapse at the degraded level is held degraded", 0, 0, "uuuddduudd",
			".........F", "uuuuudduud"},
		{"down, better, down again flaps at the down level", 0, 0, "uuuDDDddDD",
			".........F", "uuuuuDDddD"},
		{"an up result between failures is no recovery", 0, 0, steady + "DDDuDDD",
			strings.Repeat(".", 28), strings.Repeat("u", 23) + "DDDDD"},
		{"the failure may be spread over the window", 0, 0, steady + "DDuuDuuuuDD",
			strings.Repeat(".", 31) + "F", strings.Repeat("u", 31) + "D"},
		{"blips without a failure are no relapse", 0, 0, steady + "DuuuuuDuuuuu",
			strings.Repeat(".", 33), strings.Repeat("u", 33)},
		{"a relapse holds in spite of a high threshold of 100", 20, 100, "uuuDDDuuDD",
			".........F", "uuuuuDDuuD"},
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

// TestFlapHeldWhileChangesRemain: bursts of 8 change state in about 12% of
// results, below a low threshold of 50, yet a check that keeps relapsing is
// held: flapping only stops once the window holds a single change.
func TestFlapHeldWhileChangesRemain(t *testing.T) {
	t.Parallel()
	d := New()
	d.Configure([]Spec{{Name: "c", Component: "web", Impact: MajorOutage, FailureThreshold: 3, SuccessThreshold: 2,
		FlapLow: 50, FlapHigh: 90}})
	bursts := steady + strings.Repeat(strings.Repeat("D", 8)+strings.Repeat("u", 8), 4)
	rs := seq(bursts + strings.Repeat("u", 30))
	firstRelapse := len(steady) + 18 // the second D after the first burst of ups
	minPercent := 100.0
	for i, r := range rs {
		d.Observe("c", r, r.Start)
		c, _ := d.Check("c")
		n := i + 1
		switch {
		case n < firstRelapse && c.Flapping:
			t.Fatalf("result %d: flapping before the relapse", n)
		case n >= firstRelapse && n < len(bursts) && (!c.Flapping || c.Status != Down):
			t.Fatalf("result %d: flapping %v, status %s; want held down while the bursts go on", n, c.Flapping, c.Status)
		case n >= firstRelapse && n < len(bursts):
			minPercent = min(minPercent, c.FlapPercent)
		}
	}
	if minPercent >= 50 {
		t.Errorf("lowest percent while held %v: the bursts were meant to sit below the low threshold", minPercent)
	}
	if c, _ := d.Check("c"); c.Flapping || c.Status != Up {
		t.Errorf("after 30 up results: flapping %v, status %s; want steady and up", c.Flapping, c.Status)
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
			[]string{"", "c=down~flapping", ""}, []int{1, 10, 40}},
		{"stays down", thenDown,
			[]Change{
				{Check: "c", From: Unknown, To: Up},
				{Check: "c", From: Up, To: Down, Flapping: true},
				{Check: "c", From: Down, To: Down, WasFlapping: true},
			},
			[]string{"", "c=down~flapping", "c=down"}, []int{1, 10, 41}},
		{"relapses: one recovery, then held until steady", relapseThenUp,
			[]Change{
				{Check: "c", From: Unknown, To: Up},
				{Check: "c", From: Up, To: Down},
				{Check: "c", From: Down, To: Up},
				{Check: "c", From: Up, To: Down, Flapping: true},
				{Check: "c", From: Down, To: Up, WasFlapping: true},
			},
			[]string{"", "c=down", "", "c=down~flapping", ""}, []int{1, 24, 26, 28, 52}},
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
