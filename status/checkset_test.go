package status

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/tocsin/tocsin/detector"
)

// TestCheckSetFollowsAMap: after any sequence of puts, removes and resets,
// a checkSet holds what a map of the same operations holds, and its index
// points at each state.
func TestCheckSetFollowsAMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var set checkSet
	want := map[string]detector.Check{}
	for step := range 20_000 {
		name := fmt.Sprintf("check-%d", rng.IntN(50))
		switch op := rng.IntN(100); {
		case op < 60:
			c := detector.Check{Spec: detector.Spec{Name: name}, Streak: step}
			set.put(c)
			want[name] = c
		case op < 99:
			set.remove(name)
			delete(want, name)
		default:
			set.reset()
			clear(want)
		}
		if len(set.list) != len(want) || len(set.at) != len(want) {
			t.Fatalf("step %d: %d states, %d indexed, want %d", step, len(set.list), len(set.at), len(want))
		}
	}
	got := map[string]detector.Check{}
	for i, c := range set.list {
		got[c.Name] = c
		if set.at[c.Name] != i {
			t.Errorf("%s at %d, indexed at %d", c.Name, i, set.at[c.Name])
		}
	}
	if !maps.EqualFunc(got, want, func(a, b detector.Check) bool { return a.Name == b.Name && a.Streak == b.Streak }) {
		t.Errorf("set holds %v, want %v", got, want)
	}
}
