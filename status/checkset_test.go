package status

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/tocsin/tocsin/checkstate"
	"github.com/tocsin/tocsin/detector"
)

// TestCheckSetFollowsAMap: after any sequence of puts, removes and resets,
// a checkSet holds what a map of the same operations holds, and its index
// points at each state; with vantages a check has one state per vantage.
func TestCheckSetFollowsAMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var set checkSet
	want := map[string]detector.Check{}
	for step := range 20_000 {
		name := fmt.Sprintf("check-%d", rng.IntN(50))
		vantage := []string{"", "eu", "us"}[rng.IntN(3)]
		field := checkstate.Field(name, vantage)
		switch op := rng.IntN(100); {
		case op < 60:
			c := detector.Check{Spec: detector.Spec{Name: name}, Streak: step}
			set.put(c, vantage)
			want[field] = c
		case op < 99:
			set.remove(field)
			delete(want, field)
		default:
			set.reset()
			clear(want)
		}
		if len(set.list) != len(want) || len(set.at) != len(want) || len(set.vantages) != len(want) {
			t.Fatalf("step %d: %d states, %d indexed, want %d", step, len(set.list), len(set.at), len(want))
		}
	}
	got := map[string]detector.Check{}
	for i, c := range set.list {
		f := checkstate.Field(c.Name, set.vantages[i])
		got[f] = *c
		if set.at[f] != i {
			t.Errorf("%s at %d, indexed at %d", f, i, set.at[f])
		}
	}
	if !maps.EqualFunc(got, want, func(a, b detector.Check) bool { return a.Name == b.Name && a.Streak == b.Streak }) {
		t.Errorf("set holds %v, want %v", got, want)
	}
}
